import type { ExecSession, TerminalSize } from "../terminal/execSession";

/** A started process as the gateway drives it (an ExecSession; tests may run local processes). */
export type RunningProcess = Pick<
  ExecSession,
  "exited" | "write" | "endInput" | "resize" | "drained" | "cancel"
>;

/** How one process is started by a {@link ZoneRunner}. */
export interface RunOptions {
  readonly env?: Readonly<Record<string, string>>;
  readonly workingDirectory?: string;
  readonly tty?: TerminalSize;
  readonly signal?: AbortSignal;
  /** Output; a returned promise holds further output back until it settles (back-pressure). */
  readonly onStdout?: (data: Uint8Array) => unknown;
  readonly onStderr?: (data: Uint8Array) => unknown;
}

/**
 * Starts processes in one place — a workload (or zone) as one user — with ExecuteZoneCommand.
 * Everything the gateway runs goes through one of these, so "where and as whom" is decided once.
 */
export interface ZoneRunner {
  /** "zone/workload" for messages. */
  readonly description: string;
  /** The exact argv; never joined into a shell string. */
  start(command: readonly string[], options?: RunOptions): RunningProcess;
}

/** What a finished command left. */
export interface RunResult {
  readonly code: number;
  readonly stdout: Buffer;
  readonly stderr: string;
}

/** Runs a command to its end with `input` (or nothing) on stdin and collects its output. */
export async function runToEnd(
  runner: ZoneRunner,
  command: readonly string[],
  options: { input?: Uint8Array; env?: Readonly<Record<string, string>>; signal?: AbortSignal } = {},
): Promise<RunResult> {
  const stdout: Uint8Array[] = [];
  const stderr: Uint8Array[] = [];
  const session = runner.start(command, {
    ...(options.env ? { env: options.env } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    onStdout: (d) => void stdout.push(d),
    onStderr: (d) => void stderr.push(d),
  });
  if (options.input?.length) session.write(options.input);
  session.endInput();
  const code = await session.exited;
  return { code, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr).toString("utf8") };
}
