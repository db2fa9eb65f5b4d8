import type { ChildProcess } from "node:child_process";

/** How a child ended: its exit code or the signal that ended it, and whether our abort stopped it. */
export interface ChildEnd {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly cancelled: boolean;
}

/**
 * Waits for a spawned child to close. An abort sends `stop("SIGTERM")`, then `stop("SIGKILL")`
 * after `graceMs` if it is still there; the caller chooses what a stop reaches (the child alone,
 * or its process group). Rejects only when the program could not be started.
 */
export function childEnded(
  child: ChildProcess,
  options: { signal?: AbortSignal | undefined; graceMs: number; stop?: (sig: NodeJS.Signals) => void },
): Promise<ChildEnd> {
  const stop = options.stop ?? ((sig: NodeJS.Signals) => child.kill(sig));
  return new Promise<ChildEnd>((resolve, reject) => {
    let cancelled = false;
    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      cancelled = true;
      stop("SIGTERM");
      killTimer = setTimeout(() => stop("SIGKILL"), options.graceMs);
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
      resolve({ code, signal, cancelled });
    });
  });
}
