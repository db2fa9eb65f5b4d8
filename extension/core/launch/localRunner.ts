import { spawn } from "node:child_process";

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
export const spawnLocal: LocalRunner = (argv, options) =>
  new Promise<number>((resolve, reject) => {
    const [file, ...args] = argv;
    if (!file) {
      reject(new Error("empty command"));
      return;
    }
    const child = spawn(file, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.on("data", (d: Buffer) => options.onStdout?.(d));
    child.stderr.on("data", (d: Buffer) => options.onStderr?.(d));
    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      child.kill("SIGTERM");
      killTimer = setTimeout(() => child.kill("SIGKILL"), 3000);
      killTimer.unref();
    };
    options.signal?.addEventListener("abort", onAbort, { once: true });
    child.once("error", (err) => {
      options.signal?.removeEventListener("abort", onAbort);
      reject(err);
    });
    child.once("close", (code, signal) => {
      options.signal?.removeEventListener("abort", onAbort);
      clearTimeout(killTimer);
      resolve(code ?? 128 + (signal ? (signalNumbers[signal] ?? 1) : 1));
    });
  });
