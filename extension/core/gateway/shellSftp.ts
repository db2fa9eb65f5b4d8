import { SftpError } from "../sftp/sftpServer";
import type { SftpAttrChanges, SftpFile, SftpFileSystem, SftpOpenFlags, SftpStats } from "../sftp/sftpServer";
import { runToEnd } from "./zoneRunner";
import type { RunResult, RunningProcess, ZoneRunner } from "./zoneRunner";

/**
 * The file operations of the built-in SFTP server, as one fixed POSIX shell script run with
 * `sh -c SCRIPT sftp OP ARG…`: every path and value arrives as a positional parameter, never
 * as script text. It needs only what busybox has (test, stat -c, dd with byte offsets, mkdir,
 * rm, mv, ln, chmod, chown, touch, readlink), so images without an sftp-server work.
 *
 * Exit 2 means "no such file", 3 "permission denied"; anything else is a failure whose stderr
 * is the message. Paths are absolute (the SFTP layer resolved them), so none starts with "-".
 */
const script = String.raw`
op=$1; shift
fail() { code=$1; shift; printf '%s\n' "$*" >&2; exit "$code"; }
exists() { [ -e "$1" ] || [ -L "$1" ]; }
need() { exists "$1" || fail 2 "$1: no such file or directory"; }
fmt='%f %s %u %g %X %Y %h'
case $op in
stat) [ -e "$1" ] || fail 2 "$1: no such file or directory"; exec stat -L -c "$fmt" "$1" ;;
lstat) need "$1"; exec stat -c "$fmt" "$1" ;;
list)
  [ -d "$1" ] || { need "$1"; fail 1 "$1: not a directory"; }
  [ -r "$1" ] && [ -x "$1" ] || fail 3 "$1: permission denied"
  set -- "$1"/* "$1"/.[!.]* "$1"/..?*
  for f; do exists "$f" && printf '%s\0' "$f"; done
  printf '\0'
  # Patterns that matched nothing stay as words; stat fails on them, which is no failure here.
  stat -c "$fmt %n" "$@" 2>/dev/null
  exit 0 ;;
open)
  p=$1 flags=$2 mode=$3
  case $flags in *x*) exists "$p" && fail 1 "$p: file exists" ;; esac
  [ -d "$p" ] && fail 1 "$p: is a directory"
  if [ -e "$p" ]; then
    case $flags in *r*) [ -r "$p" ] || fail 3 "$p: permission denied" ;; esac
    case $flags in *w*) [ -w "$p" ] || fail 3 "$p: permission denied" ;; esac
    case $flags in *t*) : > "$p" || fail 1 "$p: cannot truncate" ;; esac
  else
    case $flags in *c*) ;; *) fail 2 "$p: no such file or directory" ;; esac
    : > "$p" || exit 1
    [ -z "$mode" ] || chmod "$mode" "$p" || exit 1
  fi ;;
read)
  [ -r "$1" ] || { need "$1"; fail 3 "$1: permission denied"; }
  exec dd if="$1" iflag=skip_bytes,count_bytes skip="$2" count="$3" bs=65536 2>/dev/null ;;
write) exec dd of="$1" oflag=seek_bytes seek="$2" conv=notrunc bs=65536 ;;
append) exec dd of="$1" oflag=append conv=notrunc bs=65536 ;;
setstat)
  p=$1; need "$p"
  [ -z "$2" ] || dd if=/dev/null of="$p" bs=1 seek="$2" 2>/dev/null || fail 1 "$p: cannot change its size"
  [ -z "$3" ] || chmod "$3" "$p" || exit 1
  [ -z "$4" ] || chown "$4:$5" "$p" || exit 1
  [ -z "$7" ] || touch -c -m -d "@$7" "$p" || exit 1
  [ -z "$6" ] || touch -c -a -d "@$6" "$p" || exit 1 ;;
mkdir)
  exists "$1" && fail 1 "$1: file exists"
  if [ -n "$2" ]; then exec mkdir -m "$2" "$1"; else exec mkdir "$1"; fi ;;
rmdir) need "$1"; exec rmdir "$1" ;;
remove)
  need "$1"
  [ -d "$1" ] && [ ! -L "$1" ] && fail 1 "$1: is a directory"
  exec rm -f "$1" ;;
rename) need "$1"; exists "$2" && fail 1 "$2: already exists"; exec mv "$1" "$2" ;;
realpath) exec readlink -f "$1" ;;
readlink) [ -L "$1" ] || { need "$1"; fail 1 "$1: not a symbolic link"; }; exec readlink "$1" ;;
symlink) exists "$1" && fail 1 "$1: file exists"; exec ln -s -- "$2" "$1" ;;
*) fail 1 "unknown operation $op" ;;
esac
`;

/** C locale: messages are parsed, and stat's numbers must not be localized. */
const helperEnv = { LC_ALL: "C" };

/** The first read of a file fetches this much; sequential reading doubles it up to the maximum. */
const firstWindow = 256 * 1024;
const maxWindow = 8 * 1024 * 1024;

/**
 * A {@link SftpFileSystem} whose every operation is a short shell command in the workload (one
 * ExecuteZoneCommand each). Reads fetch growing windows ahead of the client; sequential writes
 * stream into one `dd` per run of contiguous data, so a 10 MiB upload is one process.
 */
export class ShellSftpFileSystem implements SftpFileSystem {
  readonly #runner: ZoneRunner;

  constructor(runner: ZoneRunner) {
    this.#runner = runner;
  }

  /** Runs one operation; a non-zero exit becomes an {@link SftpError}. */
  async #op(op: string, args: readonly string[]): Promise<RunResult> {
    const result = await runToEnd(this.#runner, ["/bin/sh", "-c", script, "sftp", op, ...args], {
      env: helperEnv,
    });
    if (result.code !== 0) throw errorOf(op, args[0] ?? "", result);
    return result;
  }

  async open(path: string, flags: SftpOpenFlags, mode: number | undefined): Promise<SftpFile> {
    const letters =
      (flags.read ? "r" : "") +
      (flags.write ? "w" : "") +
      (flags.create ? "c" : "") +
      (flags.truncate ? "t" : "") +
      (flags.exclusive ? "x" : "");
    await this.#op("open", [path, letters, mode === undefined ? "" : octal(mode)]);
    return new ShellFile(this.#runner, path, flags.append, (p) => this.stat(p));
  }

  async stat(path: string): Promise<SftpStats> {
    return parseStats((await this.#op("stat", [path])).stdout.toString("utf8"), path);
  }

  async lstat(path: string): Promise<SftpStats> {
    return parseStats((await this.#op("lstat", [path])).stdout.toString("utf8"), path);
  }

  async setStat(path: string, changes: SftpAttrChanges): Promise<void> {
    await this.#op("setstat", setStatArgs(path, changes));
  }

  async list(path: string): Promise<{ name: string; stats: SftpStats }[]> {
    return parseListing((await this.#op("list", [path])).stdout, path);
  }

  async mkdir(path: string, mode: number | undefined): Promise<void> {
    await this.#op("mkdir", [path, mode === undefined ? "" : octal(mode)]);
  }

  async rmdir(path: string): Promise<void> {
    await this.#op("rmdir", [path]);
  }

  async remove(path: string): Promise<void> {
    await this.#op("remove", [path]);
  }

  async rename(from: string, to: string): Promise<void> {
    await this.#op("rename", [from, to]);
  }

  async realpath(path: string): Promise<string> {
    const out = (await this.#op("realpath", [path])).stdout.toString("utf8").replace(/\n$/, "");
    if (!out.startsWith("/")) throw new SftpError("noSuchFile", `${path}: no such file or directory`);
    return out;
  }

  async readlink(path: string): Promise<string> {
    return (await this.#op("readlink", [path])).stdout.toString("utf8").replace(/\n$/, "");
  }

  async symlink(linkPath: string, target: string): Promise<void> {
    await this.#op("symlink", [linkPath, target]);
  }
}

/** One open file: a read-ahead window and a streaming writer, never both at once. */
class ShellFile implements SftpFile {
  readonly #runner: ZoneRunner;
  readonly #path: string;
  readonly #append: boolean;
  readonly #statPath: (path: string) => Promise<SftpStats>;
  #window: { start: number; data: Promise<Buffer>; size: number } | undefined;
  #ahead: { start: number; data: Promise<Buffer>; size: number } | undefined;
  #writer: StreamingWrite | undefined;

  constructor(
    runner: ZoneRunner,
    path: string,
    append: boolean,
    statPath: (path: string) => Promise<SftpStats>,
  ) {
    this.#runner = runner;
    this.#path = path;
    this.#append = append;
    this.#statPath = statPath;
  }

  async read(offset: number, length: number): Promise<Buffer | undefined> {
    await this.#flush();
    let window = this.#windowAt(offset);
    if (!window) {
      this.#window = this.#fetch(offset, firstWindow);
      this.#ahead = undefined;
      window = this.#window;
    }
    const data = await window.data;
    const from = offset - window.start;
    // A full window means there may be more: fetch the next one before the client asks.
    if (data.length === window.size && !this.#ahead && from >= data.length / 2)
      this.#ahead = this.#fetch(window.start + window.size, Math.min(window.size * 2, maxWindow));
    if (from >= data.length) return undefined;
    return data.subarray(from, from + length);
  }

  #windowAt(offset: number): { start: number; data: Promise<Buffer>; size: number } | undefined {
    for (const w of [this.#window, this.#ahead]) {
      if (w && offset >= w.start && offset < w.start + w.size) {
        if (w === this.#ahead) {
          this.#window = w;
          this.#ahead = undefined;
        }
        return w;
      }
    }
    return undefined;
  }

  #fetch(start: number, size: number): { start: number; data: Promise<Buffer>; size: number } {
    const data = runToEnd(this.#runner, shellArgs("read", [this.#path, String(start), String(size)]), {
      env: helperEnv,
    }).then((r) => {
      if (r.code !== 0) throw errorOf("read", this.#path, r);
      return r.stdout;
    });
    data.catch(() => undefined); // a prefetch nobody reads must not crash the process
    return { start, data, size };
  }

  async write(offset: number, data: Buffer): Promise<void> {
    this.#window = this.#ahead = undefined;
    if (this.#writer && (this.#append || this.#writer.next === offset)) return this.#writer.write(data);
    await this.#flush();
    this.#writer = new StreamingWrite(this.#runner, this.#path, this.#append ? undefined : offset);
    return this.#writer.write(data);
  }

  async stat(): Promise<SftpStats> {
    await this.#flush();
    return this.#statPath(this.#path);
  }

  async setStat(changes: SftpAttrChanges): Promise<void> {
    await this.#flush();
    const result = await runToEnd(this.#runner, shellArgs("setstat", setStatArgs(this.#path, changes)), {
      env: helperEnv,
    });
    if (result.code !== 0) throw errorOf("setstat", this.#path, result);
  }

  async close(): Promise<void> {
    this.#window = this.#ahead = undefined;
    await this.#flush();
  }

  async #flush(): Promise<void> {
    const writer = this.#writer;
    this.#writer = undefined;
    if (writer) await writer.finish();
  }
}

/** One `dd` taking a contiguous run of writes on its stdin. */
class StreamingWrite {
  /** The offset the next contiguous write starts at. */
  next: number;
  readonly #session: RunningProcess;
  readonly #path: string;
  readonly #stderr: Uint8Array[] = [];
  #exit: { code: number } | { error: unknown } | undefined;

  constructor(runner: ZoneRunner, path: string, offset: number | undefined) {
    this.next = offset ?? 0;
    this.#path = path;
    this.#session = runner.start(
      shellArgs(offset === undefined ? "append" : "write", [path, String(offset ?? 0)]),
      { env: helperEnv, onStderr: (d) => void this.#stderr.push(d) },
    );
    this.#session.exited.then(
      (code) => (this.#exit = { code }),
      (error: unknown) => (this.#exit = { error }),
    );
  }

  async write(data: Buffer): Promise<void> {
    if (this.#exit) return this.finish(); // it ended early: report why
    this.#session.write(data);
    this.next += data.length;
    await this.#session.drained();
  }

  async finish(): Promise<void> {
    this.#session.endInput();
    const code = await this.#session.exited;
    if (code !== 0)
      throw errorOf("write", this.#path, {
        code,
        stdout: Buffer.alloc(0),
        stderr: Buffer.concat(this.#stderr).toString("utf8"),
      });
  }
}

function shellArgs(op: string, args: readonly string[]): string[] {
  return ["/bin/sh", "-c", script, "sftp", op, ...args];
}

function octal(mode: number): string {
  return (mode & 0o7777).toString(8);
}

function setStatArgs(path: string, c: SftpAttrChanges): string[] {
  const n = (v: number | undefined): string => (v === undefined ? "" : String(Math.trunc(v)));
  const both = c.uid !== undefined && c.gid !== undefined;
  const times = c.atime !== undefined && c.mtime !== undefined;
  return [
    path,
    n(c.size),
    c.mode === undefined ? "" : octal(c.mode),
    both ? n(c.uid) : "",
    both ? n(c.gid) : "",
    times ? n(c.atime) : "",
    times ? n(c.mtime) : "",
  ];
}

/** The SFTP error for a failed operation, from its exit code and what it printed. */
function errorOf(op: string, path: string, result: RunResult): SftpError {
  // dd reports its record counts on stderr even when it fails: they are not the reason.
  const message =
    result.stderr
      .split("\n")
      .filter((l) => l.trim() && !/records (in|out)$|bytes .* copied/.test(l))
      .join("; ") || `${op} ${path} failed (exit ${result.code})`;
  if (result.code === 2 || /No such file|not found/i.test(message))
    return new SftpError("noSuchFile", message);
  if (result.code === 3 || /Permission denied|Operation not permitted|Read-only file system/i.test(message))
    return new SftpError("permissionDenied", message);
  return new SftpError("failure", message);
}

const statFields = /^([0-9a-f]+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)/;

function statsFrom(m: RegExpExecArray): SftpStats {
  return {
    mode: parseInt(m[1]!, 16),
    size: Number(m[2]),
    uid: Number(m[3]),
    gid: Number(m[4]),
    atime: Number(m[5]),
    mtime: Number(m[6]),
    nlink: Number(m[7]),
  };
}

/** One `stat -c '%f %s %u %g %X %Y %h'` line. */
export function parseStats(text: string, path: string): SftpStats {
  const m = statFields.exec(text);
  if (!m)
    throw new SftpError("failure", `${path}: unexpected stat output ${JSON.stringify(text.slice(0, 80))}`);
  return statsFrom(m);
}

/**
 * The `list` operation's output: the entries' paths, each ended by NUL, an empty one, then one
 * stat line per entry that still existed (`FIELDS PATH\n`, in the same order). Names may hold
 * newlines, so each line is matched against the path it must end with; an entry removed
 * between the two steps has no line and is skipped.
 */
export function parseListing(out: Buffer, dir: string): { name: string; stats: SftpStats }[] {
  const text = out.toString("utf8");
  const end = text.indexOf("\0\0");
  const paths = end < 0 ? [] : text.slice(0, end).split("\0");
  let rest = end < 0 ? "" : text.slice(end + 2);
  const prefix = dir.endsWith("/") ? dir : `${dir}/`;
  const entries: { name: string; stats: SftpStats }[] = [];
  for (const path of paths) {
    const m = statFields.exec(rest);
    if (!m) break;
    const tail = ` ${path}\n`;
    if (!rest.startsWith(tail, m[0].length)) continue; // gone before stat saw it
    rest = rest.slice(m[0].length + tail.length);
    const name = path.startsWith(prefix) ? path.slice(prefix.length) : path;
    entries.push({ name, stats: statsFrom(m) });
  }
  return entries;
}
