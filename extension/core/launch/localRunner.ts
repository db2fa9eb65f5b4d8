import { spawn } from "node:child_process";
import { childEnded } from "../childProcess";

/** Options of a local hook process. */
export interface LocalRunOptions {
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly signal?: AbortSignal;
  onStdout?(data: Uint8Array): void;
  onStderr?(data: Uint8Array): void;
}

/** Runs an argv on this machine and resolves with its exit code (128 + n for a signal). */
export type LocalRunner = (argv: readonly string[], options: LocalRunOptions) => Promise<number>;

const signalNumbers: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 };

/**
 * The real runner: spawn without a shell (the plan already turned the string form into
 * `/bin/sh -c <string>`, one argv element), stdin closed. Abort sends SIGTERM, then SIGKILL.
 */
export const spawnLocal: LocalRunner = async (argv, options) => {
  const [file, ...args] = argv;
  if (!file) throw new Error("empty command");
  const child = spawn(file, args, {
    cwd: options.cwd,
    env: options.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout.on("data", (d: Buffer) => options.onStdout?.(d));
  child.stderr.on("data", (d: Buffer) => options.onStderr?.(d));
  const { code, signal } = await childEnded(child, { signal: options.signal, graceMs: 3000 });
  return code ?? 128 + (signal ? (signalNumbers[signal] ?? 1) : 1);
};
