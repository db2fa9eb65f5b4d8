/**
 * The one place AbortSignal (what core speaks) meets vscode.CancellationToken (what VS Code
 * hands to commands and progress callbacks), so core never sees a VS Code type.
 */
import type * as vscode from "vscode";
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

function cancelledError(): Error {
  const err = new Error("The operation was cancelled.");
  err.name = "AbortError";
  return err;
}
