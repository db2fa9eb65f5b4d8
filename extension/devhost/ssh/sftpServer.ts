import { constants, promises as fs } from "node:fs";
import type { Stats } from "node:fs";
import type { SFTPWrapper } from "ssh2";
import type { Logger } from "../../core/log";
import { SftpError, serveSftp } from "../../core/sftp/sftpServer";
import type {
  SftpAttrChanges,
  SftpFile,
  SftpFileSystem,
  SftpOpenFlags,
  SftpStats,
} from "../../core/sftp/sftpServer";

/**
 * A real SFTP server over the local filesystem for the embedded SSH server: every request maps
 * onto the matching fs call. Relative paths start at `home`. Runs with the dev host's own
 * permissions, like OpenSSH's internal-sftp for that user.
 */
export function serveLocalSftp(sftp: SFTPWrapper, home: string, log: Logger): void {
  serveSftp(sftp, localFileSystem, { startDirectory: home, log });
}

const localFileSystem: SftpFileSystem = {
  async open(path, flags, mode) {
    const file = await fs.open(path, openFlags(flags), mode ?? 0o666);
    return localFile(file, path);
  },
  stat: async (path) => statsOf(await fs.stat(path)),
  lstat: async (path) => statsOf(await fs.lstat(path)),
  setStat: (path, changes) => applyChanges(path, changes),
  async list(path) {
    const out: { name: string; stats: SftpStats }[] = [];
    for (const name of await fs.readdir(path)) {
      try {
        out.push({ name, stats: statsOf(await fs.lstat(`${path}/${name}`)) });
      } catch {
        // removed while listing
      }
    }
    return out;
  },
  mkdir: (path, mode) => fs.mkdir(path, { mode: mode ?? 0o777 }).then(() => undefined),
  rmdir: (path) => fs.rmdir(path),
  remove: (path) => fs.unlink(path),
  async rename(from, to) {
    const exists = await fs.lstat(to).then(
      () => true,
      () => false,
    );
    if (exists) throw new SftpError("failure", `${to} already exists`);
    await fs.rename(from, to);
  },
  realpath: (path) => fs.realpath(path),
  readlink: (path) => fs.readlink(path),
  symlink: (linkPath, target) => fs.symlink(target, linkPath),
};

function openFlags(flags: SftpOpenFlags): number {
  const access =
    flags.read && flags.write ? constants.O_RDWR : flags.write ? constants.O_WRONLY : constants.O_RDONLY;
  return (
    access |
    (flags.append ? constants.O_APPEND : 0) |
    (flags.create ? constants.O_CREAT : 0) |
    (flags.truncate ? constants.O_TRUNC : 0) |
    (flags.exclusive ? constants.O_EXCL : 0)
  );
}

function localFile(file: fs.FileHandle, path: string): SftpFile {
  return {
    async read(offset, length) {
      const data = Buffer.alloc(length);
      const { bytesRead } = await file.read(data, 0, length, offset);
      return bytesRead === 0 ? undefined : data.subarray(0, bytesRead);
    },
    async write(offset, data) {
      let written = 0;
      while (written < data.length)
        written += (await file.write(data, written, data.length - written, offset + written)).bytesWritten;
    },
    stat: async () => statsOf(await file.stat()),
    setStat: (changes) => applyChanges(path, changes),
    close: () => file.close(),
  };
}

function statsOf(st: Stats): SftpStats {
  return {
    mode: st.mode,
    uid: st.uid,
    gid: st.gid,
    size: st.size,
    atime: Math.floor(st.atimeMs / 1000),
    mtime: Math.floor(st.mtimeMs / 1000),
    nlink: st.nlink,
  };
}

async function applyChanges(path: string, changes: SftpAttrChanges): Promise<void> {
  if (changes.size !== undefined) await fs.truncate(path, changes.size);
  if (changes.mode !== undefined) await fs.chmod(path, changes.mode & 0o7777);
  if (changes.uid !== undefined && changes.gid !== undefined) await fs.chown(path, changes.uid, changes.gid);
  if (changes.atime !== undefined && changes.mtime !== undefined)
    await fs.utimes(path, changes.atime, changes.mtime);
}
