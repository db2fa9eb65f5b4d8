import { posix } from "node:path";
import { utils } from "ssh2";
import type { Attributes, FileEntry, SFTPWrapper } from "ssh2";
import { ReasonedError } from "../errors";
import type { Logger } from "../log";

const { STATUS_CODE, OPEN_MODE } = utils.sftp;

/** Why a file operation failed, as SFTP v3 can say it. */
export type SftpErrorReason = "noSuchFile" | "permissionDenied" | "failure" | "unsupported";

/** A failed file operation; the message goes to the client with the status. */
export class SftpError extends ReasonedError<SftpErrorReason> {
  override readonly name = "SftpError";
}

/** What SFTP v3 says about a file. Times are whole seconds. */
export interface SftpStats {
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly atime: number;
  readonly mtime: number;
  /** Hard links, for `ls -l` style listings only. */
  readonly nlink?: number;
}

/** Changes a SETSTAT/FSETSTAT asks for (only the fields the client sent). */
export type SftpAttrChanges = Partial<Pick<Attributes, "size" | "mode" | "uid" | "gid" | "atime" | "mtime">>;

/** How a file is opened (SFTP v3's pflags, decoded). */
export interface SftpOpenFlags {
  readonly read: boolean;
  readonly write: boolean;
  readonly append: boolean;
  readonly create: boolean;
  readonly truncate: boolean;
  readonly exclusive: boolean;
}

/** An open file. The server never calls two operations on one file at the same time. */
export interface SftpFile {
  /** Up to `length` bytes at `offset`; undefined at end of file. */
  read(offset: number, length: number): Promise<Buffer | undefined>;
  write(offset: number, data: Buffer): Promise<void>;
  stat(): Promise<SftpStats>;
  setStat(changes: SftpAttrChanges): Promise<void>;
  /** Releases the file; a write that failed late fails here. */
  close(): Promise<void>;
}

/**
 * The file system an SFTP session works on. Every path it receives is absolute and normalized
 * (relative ones were resolved against the session's start directory). Failures should be
 * {@link SftpError}s, or Node errors with an errno `code` (ENOENT, EACCES…).
 */
export interface SftpFileSystem {
  open(path: string, flags: SftpOpenFlags, mode: number | undefined): Promise<SftpFile>;
  stat(path: string): Promise<SftpStats>;
  lstat(path: string): Promise<SftpStats>;
  setStat(path: string, changes: SftpAttrChanges): Promise<void>;
  /** The entries of a directory, without `.` and `..` (lstat'ed: symlinks not followed). */
  list(path: string): Promise<{ name: string; stats: SftpStats }[]>;
  mkdir(path: string, mode: number | undefined): Promise<void>;
  rmdir(path: string): Promise<void>;
  /** Removes a file or a symlink. */
  remove(path: string): Promise<void>;
  /** Renames; must fail when `to` exists (SFTP v3, as OpenSSH's server does). */
  rename(from: string, to: string): Promise<void>;
  /** The canonical path (symlinks resolved); may reject for a path that does not exist. */
  realpath(path: string): Promise<string>;
  readlink(path: string): Promise<string>;
  symlink(linkPath: string, target: string): Promise<void>;
  /** The session ended: release whatever is still open. */
  dispose?(): void;
}

type Handle =
  | { kind: "file"; file: SftpFile; busy: Promise<unknown> }
  | { kind: "dir"; path: string; stats: SftpStats; pending: FileEntry[] | undefined };

/** Entries per NAME reply: a huge directory in one packet would exceed what clients accept. */
const entriesPerReply = 128;

/**
 * Serves one SFTP session (ssh2's SFTPWrapper) on a {@link SftpFileSystem}: handles, path
 * resolution against `startDirectory`, directory paging, `ls -l` long names, and the mapping of
 * failures onto SFTP status codes. The dev host's embedded server runs it on the local file
 * system; the zone gateway runs it on plain shell commands inside a workload.
 */
export function serveSftp(
  sftp: SFTPWrapper,
  fs: SftpFileSystem,
  options: { startDirectory: string; log: Logger },
): void {
  const { log } = options;
  const handles = new Map<number, Handle>();
  let nextHandle = 1;
  const resolvePath = (p: string): string => posix.resolve(options.startDirectory, p || ".");
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
    const [status, message] = statusOf(err);
    log.debug(`sftp: request ${reqid} failed: ${message}`);
    sftp.status(reqid, status, message);
  };
  const handle = (reqid: number, work: () => Promise<void>): void => {
    work().catch((err: unknown) => fail(reqid, err));
  };
  const ok = (reqid: number): void => {
    sftp.status(reqid, STATUS_CODE.OK);
  };
  const invalid = (reqid: number): void => {
    sftp.status(reqid, STATUS_CODE.FAILURE, "invalid handle");
  };
  // Operations on one file run one after another: clients pipeline many reads and writes.
  const onFile = (reqid: number, buf: Buffer, work: (file: SftpFile) => Promise<void>): void => {
    const [, h] = lookup(buf);
    if (h?.kind !== "file") return invalid(reqid);
    const run = h.busy.then(() => work(h.file));
    h.busy = run.catch(() => undefined);
    run.catch((err: unknown) => fail(reqid, err));
  };

  sftp.on("OPEN", (reqid, filename, flags, attrs) =>
    handle(reqid, async () => {
      const decoded = decodeFlags(flags);
      if (!decoded.read && !decoded.write)
        return void sftp.status(reqid, STATUS_CODE.OP_UNSUPPORTED, "open without read or write");
      const file = await fs.open(resolvePath(filename), decoded, attrs.mode);
      sftp.handle(reqid, newHandle({ kind: "file", file, busy: Promise.resolve() }));
    }),
  );
  sftp.on("READ", (reqid, buf, offset, length) =>
    onFile(reqid, buf, async (file) => {
      const data = await file.read(offset, Math.min(length, 256 * 1024));
      if (!data?.length) sftp.status(reqid, STATUS_CODE.EOF);
      else sftp.data(reqid, data);
    }),
  );
  sftp.on("WRITE", (reqid, buf, offset, data) =>
    onFile(reqid, buf, async (file) => {
      await file.write(offset, data);
      ok(reqid);
    }),
  );
  sftp.on("FSTAT", (reqid, buf) => {
    const [, h] = lookup(buf);
    if (h?.kind === "dir")
      return handle(reqid, async () => sftp.attrs(reqid, toAttrs(await fs.stat(h.path))));
    onFile(reqid, buf, async (file) => sftp.attrs(reqid, toAttrs(await file.stat())));
  });
  sftp.on("FSETSTAT", (reqid, buf, attrs) => {
    const [, h] = lookup(buf);
    if (h?.kind === "dir")
      return handle(reqid, async () => {
        await fs.setStat(h.path, changesOf(attrs));
        ok(reqid);
      });
    onFile(reqid, buf, async (file) => {
      await file.setStat(changesOf(attrs));
      ok(reqid);
    });
  });
  sftp.on("CLOSE", (reqid, buf) => {
    const [id, h] = lookup(buf);
    if (!h) return invalid(reqid);
    handles.delete(id);
    if (h.kind === "dir") return ok(reqid);
    handle(reqid, async () => {
      await h.busy;
      await h.file.close();
      ok(reqid);
    });
  });

  sftp.on("STAT", (reqid, path) =>
    handle(reqid, async () => sftp.attrs(reqid, toAttrs(await fs.stat(resolvePath(path))))),
  );
  sftp.on("LSTAT", (reqid, path) =>
    handle(reqid, async () => sftp.attrs(reqid, toAttrs(await fs.lstat(resolvePath(path))))),
  );
  sftp.on("SETSTAT", (reqid, path, attrs) =>
    handle(reqid, async () => {
      await fs.setStat(resolvePath(path), changesOf(attrs));
      ok(reqid);
    }),
  );

  sftp.on("OPENDIR", (reqid, path) =>
    handle(reqid, async () => {
      const full = resolvePath(path);
      const stats = await fs.stat(full);
      if (!isDirectory(stats.mode)) throw new SftpError("failure", `${path} is not a directory`);
      sftp.handle(reqid, newHandle({ kind: "dir", path: full, stats, pending: undefined }));
    }),
  );
  sftp.on("READDIR", (reqid, buf) =>
    handle(reqid, async () => {
      const [, h] = lookup(buf);
      if (h?.kind !== "dir") return invalid(reqid);
      if (!h.pending) {
        // "." from OPENDIR's own stat; ".." is left out (clients skip both anyway).
        const entries = [{ name: ".", stats: h.stats }, ...(await fs.list(h.path))];
        h.pending = entries.map(({ name, stats }) => ({
          filename: name,
          longname: longname(name, stats),
          attrs: toAttrs(stats),
        }));
      }
      if (!h.pending.length) return void sftp.status(reqid, STATUS_CODE.EOF);
      sftp.name(reqid, h.pending.splice(0, entriesPerReply));
    }),
  );

  sftp.on("MKDIR", (reqid, path, attrs) =>
    handle(reqid, async () => {
      await fs.mkdir(resolvePath(path), attrs.mode);
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
      await fs.remove(resolvePath(path));
      ok(reqid);
    }),
  );
  sftp.on("RENAME", (reqid, from, to) =>
    handle(reqid, async () => {
      await fs.rename(resolvePath(from), resolvePath(to));
      ok(reqid);
    }),
  );
  sftp.on("REALPATH", (reqid, path) =>
    handle(reqid, async () => {
      const full = resolvePath(path);
      // A path that does not exist yet (the target of an upload) is still a fine answer.
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
  // ssh2 already swaps OpenSSH's reversed argument order: this is (link, target).
  sftp.on("SYMLINK", (reqid, linkPath, targetPath) =>
    handle(reqid, async () => {
      await fs.symlink(resolvePath(linkPath), targetPath);
      ok(reqid);
    }),
  );

  // The client's EOF ends the subsystem: close the channel, or OpenSSH's sftp waits forever.
  sftp.on("end", () => endSubsystem(sftp));
  sftp.on("close", () => {
    for (const h of handles.values()) if (h.kind === "file") void h.file.close().catch(() => undefined); // session gone: release what is open
    handles.clear();
    fs.dispose?.();
    log.debug("sftp: session closed");
  });
}

/**
 * Ends an SFTP subsystem as sshd does when sftp-server exits: exit-status 0, then close.
 * ssh2's SFTP object closes without a status, and OpenSSH's ssh then exits 255, which scp
 * reports as a failed copy. ssh2 offers no call for it on SFTP objects: its protocol does.
 */
function endSubsystem(sftp: SFTPWrapper): void {
  const channel = sftp as unknown as {
    _protocol?: { exitStatus?(id: number, status: number): void };
    outgoing?: { id: number; state: string };
  };
  if (channel.outgoing?.state === "open") channel._protocol?.exitStatus?.(channel.outgoing.id, 0);
  sftp.end();
}

function decodeFlags(flags: number): SftpOpenFlags {
  return {
    read: (flags & OPEN_MODE.READ) !== 0,
    write: (flags & OPEN_MODE.WRITE) !== 0,
    append: (flags & OPEN_MODE.APPEND) !== 0,
    create: (flags & OPEN_MODE.CREAT) !== 0,
    truncate: (flags & OPEN_MODE.TRUNC) !== 0,
    exclusive: (flags & OPEN_MODE.EXCL) !== 0,
  };
}

/** The SFTP status and message for a failure. */
function statusOf(err: unknown): [number, string] {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof SftpError) {
    const status = {
      noSuchFile: STATUS_CODE.NO_SUCH_FILE,
      permissionDenied: STATUS_CODE.PERMISSION_DENIED,
      failure: STATUS_CODE.FAILURE,
      unsupported: STATUS_CODE.OP_UNSUPPORTED,
    }[err.reason];
    return [status, message];
  }
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === "ENOENT" || code === "ENOTDIR") return [STATUS_CODE.NO_SUCH_FILE, message];
  if (code === "EACCES" || code === "EPERM") return [STATUS_CODE.PERMISSION_DENIED, message];
  return [STATUS_CODE.FAILURE, message];
}

function changesOf(attrs: Partial<Attributes>): SftpAttrChanges {
  const out: { -readonly [K in keyof SftpAttrChanges]: number } = {};
  for (const key of ["size", "mode", "uid", "gid", "atime", "mtime"] as const) {
    const value = attrs[key];
    if (typeof value === "number") out[key] = value;
  }
  return out;
}

function toAttrs(st: SftpStats): Attributes {
  return { mode: st.mode, uid: st.uid, gid: st.gid, size: st.size, atime: st.atime, mtime: st.mtime };
}

/** Whether a mode's file type is a directory. */
export function isDirectory(mode: number): boolean {
  return (mode & 0o170000) === 0o040000;
}

/** An `ls -l` line, which OpenSSH's sftp prints for `ls -l` (SFTP v3 leaves it to the server). */
export function longname(name: string, st: SftpStats): string {
  const type = { 0o040000: "d", 0o120000: "l", 0o020000: "c", 0o060000: "b", 0o010000: "p", 0o140000: "s" }[
    st.mode & 0o170000
  ];
  const bits = "rwxrwxrwx"
    .split("")
    .map((c, i) => (st.mode & (1 << (8 - i)) ? c : "-"))
    .join("");
  const date = new Date(st.mtime * 1000).toISOString().slice(0, 10);
  return `${type ?? "-"}${bits} ${String(st.nlink ?? 1).padStart(3)} ${String(st.uid).padEnd(8)} ${String(st.gid).padEnd(8)} ${String(st.size).padStart(10)} ${date} ${name}`;
}
