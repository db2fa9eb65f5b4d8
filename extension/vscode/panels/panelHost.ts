/**
 * What every webview panel of ours shares: the page (CSP with a per-panel nonce, resources only
 * from the webview bundle folder and media/), messages from the webview checked against the
 * panel's protocol before anything acts on them, messages to it held until its document says
 * `ready`, and a registry that keeps one panel per target and revives panels after a reload.
 *
 * Like the panels, this file imports vscode types only; VS Code comes in as `PanelEnvironment`.
 */
import type * as vscode from "vscode";
import { randomBytes } from "node:crypto";
import { posix } from "node:path";
import type { z } from "zod";
import { Disposable, toDisposable } from "../../core/lifecycle";
import { Emitter, type Event } from "../../core/events";
import { messageOf } from "../../core/errors";
import type { Logger } from "../../core/log";
import type { IpcMessage } from "../../../webview/common/ipc";

/** What panels need from VS Code. Pass `vscode.window` and `context.extensionUri`. */
export interface PanelEnvironment {
  window: Pick<typeof vscode.window, "createWebviewPanel">;
  extensionUri: vscode.Uri;
  logger: Logger;
}

/** Messages held for a webview that has not said `ready`; older ones are dropped beyond this. */
const maxHeldMessages = 1000;

/** The page a panel shows: its bundle and style sheets under dist/webview. */
export interface PanelPage {
  title: string;
  script: string;
  styles: string[];
  /** See `WebviewPage.noncedStyles`. */
  noncedStyles?: boolean;
}

/**
 * One webview panel's host side. A subclass sets up its sources after `super(…)`, then calls
 * `open(page)`; it answers the webview's messages in `onMessage` (already validated) and, on the
 * webview's `ready`, calls `markReady()`, sends its init message with `send`, then `flushHeld()`.
 */
export abstract class PanelHost<
  TState extends { target: unknown },
  TMessage extends { method: string },
> extends Disposable {
  protected readonly panel: vscode.WebviewPanel;
  protected readonly log: Logger;
  protected readonly state: TState;
  readonly #extensionUri: vscode.Uri;
  readonly #name: string;
  readonly #schema: z.ZodType<TMessage>;
  #ready = false;
  #held: IpcMessage[] = [];
  readonly #invalid = new RateLimitedWarning();
  readonly #onDidDispose = this.register(new Emitter<void>());
  readonly onDidDispose: Event<void> = this.#onDidDispose.event;

  /** `name` prefixes log lines ("console", "dashboard"); `schema` accepts every message the webview may send. */
  protected constructor(
    env: PanelEnvironment,
    panel: vscode.WebviewPanel,
    state: TState,
    name: string,
    schema: z.ZodType<TMessage>,
  ) {
    super();
    this.panel = panel;
    this.log = env.logger;
    this.state = state;
    this.#extensionUri = env.extensionUri;
    this.#name = name;
    this.#schema = schema;
    panel.webview.options = webviewOptions(env.extensionUri);
    this.register(panel.webview.onDidReceiveMessage((message: unknown) => this.handleMessage(message)));
    this.register(
      panel.onDidChangeViewState(() => {
        // VS Code destroys a hidden webview's document; the next one says `ready` with what it shows.
        if (!panel.visible) this.#ready = false;
      }),
    );
    this.register(panel.onDidDispose(() => this.dispose()));
  }

  get target(): TState["target"] {
    return this.state.target;
  }

  reveal(viewColumn?: vscode.ViewColumn): void {
    this.panel.reveal(viewColumn);
  }

  /**
   * Handles one message from the webview. Public for tests; never throws: a message that does
   * not match the protocol is logged (rate-limited) and dropped before anything acts on it.
   */
  handleMessage(raw: unknown): void {
    let message: TMessage;
    try {
      const parsed = this.#schema.safeParse(raw);
      if (!parsed.success) {
        this.#invalid.warn(
          this.log,
          `${this.#name}: ignored a malformed message from the webview (${describeRaw(raw)})`,
        );
        return;
      }
      message = parsed.data;
    } catch (err) {
      this.log.warn(`${this.#name}: could not check a webview message: ${messageOf(err)}`);
      return;
    }
    try {
      this.onMessage(message);
    } catch (err) {
      this.log.error(`${this.#name}: handling ${message.method} failed: ${messageOf(err)}`);
    }
  }

  /** A validated message from the webview. */
  protected abstract onMessage(message: TMessage): void;

  /** Writes the page; call once, at the end of the subclass's constructor. */
  protected open(page: PanelPage): void {
    const webview = this.panel.webview;
    const extensionUri = this.#extensionUri;
    webview.html = renderWebviewHtml({
      title: page.title,
      nonce: createNonce(),
      cspSource: webview.cspSource,
      scriptUri: webview.asWebviewUri(webviewFile(extensionUri, page.script)).toString(),
      styleUris: page.styles.map((f) => webview.asWebviewUri(webviewFile(extensionUri, f)).toString()),
      ...(page.noncedStyles ? { noncedStyles: true } : {}),
    });
    // Disposal runs in reverse: the panel closes, then owners hear of it, then subscriptions end.
    this.register(toDisposable(() => this.#onDidDispose.fire()));
    this.register(toDisposable(() => this.panel.dispose()));
  }

  /** Whether the current webview document has said `ready` (and has not been dropped since). */
  protected get isReady(): boolean {
    return this.#ready;
  }

  protected markReady(): void {
    this.#ready = true;
  }

  /** Sends the messages held while the webview was not ready, in order. */
  protected flushHeld(): void {
    const held = this.#held;
    this.#held = [];
    for (const message of held) this.post(message);
  }

  /** Sends now if the webview is ready; otherwise holds the message (the newest `maxHeldMessages`). */
  protected post(message: IpcMessage): void {
    if (this.isDisposed) return;
    if (!this.#ready) {
      this.#held.push(message);
      if (this.#held.length > maxHeldMessages) this.#held.splice(0, this.#held.length - maxHeldMessages);
      return;
    }
    this.send(message);
  }

  /** Sends now, ready or not (the init message a `ready` is answered with). */
  protected send(message: IpcMessage): void {
    this.panel.webview
      .postMessage(message)
      .then(undefined, (err: unknown) =>
        this.log.debug(`${this.#name}: message not delivered: ${messageOf(err)}`),
      );
  }
}

/**
 * One panel per target: `show` reveals the open one or opens a new one, and `serializer`
 * revives panels VS Code restores after a reload (their saved state checked against `stateSchema`).
 */
export class PanelRegistry<
  TState extends { target: unknown },
  TPanel extends PanelHost<TState, { method: string }>,
> extends Disposable {
  readonly #panels = new Map<string, TPanel>();
  readonly #key: (target: TState["target"]) => string;
  /** Register with `vscode.window.registerWebviewPanelSerializer(viewType, …)`. */
  readonly serializer: vscode.WebviewPanelSerializer<unknown>;

  constructor(
    logger: Logger,
    name: string,
    stateSchema: z.ZodType<TState>,
    revive: (panel: vscode.WebviewPanel, state: TState) => TPanel,
    key: (target: TState["target"]) => string,
  ) {
    super();
    this.#key = key;
    this.serializer = {
      deserializeWebviewPanel: async (panel: vscode.WebviewPanel, state: unknown): Promise<void> => {
        const parsed = stateSchema.safeParse(state);
        if (!parsed.success) {
          logger.warn(`${name}: a restored panel had no usable state; closing it`);
          panel.dispose();
          return;
        }
        this.#adopt(revive(panel, parsed.data));
      },
    };
    this.register(toDisposable(() => [...this.#panels.values()].forEach((p) => p.dispose())));
  }

  get openPanels(): readonly TPanel[] {
    return [...this.#panels.values()];
  }

  /** Reveals the panel of `target`, or adopts the one `create` opens. */
  protected showOrCreate(
    target: TState["target"],
    viewColumn: vscode.ViewColumn | undefined,
    create: () => TPanel,
  ): TPanel {
    const existing = this.#panels.get(this.#key(target));
    if (existing) {
      existing.reveal(viewColumn);
      return existing;
    }
    return this.#adopt(create());
  }

  #adopt(panel: TPanel): TPanel {
    const key = this.#key(panel.target);
    this.#panels.get(key)?.dispose();
    this.#panels.set(key, panel);
    panel.onDidDispose(() => {
      if (this.#panels.get(key) === panel) this.#panels.delete(key);
    });
    return panel;
  }
}

/** Options of a new panel: the bundle folder and media/ are the only roots it may load from. */
export function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewPanelOptions & vscode.WebviewOptions {
  return {
    enableScripts: true,
    enableCommandUris: false,
    enableFindWidget: false,
    // A hidden panel costs nothing: VS Code drops its document, and `ready` rebuilds it from the host's state.
    retainContextWhenHidden: false,
    localResourceRoots: [joinUri(extensionUri, "dist", "webview"), joinUri(extensionUri, "media")],
  };
}

export function webviewFile(extensionUri: vscode.Uri, file: string): vscode.Uri {
  return joinUri(extensionUri, "dist", "webview", file);
}

function joinUri(base: vscode.Uri, ...segments: string[]): vscode.Uri {
  return base.with({ path: posix.join(base.path, ...segments) });
}

/** A fresh CSP nonce: 16 random bytes, base64. */
export function createNonce(): string {
  return randomBytes(16).toString("base64");
}

export interface WebviewPage {
  title: string;
  nonce: string;
  cspSource: string;
  scriptUri: string;
  styleUris: string[];
  /**
   * Allow `<style>` elements carrying the nonce. The console needs it: xterm.js adds style
   * elements at run time, and its webview stamps them with the page's nonce.
   */
  noncedStyles?: boolean;
}

/**
 * The page of a webview panel. Only the nonce and resource URIs go into it, all attribute-
 * escaped; every piece of data reaches the webview by message.
 */
export function renderWebviewHtml(page: WebviewPage): string {
  const nonce = escapeAttribute(page.nonce);
  const source = escapeAttribute(page.cspSource);
  const csp = [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src ${source}${page.noncedStyles ? ` 'nonce-${nonce}'` : ""}`,
    `font-src ${source}`,
    `img-src ${source}`,
  ].join("; ");
  const styles = page.styleUris
    .map((uri) => `    <link rel="stylesheet" href="${escapeAttribute(uri)}">`)
    .join("\n");
  return `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta http-equiv="Content-Security-Policy" content="${csp}">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>${escapeText(page.title)}</title>
${styles}
  </head>
  <body>
    <main id="app"></main>
    <script nonce="${nonce}" src="${escapeAttribute(page.scriptUri)}"></script>
  </body>
</html>
`;
}

function escapeAttribute(value: string): string {
  return value
    .replace(/&/g, "&amp;")
    .replace(/"/g, "&quot;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/'/g, "&#39;");
}

function escapeText(value: string): string {
  return value.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** What a rejected webview message looked like, for the log: its method at most, never its payload. */
export function describeRaw(raw: unknown): string {
  if (typeof raw !== "object" || raw === null) return typeof raw;
  const method = (raw as { method?: unknown }).method;
  return typeof method === "string" ? `method ${JSON.stringify(method.slice(0, 64))}` : "no method";
}

/**
 * A webview that floods us with garbage must not flood the log: the first few are logged, then
 * one line per thousand.
 */
export class RateLimitedWarning {
  #count = 0;
  warn(log: Logger, message: string): void {
    this.#count++;
    if (this.#count <= 5) log.warn(message);
    else if (this.#count % 1000 === 0) log.warn(`${message} — ${this.#count} ignored so far`);
  }
  get count(): number {
    return this.#count;
  }
}
