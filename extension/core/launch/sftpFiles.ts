import type { SFTPWrapper, Stats } from "ssh2";
import { chmod, rename, unlink, utimes } from "node:fs/promises";
import type { SshConnection } from "../ssh/connection";
import { SshError } from "../ssh/errors";
import type { FileKind, HostFileInfo, HostFiles } from "./hostFiles";
import { tempSibling } from "./hostFiles";

// SFTP status codes (draft-ietf-secsh-filexfer-02).
const noSuchFile = 2;

function infoOf(stats: Stats): HostFileInfo {
  const kind: FileKind = stats.isSymbolicLink() ? "symlink" : stats.isDirectory() ? "directory" : stats.isFile() ? "file" : "other";
  return { kind, size: stats.size, mtime: stats.mtime, mode: stats.mode & 0o7777 };
}

function call<T>(start: (cb: (err: Error | undefined | null, value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => start((err, value) => (err ? reject(err) : resolve(value))));
}

function isMissing(err: unknown): boolean {
  return (err as { code?: unknown }).code === noSuchFile;
}

/** The host's files over the SSH connection's SFTP subsystem. */
export class SftpHostFiles implements HostFiles {
  readonly description: string;
  readonly #sftp: SFTPWrapper;
  readonly #key: string;
  #gone = false;

  private constructor(sftp: SFTPWrapper, key: string) {
    this.#sftp = sftp;
    this.#key = key;
    this.description = `sftp ${key}`;
    // After the channel (or the whole connection) closes, every failure is the connection's, not the file's.
    sftp.on("close", () => (this.#gone = true));
    sftp.on("error", () => (this.#gone = true));
  }

  static async open(ssh: SshConnection): Promise<SftpHostFiles> {
    return new SftpHostFiles(await ssh.sftp(), ssh.key);
  }

  async lstat(path: string): Promise<HostFileInfo | undefined> {
    try {
      return infoOf(await call<Stats>((cb) => this.#sftp.lstat(path, cb)));
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw this.#describe(err, "lstat", path);
    }
  }

  async list(path: string): Promise<{ name: string; info: HostFileInfo }[]> {
    try {
      const entries = await call<{ filename: string; attrs: Stats }[]>((cb) => this.#sftp.readdir(path, cb));
      return entries.filter((e) => e.filename !== "." && e.filename !== "..").map((e) => ({ name: e.filename, info: infoOf(e.attrs) }));
    } catch (err) {
      throw this.#describe(err, "list", path);
    }
  }

  async mkdir(path: string, mode: number): Promise<void> {
    try {
      await call<void>((cb) => this.#sftp.mkdir(path, { mode }, cb));
    } catch (err) {
      // SFTP v3 has no EEXIST: ask what is there.
      const info = await this.lstat(path);
      if (info?.kind !== "directory") throw this.#describe(err, "mkdir", path);
    }
  }

  async upload(localPath: string, hostPath: string, attrs: { mode: number; mtime: number }): Promise<void> {
    const temp = tempSibling(hostPath);
    try {
      await call<void>((cb) => this.#sftp.fastPut(localPath, temp, { mode: attrs.mode & 0o7777, concurrency: 8 }, cb));
      await call<void>((cb) => this.#sftp.utimes(temp, attrs.mtime, attrs.mtime, cb));
      await this.#renameOver(temp, hostPath);
    } catch (err) {
      await call<void>((cb) => this.#sftp.unlink(temp, cb)).catch(() => undefined);
      throw this.#describe(err, "upload", hostPath);
    }
  }

  async download(hostPath: string, localPath: string, attrs: { mode: number; mtime: number }): Promise<void> {
    const temp = tempSibling(localPath);
    try {
      await call<void>((cb) => this.#sftp.fastGet(hostPath, temp, { mode: attrs.mode & 0o7777, concurrency: 8 }, cb));
      await chmod(temp, attrs.mode & 0o7777);
      await utimes(temp, attrs.mtime, attrs.mtime);
      await rename(temp, localPath);
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      throw this.#describe(err, "download", hostPath);
    }
  }

  async symlink(target: string, path: string): Promise<void> {
    try {
      await call<void>((cb) => this.#sftp.symlink(target, path, cb));
    } catch (err) {
      throw this.#describe(err, "symlink", path);
    }
  }

  async readlink(path: string): Promise<string> {
    try {
      return await call<string>((cb) => this.#sftp.readlink(path, cb));
    } catch (err) {
      throw this.#describe(err, "readlink", path);
    }
  }

  async removeFile(path: string): Promise<void> {
    try {
      await call<void>((cb) => this.#sftp.unlink(path, cb));
    } catch (err) {
      throw this.#describe(err, "remove", path);
    }
  }

  async removeDirectory(path: string): Promise<void> {
    try {
      await call<void>((cb) => this.#sftp.rmdir(path, cb));
    } catch (err) {
      throw this.#describe(err, "rmdir", path);
    }
  }

  close(): void {
    this.#sftp.end();
  }

  #describe(err: unknown, op: string, path: string): Error {
    if (this.#gone) return new SshError("lost", `ssh ${this.#key}: the connection was lost while copying files (${op} ${path}).`, { host: this.#key }, { cause: err });
    return describe(err, op, path);
  }

  /** Replaces `to` in one step (posix-rename@openssh.com); plain SFTP rename refuses an existing target. */
  async #renameOver(from: string, to: string): Promise<void> {
    try {
      await call<void>((cb) => this.#sftp.ext_openssh_rename(from, to, cb));
    } catch (err) {
      // ssh2 says "Server does not support this extended request" when the server (say, the dev host's own SFTP) did not offer it.
      if (!/not supported|unsupported|does not support/i.test((err as Error).message)) throw err;
      await call<void>((cb) => this.#sftp.unlink(to, cb)).catch(() => undefined);
      await call<void>((cb) => this.#sftp.rename(from, to, cb));
    }
  }
}

/** Adds the operation and path to an SFTP error ("Permission denied" alone says too little). */
function describe(err: unknown, op: string, path: string): Error {
  const message = err instanceof Error ? err.message : String(err);
  const wrapped = new Error(`${op} ${path}: ${message}`, { cause: err });
  (wrapped as { code?: unknown }).code = (err as { code?: unknown }).code;
  return wrapped;
}
