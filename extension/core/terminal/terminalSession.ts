import { startExec } from "./execSession";
import type { ExecRequest, ExecRpc, TerminalSize } from "./execSession";
import { LocalTerminal, localTerminalSize } from "./localTerminal";
import type { LocalTerminalIo } from "./localTerminal";

/** The local side of a terminal session, plus where errors and output go. */
export interface SessionIo extends LocalTerminalIo {
  readonly stderr: NodeJS.WritableStream;
}

/** Options of {@link runTerminalSession}. */
export interface TerminalSessionOptions {
  /** Allocate a remote PTY (with the local size, resized on SIGWINCH) and put a TTY stdin in raw mode. */
  readonly tty: boolean;
  /** Forward local stdin (else the process reads EOF at once). */
  readonly stdin: boolean;
  readonly signal?: AbortSignal;
}

const fallbackSize: TerminalSize = { rows: 24, columns: 80 };

/**
 * Runs a command in a zone or workload wired to the local terminal and resolves with its exit
 * code: `zonectl exec` and `zonectl shell`, later a VS Code pseudo-terminal. The local
 * terminal mode is restored on every way out.
 */
export async function runTerminalSession(
  rpc: ExecRpc,
  request: Omit<ExecRequest, "tty">,
  io: SessionIo,
  options: TerminalSessionOptions,
): Promise<number> {
  const session = startExec(
    rpc,
    { ...request, ...(options.tty ? { tty: localTerminalSize(io.stdout) ?? fallbackSize } : {}) },
    {
      ...(options.signal ? { signal: options.signal } : {}),
      onStdout: (d) => io.stdout.write(d),
      onStderr: (d) => io.stderr.write(d),
    },
  );
  const terminal = new LocalTerminal(io, session, {
    raw: options.tty,
    forwardInput: options.stdin,
    resize: options.tty,
  });
  try {
    return await session.exited;
  } finally {
    terminal.dispose();
  }
}

/**
 * The interactive shell of a workload: bash when the image has it, else sh, as a login shell.
 * Asked of the workload itself with a fixed probe (no user value in it).
 */
export async function pickShell(
  rpc: ExecRpc,
  target: { zoneId: string; workloadId?: string; user?: string },
  signal?: AbortSignal,
): Promise<string[]> {
  const chunks: Uint8Array[] = [];
  const probe = startExec(
    rpc,
    {
      zoneId: target.zoneId,
      ...(target.workloadId ? { workloadId: target.workloadId } : {}),
      ...(target.user ? { user: target.user } : {}),
      command: ["/bin/sh", "-c", "command -v bash || command -v sh"],
    },
    { ...(signal ? { signal } : {}), onStdout: (d) => chunks.push(d) },
  );
  probe.endInput();
  let path = "";
  try {
    if ((await probe.exited) === 0) path = Buffer.concat(chunks).toString("utf8").trim().split("\n")[0] ?? "";
  } catch {
    path = "";
  }
  return [path.startsWith("/") ? path : "/bin/sh", "-l"];
}
