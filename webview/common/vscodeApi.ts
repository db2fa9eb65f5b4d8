/** The webview side of VS Code's messaging: one handle per page, typed by the panel's state. */
export interface VsCodeApi<S> {
  postMessage(message: unknown): void;
  getState(): S | undefined;
  setState(state: S): void;
}

declare function acquireVsCodeApi<S>(): VsCodeApi<S>;

let api: VsCodeApi<unknown> | undefined;

/** VS Code allows acquiring the API once per page; later calls get the same handle. */
export function vscodeApi<S>(): VsCodeApi<S> {
  api ??= acquireVsCodeApi<unknown>();
  return api as VsCodeApi<S>;
}

/** Calls `handler` with each message the host posts. */
export function onHostMessage(handler: (message: unknown) => void): void {
  window.addEventListener("message", (event: MessageEvent<unknown>) => handler(event.data));
}
