/**
 * node-pty's native binding, used directly. Its `IPty` wrapper reads the PTY master through a
 * libuv stream and reports the exit only once that stream closes; on Linux both lose output:
 * a read of a PTY master returns at most 4095 bytes, libuv takes a short read that comes with
 * POLLHUP (the last slave fd closed) for the end of the stream, and whatever the kernel still
 * buffered — up to tens of KB of a fast command's tail — is dropped with "exit 0". The binding
 * gives us the two things the wrapper hides: the slave's path (so the dev host can hold the
 * slave open and never see POLLHUP before it has drained) and the exit itself (waitpid), so
 * the drain happens after the exit and before anyone is told about it.
 *
 * This reaches into node-pty's lib/ (pinned at 1.1.x in package.json); the shape is checked on
 * load so a changed binding fails with a clear message instead of misbehaving.
 */

/** What `fork` returns: the master fd (non-blocking), the child's pid and the slave's path. */
export interface ForkedPty {
  fd: number;
  pid: number;
  pty: string;
}

/** The parts of node-pty's native module (src/unix/pty.cc) the dev host uses. */
export interface NativePty {
  /**
   * forkpty(3): the child is a session leader with the slave as stdio and controlling terminal,
   * termios set for a UTF-8 terminal. `onExit` runs once waitpid has reaped it.
   */
  fork(
    file: string,
    args: string[],
    env: string[],
    cwd: string,
    cols: number,
    rows: number,
    uid: number,
    gid: number,
    utf8: boolean,
    helperPath: string,
    onExit: (code: number, signal: number) => void,
  ): ForkedPty;
  resize(fd: number, cols: number, rows: number): void;
}

let loaded: NativePty | undefined;

export function nativePty(): NativePty {
  if (loaded) return loaded;
  // A deep import with no typings: checked below instead. esbuild keeps it external ("node-pty").
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const utils = require("node-pty/lib/utils") as { loadNativeModule?: (name: string) => { module: unknown } };
  const mod = utils.loadNativeModule?.("pty").module as Partial<NativePty> | undefined;
  if (typeof mod?.fork !== "function" || typeof mod.resize !== "function") {
    throw new Error(
      "node-pty's native module has an unexpected shape (fork/resize missing): the dev host needs node-pty 1.1.x",
    );
  }
  loaded = mod as NativePty;
  return loaded;
}
