/**
 * The one place AbortSignal (what core speaks) meets vscode.CancellationToken (what VS Code
 * hands to commands and progress callbacks) (STYLE.md 10).
 */
import * as vscode from "vscode";
import type { DisposableLike } from "../core/lifecycle";

/** An AbortSignal that aborts when `token` is cancelled; dispose to stop listening. */
export function signalFromToken(token: vscode.CancellationToken): { signal: AbortSignal } & DisposableLike {
  const controller = new AbortController();
  if (token.isCancellationRequested) {
    controller.abort(cancelledError());
    return { signal: controller.signal, dispose: () => undefined };
  }
  const listener = token.onCancellationRequested(() => {
    controller.abort(cancelledError());
  });
  return {
    signal: controller.signal,
    dispose: () => {
      listener.dispose();
    },
  };
}

/**
 * A CancellationToken cancelled when `signal` aborts. The source is disposed with the result:
 * VS Code does not cancel a token when its source is disposed, so callers dispose after use.
 */
export function tokenFromSignal(signal: AbortSignal): { token: vscode.CancellationToken } & DisposableLike {
  const source = new vscode.CancellationTokenSource();
  const onAbort = (): void => source.cancel();
  if (signal.aborted) source.cancel();
  else signal.addEventListener("abort", onAbort, { once: true });
  return {
    token: source.token,
    dispose: () => {
      signal.removeEventListener("abort", onAbort);
      source.dispose();
    },
  };
}

function cancelledError(): Error {
  const err = new Error("The operation was cancelled.");
  err.name = "AbortError";
  return err;
}
