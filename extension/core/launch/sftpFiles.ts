import type { SFTPWrapper, Stats } from "ssh2";
import { chmod, rename, unlink, utimes } from "node:fs/promises";
import { posix } from "node:path";
import type { SshConnection } from "../ssh/connection";
import { SshError } from "../ssh/errors";
import type { SftpCallback } from "../ssh/sftpSession";
import type { FileKind, HostFileInfo, HostFiles } from "./hostFiles";
import { componentsBelow, linkInPath, tempSibling } from "./hostFiles";

// SFTP status codes (draft-ietf-secsh-filexfer-02).
const noSuchFile = 2;

function infoOf(stats: Stats): HostFileInfo {
  const kind: FileKind = stats.isSymbolicLink()
    ? "symlink"
    : stats.isDirectory()
      ? "directory"
      : stats.isFile()
        ? "file"
        : "other";
  return { kind, size: stats.size, mtime: stats.mtime, mode: stats.mode & 0o7777 };
}

function isMissing(err: unknown): boolean {
  return (err as { code?: unknown }).code === noSuchFile;
}

/**
 * The host's files over the SSH connection's shared SFTP session. Every call settles: when the
 * session or the connection ends, pending and later calls reject with SshError `lost` (ssh2
 * alone would leave them waiting for ever).
 *
 * Below a root given to {@link beneath}, each call first checks with lstat that every component
 * between the root and the entry is a directory (and, for a download, that the entry is a
 * regular file). SFTP v3 has no openat, no O_NOFOLLOW and no inode numbers, and the server
 * resolves each path anew, so this narrows the window in which the zone could swap a directory
 * for a link to the moment between the check and the call — it cannot close it the way the
 * local implementation does.
 */
export class SftpHostFiles implements HostFiles {
  readonly description: string;
  readonly #ssh: SshConnection;
  readonly #root: string | undefined;

  private constructor(ssh: SshConnection, root?: string) {
    this.#ssh = ssh;
    this.#root = root === undefined ? undefined : posix.normalize(root);
    this.description = `sftp ${ssh.key}`;
  }

  beneath(root: string): HostFiles {
    if (
      this.#root !== undefined &&
      (this.#root === posix.normalize(root) || componentsBelow(this.#root, root))
    )
      return this;
    return new SftpHostFiles(this.#ssh, root);
  }

  /** Opens (or joins) the connection's SFTP session now, so a refusal surfaces here. */
  static async open(ssh: SshConnection): Promise<SftpHostFiles> {
    await ssh.sftpSession();
    return new SftpHostFiles(ssh);
  }

  async lstat(path: string): Promise<HostFileInfo | undefined> {
    try {
      await this.#checkPath(path, "parent");
      return infoOf(await this.#call<Stats>(`lstat ${path}`, (sftp, cb) => sftp.lstat(path, cb)));
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw describe(err, "lstat", path);
    }
  }

  async list(path: string): Promise<{ name: string; info: HostFileInfo }[]> {
    try {
      await this.#checkPath(path, "directory");
      const entries = await this.#call<{ filename: string; attrs: Stats }[]>(`list ${path}`, (sftp, cb) =>
        sftp.readdir(path, cb),
      );
      return entries
        .filter((e) => e.filename !== "." && e.filename !== "..")
        .map((e) => ({ name: e.filename, info: infoOf(e.attrs) }));
    } catch (err) {
      throw describe(err, "list", path);
    }
  }

  async mkdir(path: string, mode: number): Promise<void> {
    await this.#checkPath(path, "parent");
    try {
      await this.#call<void>(`mkdir ${path}`, (sftp, cb) => sftp.mkdir(path, { mode }, cb));
    } catch (err) {
      if (SshError.is(err)) throw err;
      // SFTP v3 has no EEXIST: ask what is there.
      const info = await this.lstat(path);
      if (info?.kind !== "directory") throw describe(err, "mkdir", path);
    }
  }

  async upload(localPath: string, hostPath: string, attrs: { mode: number; mtime: number }): Promise<void> {
    const temp = tempSibling(hostPath);
    await this.#checkPath(hostPath, "parent");
    try {
      await this.#call<void>(`upload ${hostPath}`, (sftp, cb) =>
        sftp.fastPut(localPath, temp, { mode: attrs.mode & 0o7777, concurrency: 8 }, cb),
      );
      await this.#call<void>(`utimes ${temp}`, (sftp, cb) => sftp.utimes(temp, attrs.mtime, attrs.mtime, cb));
      await this.#renameOver(temp, hostPath);
    } catch (err) {
      await this.#call<void>(`unlink ${temp}`, (sftp, cb) => sftp.unlink(temp, cb)).catch(() => undefined);
      throw describe(err, "upload", hostPath);
    }
  }

  async download(hostPath: string, localPath: string, attrs: { mode: number; mtime: number }): Promise<void> {
    const temp = tempSibling(localPath);
    await this.#checkPath(hostPath, "file");
    try {
      await this.#call<void>(`download ${hostPath}`, (sftp, cb) =>
        sftp.fastGet(hostPath, temp, { mode: attrs.mode & 0o7777, concurrency: 8 }, cb),
      );
      await chmod(temp, attrs.mode & 0o7777);
      await utimes(temp, attrs.mtime, attrs.mtime);
      await rename(temp, localPath);
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      throw describe(err, "download", hostPath);
    }
  }

  async symlink(target: string, path: string): Promise<void> {
    await this.#checkPath(path, "parent");
    try {
      await this.#call<void>(`symlink ${path}`, (sftp, cb) => sftp.symlink(target, path, cb));
    } catch (err) {
      throw describe(err, "symlink", path);
    }
  }

  async readlink(path: string): Promise<string> {
    await this.#checkPath(path, "parent");
    try {
      return await this.#call<string>(`readlink ${path}`, (sftp, cb) => sftp.readlink(path, cb));
    } catch (err) {
      throw describe(err, "readlink", path);
    }
  }

  async removeFile(path: string): Promise<void> {
    await this.#checkPath(path, "parent");
    try {
      await this.#call<void>(`remove ${path}`, (sftp, cb) => sftp.unlink(path, cb));
    } catch (err) {
      throw describe(err, "remove", path);
    }
  }

  async removeDirectory(path: string): Promise<void> {
    await this.#checkPath(path, "parent");
    try {
      await this.#call<void>(`rmdir ${path}`, (sftp, cb) => sftp.rmdir(path, cb));
    } catch (err) {
      throw describe(err, "rmdir", path);
    }
  }

  /**
   * Below the root: every directory on the way to `path` is a directory, not a link, right now;
   * "directory"/"file" also require that of `path` itself (the call would follow it).
   */
  async #checkPath(path: string, self: "parent" | "directory" | "file"): Promise<void> {
    if (this.#root === undefined) return;
    const parts = componentsBelow(this.#root, path);
    if (!parts) return;
    const upTo = self === "parent" ? parts.length - 1 : parts.length;
    for (let i = 1; i <= upTo; i++) {
      const at = posix.join(this.#root, ...parts.slice(0, i));
      let stats: Stats;
      try {
        stats = await this.#call<Stats>(`lstat ${at}`, (sftp, cb) => sftp.lstat(at, cb));
      } catch (err) {
        throw describe(err, "lstat", at);
      }
      const wanted = i === parts.length && self === "file" ? stats.isFile() : stats.isDirectory();
      if (!wanted) throw i === parts.length && self === "file" ? notRegular(path) : linkInPath(path, at);
    }
  }

  /** The session is the connection's, shared with other users: it stays open (it closes with the connection). */
  close(): void {}

  /** One request on the connection's current session (a new one if the last ended while the connection lives). */
  async #call<T>(what: string, start: (sftp: SFTPWrapper, cb: SftpCallback<T>) => void): Promise<T> {
    const session = await this.#ssh.sftpSession();
    return session.request(what, start);
  }

  /** Replaces `to` in one step (posix-rename@openssh.com); plain SFTP rename refuses an existing target. */
  async #renameOver(from: string, to: string): Promise<void> {
    try {
      await this.#call<void>(`rename ${from}`, (sftp, cb) => sftp.ext_openssh_rename(from, to, cb));
    } catch (err) {
      // ssh2 says "Server does not support this extended request" when the server (say, the dev host's own SFTP) did not offer it.
      if (SshError.is(err) || !/not supported|unsupported|does not support/i.test((err as Error).message))
        throw err;
      await this.#call<void>(`unlink ${to}`, (sftp, cb) => sftp.unlink(to, cb)).catch(() => undefined);
      await this.#call<void>(`rename ${from}`, (sftp, cb) => sftp.rename(from, to, cb));
    }
  }
}

function notRegular(path: string): Error {
  return new Error(`download ${path}: not a regular file on the host (changed during the sync?)`);
}

/** Adds the operation and path to an SFTP error ("Permission denied" alone says too little); a lost session stays SshError `lost`. */
function describe(err: unknown, op: string, path: string): Error {
  if (SshError.is(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  const wrapped = new Error(`${op} ${path}: ${message}`, { cause: err });
  (wrapped as { code?: unknown }).code = (err as { code?: unknown }).code;
  return wrapped;
}
