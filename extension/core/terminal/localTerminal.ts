import { Disposable, toDisposable } from "../lifecycle";
import type { TerminalSize } from "./execSession";

/** Where local keystrokes go: an exec session, a workload console. */
export interface TerminalSink {
  write(data: Uint8Array): void;
  /** Local stdin reached EOF. */
  endInput?(): void;
  resize?(size: TerminalSize): void;
}

/** The local side: a process's stdin/stdout, or anything shaped like them. */
export interface LocalTerminalIo {
  readonly stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  readonly stdout: NodeJS.WritableStream & {
    isTTY?: boolean;
    columns?: number;
    rows?: number;
    on?: NodeJS.WritableStream["on"];
  };
}

/** Options of {@link LocalTerminal}. */
export interface LocalTerminalOptions {
  /** Put a TTY stdin into raw mode, so Ctrl-C, Ctrl-D and arrows go to the remote side as bytes. */
  readonly raw: boolean;
  /** Forward local stdin at all (false: the remote side reads EOF at once). Default true. */
  readonly forwardInput?: boolean;
  /** Propagate local terminal size changes. Default: when stdout is a TTY. */
  readonly resize?: boolean;
}

/** The local terminal's size, when stdout is a terminal. */
export function localTerminalSize(stdout: LocalTerminalIo["stdout"]): TerminalSize | undefined {
  if (!stdout.isTTY || !stdout.columns || !stdout.rows) return undefined;
  return { rows: stdout.rows, columns: stdout.columns };
}

/**
 * Connects the local terminal to a remote process: stdin bytes (raw on a TTY), EOF, and the
 * size on every SIGWINCH. Dispose restores the terminal mode, which must happen on every path
 * out (exit, error, Ctrl-C) or the user's shell is left in raw mode.
 */
export class LocalTerminal extends Disposable {
  constructor(io: LocalTerminalIo, sink: TerminalSink, options: LocalTerminalOptions) {
    super();
    const { stdin, stdout } = io;
    if (options.raw && stdin.isTTY && stdin.setRawMode) {
      stdin.setRawMode(true);
      this.register(toDisposable(() => stdin.setRawMode?.(false)));
    }
    if (options.forwardInput ?? true) {
      const onData = (chunk: Buffer | string): void =>
        sink.write(typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk);
      const onEnd = (): void => sink.endInput?.();
      stdin.on("data", onData);
      stdin.on("end", onEnd);
      this.register(
        toDisposable(() => {
          stdin.off("data", onData);
          stdin.off("end", onEnd);
          // A paused stdin with no listeners lets the process exit.
          stdin.pause();
        }),
      );
      stdin.resume();
    } else {
      sink.endInput?.();
    }
    if ((options.resize ?? stdout.isTTY === true) && sink.resize) {
      const onResize = (): void => {
        const size = localTerminalSize(stdout);
        if (size) sink.resize?.(size);
      };
      // A TTY WriteStream refreshes columns/rows on SIGWINCH and then emits 'resize'.
      if (stdout.isTTY && stdout.on) {
        stdout.on("resize", onResize);
        this.register(toDisposable(() => stdout.off?.("resize", onResize)));
      } else {
        process.on("SIGWINCH", onResize);
        this.register(toDisposable(() => process.off("SIGWINCH", onResize)));
      }
    }
  }
}
