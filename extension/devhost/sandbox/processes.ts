import { spawn as spawnChild } from "node:child_process";
import { closeSync, constants, openSync, readSync } from "node:fs";
import * as tty from "node:tty";
import { Emitter } from "../../core/events";
import type { Event } from "../../core/events";
import { nativePty } from "./nativePty";
import { childrenOf, isSameProcess, processStartTime } from "./procfs";

/** How a sandboxed process ended: a code, or the signal that killed it. */
export interface ProcessExit {
  code: number | undefined;
  signal: NodeJS.Signals | undefined;
}

/** The exit code a shell would report: the code, or 128 + the signal number. */
export function exitCodeOf(exit: ProcessExit): number {
  if (exit.code !== undefined) return exit.code;
  const num = exit.signal ? (signalNumbers[exit.signal] ?? 0) : 0;
  return 128 + num;
}

const signalNumbers: Partial<Record<NodeJS.Signals, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
};

/**
 * A process the dev host started for a zone, workload or exec, with the same surface whether
 * its stdio are pipes or a real PTY (node-pty's binding): output events with flow control,
 * stdin, resize, exit.
 */
export interface SandboxProcess {
  /** Host pid of the first process of the launch chain (the cgroup/nsenter wrapper). */
  readonly pid: number;
  readonly tty: boolean;
  readonly onStdout: Event<Buffer>;
  readonly onStderr: Event<Buffer>;
  /** Resolves once the process has exited and all its output has been delivered. */
  readonly exited: Promise<ProcessExit>;
  write(data: Buffer): void;
  /** End of input: closes the pipe, or sends the terminal's EOF character on a PTY. */
  endInput(): void;
  resize(columns: number, rows: number): void;
  /**
   * Stops reading output until resume(): the process blocks once the kernel's pipe or PTY
   * buffer is full, as it would behind a slow terminal. `exited` waits for the resume.
   */
  pause(): void;
  resume(): void;
  /**
   * The other end went away, as when an SSH session drops: a PTY is closed (the kernel sends
   * SIGHUP to its session, including a session leader inside a zone), pipes get SIGHUP. Output
   * still unread is dropped.
   */
  hangUp(): void;
  kill(signal: NodeJS.Signals): void;
}

export interface StartOptions {
  /** A PTY with this size instead of pipes. */
  tty?: { columns: number; rows: number } | undefined;
  /** Whether stdin is a pipe the caller writes to; otherwise /dev/null (pipes only). */
  stdin: boolean;
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /** Own process group (pipes only), so the whole group can be signalled. */
  detached?: boolean;
}

/** How long output may still arrive after a piped process exited (see startPiped). */
const exitDrainMs = 200;

/** The most a PTY's final drain reads after the exit (its kernel buffers hold far less). */
const finalDrainLimit = 1024 * 1024;

/**
 * A read of a PTY master returns at most 4095 bytes, and the stream behind tty.ReadStream hands
 * each read to JavaScript on its own: 100 MiB of output is ~25 000 events, each then a queue
 * entry and a piece of a reply, which costs the dev host more CPU than the reads. A read that came
 * back full means more is probably waiting, so the kernel's buffer is read on at once with
 * synchronous reads into one batch, up to `ptyBatchLimit` or EAGAIN. A short read (an echo, a
 * prompt) is passed on as it is, without an extra read, so interactive output is never held.
 */
const fullPtyRead = 4095;
const ptyBatchLimit = 256 * 1024;

/** Where drainAfter reads; shared, as each batch is copied out before the handler returns. */
let ptyScratch: Buffer | undefined;

/** `first`, followed by whatever the non-blocking master `fd` yields now, as one buffer. */
function drainAfter(fd: number, first: Buffer): Buffer {
  const scratch = (ptyScratch ??= Buffer.allocUnsafeSlow(ptyBatchLimit));
  let length = first.copy(scratch, 0);
  while (scratch.length - length >= fullPtyRead) {
    let n: number;
    try {
      n = readSync(fd, scratch, length, scratch.length - length, null);
    } catch {
      break; // EAGAIN: the kernel's buffer is empty for now (EIO/EBADF: the stream reports it)
    }
    if (n <= 0) break;
    length += n;
  }
  return length === first.length ? first : Buffer.from(scratch.subarray(0, length));
}

/** Starts argv[0] with argv[1…]; never through a shell. */
export function startProcess(argv: string[], options: StartOptions): SandboxProcess {
  const [file, ...args] = argv;
  if (!file) throw new Error("empty argv");
  return options.tty ? startPty(file, args, options.tty, options) : startPiped(file, args, options);
}

function startPiped(file: string, args: string[], options: StartOptions): SandboxProcess {
  const child = spawnChild(file, args, {
    stdio: [options.stdin ? "pipe" : "ignore", "pipe", "pipe"],
    env: options.env,
    cwd: options.cwd ?? "/",
    detached: options.detached ?? false,
  });
  const stdout = new Emitter<Buffer>();
  const stderr = new Emitter<Buffer>();
  child.stdout?.on("data", (d: Buffer) => stdout.fire(d));
  child.stderr?.on("data", (d: Buffer) => stderr.fire(d));
  // A client that writes after the process closed its stdin is not an error worth crashing for.
  child.stdin?.on("error", () => undefined);
  const signalChain = chainSignaller(
    child.pid ?? -1,
    () => child.exitCode !== null || child.signalCode !== null,
  );
  let exit: ProcessExit | undefined;
  let paused = false;
  let drainTimer: NodeJS.Timeout | undefined;
  const letGo = (): void => {
    if (!exit || paused) return;
    clearTimeout(drainTimer);
    const gone = exit;
    drainTimer = setTimeout(() => {
      child.stdout?.destroy();
      child.stderr?.destroy();
      resolveExited(gone);
    }, exitDrainMs).unref();
  };
  let resolveExited: (exit: ProcessExit) => void = () => undefined;
  const exited = new Promise<ProcessExit>((resolve) => (resolveExited = resolve));
  child.on("error", (err) => {
    stderr.fire(Buffer.from(`${err.message}\n`));
    resolveExited({ code: 127, signal: undefined });
  });
  // 'close' comes after 'exit' once stdout/stderr are drained, so no output is lost. But a
  // background process the command left behind keeps the pipes open: like `docker exec`, the
  // exit counts once its output had a moment to drain (while output is flowing: a paused
  // reader is not cut off), and the pipes are let go.
  child.on("close", (code, signal) => {
    clearTimeout(drainTimer);
    resolveExited({ code: code ?? undefined, signal: signal ?? undefined });
  });
  child.on("exit", (code, signal) => {
    exit = { code: code ?? undefined, signal: signal ?? undefined };
    letGo();
  });
  return {
    pid: child.pid ?? -1,
    tty: false,
    onStdout: stdout.event,
    onStderr: stderr.event,
    exited,
    write: (data) => {
      if (child.stdin && !child.stdin.writableEnded) child.stdin.write(data);
    },
    endInput: () => {
      if (child.stdin && !child.stdin.writableEnded) child.stdin.end();
    },
    resize: () => undefined,
    pause: () => {
      paused = true;
      clearTimeout(drainTimer);
      child.stdout?.pause();
      child.stderr?.pause();
    },
    resume: () => {
      if (!paused) return;
      paused = false;
      child.stdout?.resume();
      child.stderr?.resume();
      letGo();
    },
    hangUp: () => signalChain("SIGHUP"),
    kill: signalChain,
  };
}

function startPty(
  file: string,
  args: string[],
  size: { columns: number; rows: number },
  options: StartOptions,
): SandboxProcess {
  const stdout = new Emitter<Buffer>();
  const stderr = new Emitter<Buffer>();
  let exit: ProcessExit | undefined;
  let resolveExited: (exit: ProcessExit) => void = () => undefined;
  const exited = new Promise<ProcessExit>((resolve) => (resolveExited = resolve));
  let paused = false;
  let hungUp = false;
  let closed = false;
  let reaped = false;

  const env = Object.entries({ TERM: "xterm-256color", ...options.env }).flatMap(([k, v]) =>
    v === undefined ? [] : [`${k}=${v}`],
  );
  const forked = nativePty().fork(
    file,
    args,
    env,
    options.cwd ?? "/",
    clampSize(size.columns, 80),
    clampSize(size.rows, 24),
    -1,
    -1,
    true,
    "",
    (code, signal) => {
      reaped = true;
      exit = signal ? toExit(signal) : { code, signal: undefined };
      if (hungUp) resolveExited(exit);
      else finish();
    },
  );
  // Hold the slave open ourselves, in the same tick as the fork (before the event loop first
  // polls the master): the master then never reports POLLHUP, which libuv would take for the end
  // of output after one short read. Once the process has exited, finish() drains what the kernel
  // still buffers and only then lets go. Opening it again is fine even if the child was quick
  // and already closed it: a slave may be reopened while its master is open.
  let hold: number | undefined;
  try {
    hold = openSync(forked.pty, constants.O_RDWR | constants.O_NOCTTY);
  } catch {
    hold = undefined; // read to EIO instead; a fast command's tail may then be lost
  }
  const signalChain = chainSignaller(forked.pid, () => reaped);
  const master = new tty.ReadStream(forked.fd);
  // Only with nothing queued behind `d` (after a pause the stream replays what it buffered):
  // the kernel's bytes come after all of those, and must not overtake them.
  const bulk = (d: Buffer): boolean =>
    d.length >= fullPtyRead && !closed && !paused && master.readableLength === 0;
  master.on("data", (d: Buffer) => stdout.fire(bulk(d) ? drainAfter(forked.fd, d) : d));
  // EIO (nobody holds the slave any more) or EBADF after a hang-up: no more output either way.
  master.on("error", () => undefined);

  const release = (): void => {
    if (closed) return;
    closed = true;
    if (hold !== undefined) {
      try {
        closeSync(hold);
      } catch {
        // already closed
      }
    }
    // Closing the master hangs the terminal up: whatever still has it open gets SIGHUP.
    master.destroy();
  };

  /** After the exit: everything the process wrote, then `exited`. Waits while output is paused. */
  function finish(): void {
    if (!exit || closed || paused) return;
    if (master.readableLength > 0) {
      setImmediate(finish); // flowing again: the buffered chunks are delivered first
      return;
    }
    // The process is gone, so its writes are all in the kernel's buffers. A read of the
    // non-blocking master flushes the PTY's input queue before it answers EAGAIN, so EAGAIN
    // means everything has been read: at most a few tens of KB, so synchronous is fine. The
    // bound is for a background process that keeps writing; it is hung up below.
    for (let total = 0; total < finalDrainLimit;) {
      const buf = Buffer.allocUnsafe(64 * 1024);
      let n: number;
      try {
        n = readSync(forked.fd, buf, 0, buf.length, null);
      } catch {
        break; // EAGAIN: drained (EIO: no slave left, nothing more to come)
      }
      if (n <= 0) break;
      total += n;
      stdout.fire(buf.subarray(0, n));
    }
    release();
    resolveExited(exit);
  }

  return {
    pid: forked.pid,
    tty: true,
    onStdout: stdout.event,
    onStderr: stderr.event,
    exited,
    write: (data) => {
      if (!closed) master.write(data);
    },
    // In canonical mode ^D at the start of a line is end of file for the reader.
    endInput: () => {
      if (!closed) master.write("\x04");
    },
    resize: (columns, rows) => {
      if (closed) return;
      try {
        nativePty().resize(forked.fd, clampSize(columns, 80), clampSize(rows, 24));
      } catch {
        // the terminal is already closed
      }
    },
    pause: () => {
      paused = true;
      master.pause();
    },
    resume: () => {
      if (!paused) return;
      paused = false;
      master.resume();
      if (exit) setImmediate(finish);
    },
    hangUp: () => {
      if (closed) return;
      hungUp = true;
      release();
      if (exit) resolveExited(exit);
    },
    kill: signalChain,
  };
}

/**
 * Signals the first process of a launch chain and its direct children. In a zone the first
 * process is nsenter, which forwards no signals: its child is the process in the zone's pid
 * namespace (with a TTY, the session leader that owns the terminal). Children seen once are
 * remembered (with their start time, against pid reuse), so a SIGKILL that follows a SIGHUP
 * still reaches a child whose parent the SIGHUP already ended.
 */
function chainSignaller(pid: number, reaped: () => boolean): (signal: NodeJS.Signals) => void {
  const known = new Map<number, string>();
  return (signal) => {
    if (pid <= 0) return;
    if (!reaped()) {
      for (const child of childrenOf(pid)) {
        const start = known.has(child) ? undefined : processStartTime(child);
        if (start !== undefined) known.set(child, start);
      }
    }
    const targets = [
      ...(reaped() ? [] : [pid]),
      ...[...known].filter(([p, start]) => isSameProcess(p, start)).map(([p]) => p),
    ];
    for (const target of targets) {
      try {
        process.kill(target, signal);
      } catch {
        // already gone
      }
    }
  };
}

function toExit(signal: number): ProcessExit {
  const name = signalName(signal);
  return name ? { code: undefined, signal: name } : { code: 128 + signal, signal: undefined };
}

function clampSize(value: number, fallback: number): number {
  return Number.isInteger(value) && value > 0 && value < 10_000 ? value : fallback;
}

/** The signal with number `num`, among those exit codes are reported for. */
export function signalOfCode(num: number): NodeJS.Signals | undefined {
  return signalName(num);
}

function signalName(num: number): NodeJS.Signals | undefined {
  for (const [name, n] of Object.entries(signalNumbers)) if (n === num) return name as NodeJS.Signals;
  return undefined;
}
