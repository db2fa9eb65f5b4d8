import { randomBytes } from "node:crypto";
import { constants, existsSync } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { lstat, mkdir, open, readdir, readlink, rename, rmdir, symlink, unlink } from "node:fs/promises";
import { posix } from "node:path";

/** What kind of directory entry. Anything but files, directories and symlinks is left alone. */
export type FileKind = "file" | "directory" | "symlink" | "other";

/** The facts the sync compares: SFTP v3 carries whole seconds, so times are seconds. */
export interface HostFileInfo {
  readonly kind: FileKind;
  readonly size: number;
  /** Modification time in whole seconds since the epoch. */
  readonly mtime: number;
  /** Permission bits (0o7777). */
  readonly mode: number;
}

/**
 * The host's file system as the workspace sync needs it. Two implementations: SFTP over the
 * host's SSH connection, and this machine's file system for a `unix://` target. Paths are
 * absolute POSIX paths on the host and never pass through a shell. Writes are atomic (a temp
 * file renamed into place), so a half-copied file is never seen and a symlink planted at the
 * destination is replaced, not followed.
 *
 * A workspace copy is writable by its zone, which can swap any directory in it for a symlink
 * at any moment. {@link HostFiles.beneath} gives a view for such a tree: below its root no
 * symlink is ever followed, in any component of a path (the root itself, chosen by us, is).
 */
export interface HostFiles {
  /** "sftp user@host:22" or "local": for messages. */
  readonly description: string;
  /**
   * The same files, where paths below `root` are resolved without following a symlink in any
   * component: a link where a directory was expected fails the call (code ELOOP) instead. Paths
   * outside `root` behave as before. On a view that already covers `root`, the view itself.
   */
  beneath(root: string): HostFiles;
  /** The entry itself (symlinks not followed); undefined when nothing is there. */
  lstat(path: string): Promise<HostFileInfo | undefined>;
  /** Entries of a directory (without . and ..). */
  list(path: string): Promise<{ name: string; info: HostFileInfo }[]>;
  /** One directory level; an existing directory is fine. */
  mkdir(path: string, mode: number): Promise<void>;
  /** Copies a local file to the host with its mode and mtime. */
  upload(localPath: string, hostPath: string, attrs: { mode: number; mtime: number }): Promise<void>;
  /** Copies a host file (a regular file only) to this machine with its mode and mtime. */
  download(hostPath: string, localPath: string, attrs: { mode: number; mtime: number }): Promise<void>;
  symlink(target: string, path: string): Promise<void>;
  readlink(path: string): Promise<string>;
  /** Removes a file or a symlink (never what it points to). */
  removeFile(path: string): Promise<void>;
  /** Removes an empty directory. */
  removeDirectory(path: string): Promise<void>;
  /** Releases the session (SFTP channel). */
  close(): void;
}

/** A hidden, unguessable sibling name for atomic writes. */
export function tempSibling(path: string): string {
  return posix.join(posix.dirname(path), `.${posix.basename(path)}.zsync-${randomBytes(6).toString("hex")}`);
}

/** The components of `path` below `root` ("a/b" → ["a", "b"]), or undefined when `path` is not below it. */
export function componentsBelow(root: string, path: string): string[] | undefined {
  const rel = posix.relative(posix.normalize(root), posix.normalize(path));
  if (rel === "" || rel === ".." || rel.startsWith("../") || posix.isAbsolute(rel)) return undefined;
  return rel.split("/");
}

/** The error of a call that met a symlink (or a non-directory) where it needed a directory below its root. */
export function linkInPath(path: string, at: string): Error {
  const err = new Error(
    `${path}: ${at} on the host is a symbolic link or not a directory (changed during the sync?); not followed`,
  );
  (err as NodeJS.ErrnoException).code = "ELOOP";
  return err;
}

/** Kind and times of a local lstat. */
export function localInfo(stats: {
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
  size: number;
  mtimeMs: number;
  mode: number;
}): HostFileInfo {
  const kind: FileKind = stats.isSymbolicLink()
    ? "symlink"
    : stats.isDirectory()
      ? "directory"
      : stats.isFile()
        ? "file"
        : "other";
  return { kind, size: stats.size, mtime: Math.floor(stats.mtimeMs / 1000), mode: stats.mode & 0o7777 };
}

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_DIRECTORY } = constants;

/**
 * Writes `source`'s bytes to a new temp file in directory `dir` (a path that may go through
 * /proc/self/fd), sets mode and times on the open handle — never by name, which the zone could
 * have swapped for a link meanwhile — and renames it to `name` in the same directory.
 */
async function writeAtomic(
  source: FileHandle,
  dir: string,
  name: string,
  attrs: { mode: number; mtime: number },
): Promise<void> {
  const temp = posix.basename(tempSibling(posix.join(dir, name)));
  const out = await open(posix.join(dir, temp), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
  try {
    const buffer = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const { bytesRead } = await source.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      for (let done = 0; done < bytesRead;)
        done += (await out.write(buffer, done, bytesRead - done)).bytesWritten;
    }
    await out.chmod(attrs.mode & 0o7777);
    await out.utimes(attrs.mtime, attrs.mtime);
    await out.close();
    await rename(posix.join(dir, temp), posix.join(dir, name));
  } catch (err) {
    await out.close().catch(() => undefined);
    await unlink(posix.join(dir, temp)).catch(() => undefined);
    throw err;
  }
}

/** Opens a file for reading only if it is a regular file itself (no link, no FIFO that would block). */
async function openRegular(path: string, what: string): Promise<FileHandle> {
  const handle = await open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  if (!(await handle.stat()).isFile()) {
    await handle.close();
    throw new Error(`${what} is not a regular file`);
  }
  return handle;
}

/** Whether this kernel offers /proc/self/fd, through which a path can start at an open directory. */
let procFd: boolean | undefined;
function hasProcFd(): boolean {
  procFd ??= existsSync("/proc/self/fd");
  return procFd;
}

/** A directory to act in: `path` is its name for *at-style calls, valid until `release`. */
interface PinnedDirectory {
  readonly path: string;
  release(): Promise<void>;
}

/**
 * The host is this machine (a `unix://` dev host): plain file system calls. Below a root given
 * to {@link beneath}, every path is walked one component at a time from an open handle of the
 * root, each directory opened with O_NOFOLLOW and the next one named through
 * /proc/self/fd/<handle>/: the openat(2) walk Node lacks, so no symlink below the root is ever
 * followed, however the zone changes the tree meanwhile. Without /proc (not Linux), each
 * component is checked with lstat just before use instead, which narrows the race but cannot
 * close it.
 */
export class LocalHostFiles implements HostFiles {
  readonly description = "local";
  readonly #root: string | undefined;

  constructor(root?: string) {
    this.#root = root === undefined ? undefined : posix.normalize(root);
  }

  beneath(root: string): HostFiles {
    if (
      this.#root !== undefined &&
      (this.#root === posix.normalize(root) || componentsBelow(this.#root, root))
    )
      return this;
    return new LocalHostFiles(root);
  }

  async lstat(path: string): Promise<HostFileInfo | undefined> {
    try {
      return await this.#inParent(path, async (dir, name) => localInfo(await lstat(posix.join(dir, name))));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
  }

  async list(path: string): Promise<{ name: string; info: HostFileInfo }[]> {
    const dir = await this.#pin(path);
    try {
      const out: { name: string; info: HostFileInfo }[] = [];
      for (const name of await readdir(dir.path)) {
        try {
          out.push({ name, info: localInfo(await lstat(posix.join(dir.path, name))) });
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err; // gone while we looked
        }
      }
      return out;
    } finally {
      await dir.release();
    }
  }

  async mkdir(path: string, mode: number): Promise<void> {
    await this.#inParent(path, async (dir, name) => {
      try {
        await mkdir(posix.join(dir, name), { mode });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
        if (!(await lstat(posix.join(dir, name))).isDirectory()) throw err;
      }
    });
  }

  async upload(localPath: string, hostPath: string, attrs: { mode: number; mtime: number }): Promise<void> {
    const source = await openRegular(localPath, localPath);
    try {
      await this.#inParent(hostPath, (dir, name) => writeAtomic(source, dir, name, attrs));
    } finally {
      await source.close();
    }
  }

  async download(hostPath: string, localPath: string, attrs: { mode: number; mtime: number }): Promise<void> {
    const source = await this.#inParent(hostPath, (dir, name) =>
      openRegular(posix.join(dir, name), hostPath),
    );
    try {
      await writeAtomic(source, posix.dirname(localPath), posix.basename(localPath), attrs);
    } finally {
      await source.close();
    }
  }

  async symlink(target: string, path: string): Promise<void> {
    await this.#inParent(path, (dir, name) => symlink(target, posix.join(dir, name)));
  }

  readlink(path: string): Promise<string> {
    return this.#inParent(path, (dir, name) => readlink(posix.join(dir, name)));
  }

  async removeFile(path: string): Promise<void> {
    await this.#inParent(path, (dir, name) => unlink(posix.join(dir, name)));
  }

  async removeDirectory(path: string): Promise<void> {
    await this.#inParent(path, (dir, name) => rmdir(posix.join(dir, name)));
  }

  close(): void {}

  /** Runs `act` on `path`'s last component inside its pinned parent directory. */
  async #inParent<T>(path: string, act: (dir: string, name: string) => Promise<T>): Promise<T> {
    const normal = posix.normalize(path);
    const dir = await this.#pin(posix.dirname(normal));
    try {
      return await act(dir.path, posix.basename(normal));
    } finally {
      await dir.release();
    }
  }

  /** The directory `path`, reached without following a symlink below the root (the root itself is trusted). */
  async #pin(path: string): Promise<PinnedDirectory> {
    const plain = { path, release: async () => undefined };
    if (this.#root === undefined) return plain;
    const parts = componentsBelow(this.#root, path);
    if (!parts) return plain;
    if (!hasProcFd()) {
      for (let i = 1; i <= parts.length; i++) {
        const at = posix.join(this.#root, ...parts.slice(0, i));
        if (!(await lstat(at)).isDirectory()) throw linkInPath(path, at);
      }
      return plain;
    }
    let handle = await open(this.#root, O_RDONLY | O_DIRECTORY);
    try {
      for (let i = 0; i < parts.length; i++) {
        let next: FileHandle;
        try {
          next = await open(`/proc/self/fd/${handle.fd}/${parts[i]}`, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === "ELOOP" || code === "ENOTDIR")
            throw linkInPath(path, posix.join(this.#root, ...parts.slice(0, i + 1)));
          throw err;
        }
        await handle.close();
        handle = next;
      }
    } catch (err) {
      await handle.close();
      throw err;
    }
    const pinned = handle;
    return { path: `/proc/self/fd/${pinned.fd}`, release: () => pinned.close() };
  }
}
