import { promises as fs } from "node:fs";
import type { Stats } from "node:fs";
import { posix } from "node:path";
import { utils } from "ssh2";
import type { Attributes, FileEntry, SFTPWrapper } from "ssh2";
import type { Logger } from "../../core/log";

const { STATUS_CODE } = utils.sftp;

type Handle =
  { kind: "file"; file: fs.FileHandle; path: string } | { kind: "dir"; path: string; sent: boolean };

/**
 * A real SFTP server over the local filesystem for the embedded SSH server: every request maps
 * onto the matching fs call, errors onto SFTP status codes. Relative paths start at `home`.
 * Runs with the dev host's own permissions, like OpenSSH's internal-sftp for that user.
 */
export function serveSftp(sftp: SFTPWrapper, home: string, log: Logger): void {
  const handles = new Map<number, Handle>();
  let nextHandle = 1;
  const resolvePath = (p: string): string => posix.resolve(home, p || ".");
  const newHandle = (h: Handle): Buffer => {
    const id = nextHandle++;
    handles.set(id, h);
    const buf = Buffer.alloc(4);
    buf.writeUInt32BE(id);
    return buf;
  };
  const lookup = (buf: Buffer): [number, Handle | undefined] => {
    const id = buf.length === 4 ? buf.readUInt32BE(0) : -1;
    return [id, handles.get(id)];
  };
  const fail = (reqid: number, err: unknown): void => {
    const code = (err as NodeJS.ErrnoException).code;
    const status =
      code === "ENOENT" || code === "ENOTDIR"
        ? STATUS_CODE.NO_SUCH_FILE
        : code === "EACCES" || code === "EPERM"
          ? STATUS_CODE.PERMISSION_DENIED
          : STATUS_CODE.FAILURE;
    sftp.status(reqid, status, err instanceof Error ? err.message : String(err));
  };
  const handle = (reqid: number, work: () => Promise<void>): void => {
    work().catch((err: unknown) => fail(reqid, err));
  };
  const ok = (reqid: number): void => {
    sftp.status(reqid, STATUS_CODE.OK);
  };

  sftp.on("OPEN", (reqid, filename, flags, attrs) =>
    handle(reqid, async () => {
      const mode = utils.sftp.flagsToString(flags);
      if (!mode) return void sftp.status(reqid, STATUS_CODE.OP_UNSUPPORTED, "unsupported open flags");
      const path = resolvePath(filename);
      const file = await fs.open(path, mode, attrs.mode ?? 0o666);
      sftp.handle(reqid, newHandle({ kind: "file", file, path }));
    }),
  );

  sftp.on("READ", (reqid, buf, offset, length) =>
    handle(reqid, async () => {
      const [, h] = lookup(buf);
      if (h?.kind !== "file") return void sftp.status(reqid, STATUS_CODE.FAILURE, "invalid handle");
      const data = Buffer.alloc(Math.min(length, 256 * 1024));
      const { bytesRead } = await h.file.read(data, 0, data.length, offset);
      if (bytesRead === 0) sftp.status(reqid, STATUS_CODE.EOF);
      else sftp.data(reqid, data.subarray(0, bytesRead));
    }),
  );

  sftp.on("WRITE", (reqid, buf, offset, data) =>
    handle(reqid, async () => {
      const [, h] = lookup(buf);
      if (h?.kind !== "file") return void sftp.status(reqid, STATUS_CODE.FAILURE, "invalid handle");
      let written = 0;
      while (written < data.length)
        written += (await h.file.write(data, written, data.length - written, offset + written)).bytesWritten;
      ok(reqid);
    }),
  );

  sftp.on("CLOSE", (reqid, buf) =>
    handle(reqid, async () => {
      const [id, h] = lookup(buf);
      if (!h) return void sftp.status(reqid, STATUS_CODE.FAILURE, "invalid handle");
      handles.delete(id);
      if (h.kind === "file") await h.file.close();
      ok(reqid);
    }),
  );

  sftp.on("FSTAT", (reqid, buf) =>
    handle(reqid, async () => {
      const [, h] = lookup(buf);
      if (!h) return void sftp.status(reqid, STATUS_CODE.FAILURE, "invalid handle");
      sftp.attrs(reqid, toAttrs(h.kind === "file" ? await h.file.stat() : await fs.stat(h.path)));
    }),
  );

  sftp.on("FSETSTAT", (reqid, buf, attrs) =>
    handle(reqid, async () => {
      const [, h] = lookup(buf);
      if (!h) return void sftp.status(reqid, STATUS_CODE.FAILURE, "invalid handle");
      await applyAttrs(h.path, attrs);
      ok(reqid);
    }),
  );

  sftp.on("STAT", (reqid, path) =>
    handle(reqid, async () => sftp.attrs(reqid, toAttrs(await fs.stat(resolvePath(path))))),
  );
  sftp.on("LSTAT", (reqid, path) =>
    handle(reqid, async () => sftp.attrs(reqid, toAttrs(await fs.lstat(resolvePath(path))))),
  );
  sftp.on("SETSTAT", (reqid, path, attrs) =>
    handle(reqid, async () => {
      await applyAttrs(resolvePath(path), attrs);
      ok(reqid);
    }),
  );

  sftp.on("OPENDIR", (reqid, path) =>
    handle(reqid, async () => {
      const full = resolvePath(path);
      if (!(await fs.stat(full)).isDirectory())
        return void sftp.status(reqid, STATUS_CODE.FAILURE, `${path} is not a directory`);
      sftp.handle(reqid, newHandle({ kind: "dir", path: full, sent: false }));
    }),
  );

  sftp.on("READDIR", (reqid, buf) =>
    handle(reqid, async () => {
      const [, h] = lookup(buf);
      if (h?.kind !== "dir") return void sftp.status(reqid, STATUS_CODE.FAILURE, "invalid handle");
      if (h.sent) return void sftp.status(reqid, STATUS_CODE.EOF);
      h.sent = true;
      const names = await fs.readdir(h.path);
      const entries: FileEntry[] = [];
      for (const name of [".", "..", ...names]) {
        try {
          const st = await fs.lstat(posix.join(h.path, name));
          entries.push({ filename: name, longname: longname(name, st), attrs: toAttrs(st) });
        } catch {
          // removed while listing
        }
      }
      sftp.name(reqid, entries);
    }),
  );

  sftp.on("MKDIR", (reqid, path, attrs) =>
    handle(reqid, async () => {
      await fs.mkdir(resolvePath(path), { mode: attrs.mode ?? 0o777 });
      ok(reqid);
    }),
  );
  sftp.on("RMDIR", (reqid, path) =>
    handle(reqid, async () => {
      await fs.rmdir(resolvePath(path));
      ok(reqid);
    }),
  );
  sftp.on("REMOVE", (reqid, path) =>
    handle(reqid, async () => {
      await fs.unlink(resolvePath(path));
      ok(reqid);
    }),
  );
  sftp.on("RENAME", (reqid, from, to) =>
    handle(reqid, async () => {
      // SFTP v3 rename must not replace an existing target (OpenSSH behaves the same).
      const target = resolvePath(to);
      const exists = await fs.lstat(target).then(
        () => true,
        () => false,
      );
      if (exists) return void sftp.status(reqid, STATUS_CODE.FAILURE, `${to} already exists`);
      await fs.rename(resolvePath(from), target);
      ok(reqid);
    }),
  );
  sftp.on("REALPATH", (reqid, path) =>
    handle(reqid, async () => {
      const full = resolvePath(path);
      const real = await fs.realpath(full).catch(() => full);
      sftp.name(reqid, [{ filename: real, longname: real, attrs: {} as Attributes }]);
    }),
  );
  sftp.on("READLINK", (reqid, path) =>
    handle(reqid, async () => {
      const target = await fs.readlink(resolvePath(path));
      sftp.name(reqid, [{ filename: target, longname: target, attrs: {} as Attributes }]);
    }),
  );
  sftp.on("SYMLINK", (reqid, linkPath, targetPath) =>
    handle(reqid, async () => {
      await fs.symlink(targetPath, resolvePath(linkPath));
      ok(reqid);
    }),
  );

  // The client's EOF ends the subsystem: close the channel, or OpenSSH's sftp waits forever.
  sftp.on("end", () => sftp.end());
  sftp.on("close", () => {
    for (const h of handles.values()) if (h.kind === "file") void h.file.close().catch(() => undefined); // session gone: release descriptors
    handles.clear();
    log.debug("ssh: sftp session closed");
  });
}

function toAttrs(st: Stats): Attributes {
  return {
    mode: st.mode,
    uid: st.uid,
    gid: st.gid,
    size: st.size,
    atime: Math.floor(st.atimeMs / 1000),
    mtime: Math.floor(st.mtimeMs / 1000),
  };
}

async function applyAttrs(path: string, attrs: Partial<Attributes>): Promise<void> {
  if (attrs.size !== undefined) await fs.truncate(path, attrs.size);
  if (attrs.mode !== undefined) await fs.chmod(path, attrs.mode & 0o7777);
  if (attrs.uid !== undefined && attrs.gid !== undefined) await fs.chown(path, attrs.uid, attrs.gid);
  if (attrs.atime !== undefined && attrs.mtime !== undefined) await fs.utimes(path, attrs.atime, attrs.mtime);
}

function longname(name: string, st: Stats): string {
  const type = st.isDirectory() ? "d" : st.isSymbolicLink() ? "l" : "-";
  const bits = "rwxrwxrwx"
    .split("")
    .map((c, i) => (st.mode & (1 << (8 - i)) ? c : "-"))
    .join("");
  const date = new Date(st.mtimeMs).toISOString().slice(0, 10);
  return `${type}${bits} ${String(st.nlink).padStart(3)} ${String(st.uid).padEnd(8)} ${String(st.gid).padEnd(8)} ${String(st.size).padStart(10)} ${date} ${name}`;
}
