import { spawn as spawnChild } from "node:child_process";
import * as pty from "node-pty";
import { Emitter } from "../../core/events";
import type { Event } from "../../core/events";

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
  SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGILL: 4, SIGTRAP: 5, SIGABRT: 6, SIGBUS: 7, SIGFPE: 8, SIGKILL: 9,
  SIGUSR1: 10, SIGSEGV: 11, SIGUSR2: 12, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15,
};

/**
 * A process the dev host started for a zone, workload or exec, with the same surface whether
 * its stdio are pipes or a real PTY (node-pty): output events, stdin, resize, exit.
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
  const exited = new Promise<ProcessExit>((resolve) => {
    child.on("error", (err) => {
      stderr.fire(Buffer.from(`${err.message}\n`));
      resolve({ code: 127, signal: undefined });
    });
    // 'close' comes after 'exit' once stdout/stderr are drained, so no output is lost. But a
    // background process the command left behind keeps the pipes open: like `docker exec`, the
    // exit counts once its output had a moment to drain, and the pipes are let go.
    child.on("close", (code, signal) => resolve({ code: code ?? undefined, signal: signal ?? undefined }));
    child.on("exit", (code, signal) => {
      setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        resolve({ code: code ?? undefined, signal: signal ?? undefined });
      }, exitDrainMs).unref();
    });
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
    kill: (signal) => {
      try {
        child.kill(signal);
      } catch {
        // already gone
      }
    },
  };
}

function startPty(file: string, args: string[], size: { columns: number; rows: number }, options: StartOptions): SandboxProcess {
  const term = pty.spawn(file, args, {
    name: options.env["TERM"] ?? "xterm-256color",
    cols: clampSize(size.columns, 80),
    rows: clampSize(size.rows, 24),
    cwd: options.cwd ?? "/",
    env: options.env,
    encoding: null,
  });
  const stdout = new Emitter<Buffer>();
  const stderr = new Emitter<Buffer>();
  // With encoding null node-pty hands out Buffers, although its typings say string.
  term.onData((d: string | Buffer) => stdout.fire(typeof d === "string" ? Buffer.from(d) : d));
  const exited = new Promise<ProcessExit>((resolve) => {
    term.onExit(({ exitCode, signal }) => {
      if (!signal) return resolve({ code: exitCode, signal: undefined });
      const name = signalName(signal);
      resolve(name ? { code: undefined, signal: name } : { code: 128 + signal, signal: undefined });
    });
  });
  return {
    pid: term.pid,
    tty: true,
    onStdout: stdout.event,
    onStderr: stderr.event,
    exited,
    write: (data) => term.write(data),
    // In canonical mode ^D at the start of a line is end of file for the reader.
    endInput: () => term.write("\x04"),
    resize: (columns, rows) => {
      try {
        term.resize(clampSize(columns, 80), clampSize(rows, 24));
      } catch {
        // the terminal is already closed
      }
    },
    kill: (signal) => {
      try {
        process.kill(term.pid, signal);
      } catch {
        // already gone
      }
    },
  };
}

function clampSize(value: number, fallback: number): number {
  return Number.isInteger(value) && value > 0 && value < 10_000 ? value : fallback;
}

function signalName(num: number): NodeJS.Signals | undefined {
  for (const [name, n] of Object.entries(signalNumbers)) if (n === num) return name as NodeJS.Signals;
  return undefined;
}
