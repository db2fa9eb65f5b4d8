import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import {
  chmod,
  copyFile,
  lstat,
  mkdir,
  readdir,
  readlink,
  rename,
  rmdir,
  symlink,
  unlink,
  utimes,
} from "node:fs/promises";
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
 */
export interface HostFiles {
  /** "sftp user@host:22" or "local": for messages. */
  readonly description: string;
  /** The entry itself (symlinks not followed); undefined when nothing is there. */
  lstat(path: string): Promise<HostFileInfo | undefined>;
  /** Entries of a directory (without . and ..). */
  list(path: string): Promise<{ name: string; info: HostFileInfo }[]>;
  /** One directory level; an existing directory is fine. */
  mkdir(path: string, mode: number): Promise<void>;
  /** Copies a local file to the host with its mode and mtime. */
  upload(localPath: string, hostPath: string, attrs: { mode: number; mtime: number }): Promise<void>;
  /** Copies a host file to this machine with its mode and mtime. */
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

/** Copies a local file to `to` atomically: exclusive temp file, mode, times, rename over. */
export async function copyLocalAtomic(
  from: string,
  to: string,
  attrs: { mode: number; mtime: number },
): Promise<void> {
  const temp = tempSibling(to);
  try {
    await copyFile(from, temp, constants.COPYFILE_EXCL);
    await chmod(temp, attrs.mode & 0o7777);
    await utimes(temp, attrs.mtime, attrs.mtime);
    await rename(temp, to);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
}

/** The host is this machine (a `unix://` dev host): plain file system calls. */
export class LocalHostFiles implements HostFiles {
  readonly description = "local";

  async lstat(path: string): Promise<HostFileInfo | undefined> {
    try {
      return localInfo(await lstat(path));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
  }

  async list(path: string): Promise<{ name: string; info: HostFileInfo }[]> {
    const names = await readdir(path);
    const out: { name: string; info: HostFileInfo }[] = [];
    for (const name of names) {
      const info = await this.lstat(posix.join(path, name));
      if (info) out.push({ name, info });
    }
    return out;
  }

  async mkdir(path: string, mode: number): Promise<void> {
    try {
      await mkdir(path, { mode });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const info = await this.lstat(path);
      if (info?.kind !== "directory") throw err;
    }
  }

  upload(localPath: string, hostPath: string, attrs: { mode: number; mtime: number }): Promise<void> {
    return copyLocalAtomic(localPath, hostPath, attrs);
  }

  download(hostPath: string, localPath: string, attrs: { mode: number; mtime: number }): Promise<void> {
    return copyLocalAtomic(hostPath, localPath, attrs);
  }

  async symlink(target: string, path: string): Promise<void> {
    await symlink(target, path);
  }

  readlink(path: string): Promise<string> {
    return readlink(path);
  }

  async removeFile(path: string): Promise<void> {
    await unlink(path);
  }

  async removeDirectory(path: string): Promise<void> {
    await rmdir(path);
  }

  close(): void {}
}
