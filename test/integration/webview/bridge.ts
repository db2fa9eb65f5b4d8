/**
 * A stand-in for VS Code's WebviewPanel that carries messages between a real panel host
 * (DashboardPanel, ConsolePanel) and its real webview bundle running in Chromium. Only VS Code
 * itself is missing: the HTML, the CSP, the messages and both sides' code are the product's.
 */
import type * as vscode from "vscode";
import { Emitter } from "../../../extension/core/events";
import type { Logger } from "../../../extension/core/log";
import type { PanelEnvironment } from "../../../extension/vscode/panels/panelHost";
import type { Browser } from "../../harness/browser";
import type { Posted } from "../../harness/fakeVscode";
import { openWebview, type ThemeName, type WebviewPage } from "./webviewPage";

const origin = "https://webview.test";

class BridgeUri {
  constructor(readonly path: string) {}
  with(change: { path?: string }): BridgeUri {
    return new BridgeUri(change.path ?? this.path);
  }
  toString(): string {
    return `${origin}${this.path}`;
  }
}

export class BridgedWebview {
  html = "";
  options: unknown = {};
  readonly cspSource = origin;
  /** Everything the host posted, in order. */
  readonly posted: Posted[] = [];
  page: WebviewPage | undefined;
  readonly #onDidReceiveMessage = new Emitter<unknown>();
  readonly onDidReceiveMessage = this.#onDidReceiveMessage.event;

  asWebviewUri(uri: BridgeUri): BridgeUri {
    return uri;
  }

  /** Messages posted while the page object is still being set up (its `ready` came first). */
  #early: Posted[] = [];

  async postMessage(message: unknown): Promise<boolean> {
    // VS Code serialises messages as JSON on the way in
    const copy = JSON.parse(JSON.stringify(message)) as Posted;
    this.posted.push(copy);
    if (!this.page) {
      this.#early.push(copy);
      return true;
    }
    await this.page.send(copy);
    return true;
  }

  async attach(page: WebviewPage): Promise<void> {
    this.page = page;
    const early = this.#early;
    this.#early = [];
    for (const message of early) await page.send(message);
  }

  receive(message: unknown): void {
    this.#onDidReceiveMessage.fire(message);
  }
}

export class BridgedPanel {
  readonly webview = new BridgedWebview();
  title = "";
  visible = true;
  readonly #onDidDispose = new Emitter<void>();
  readonly onDidDispose = this.#onDidDispose.event;
  readonly #onDidChangeViewState = new Emitter<unknown>();
  readonly onDidChangeViewState = this.#onDidChangeViewState.event;
  disposed = false;

  reveal(): void {}

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.#onDidDispose.fire();
  }

  /** Loads the HTML the host produced into a Chromium page and connects the two sides. */
  async open(
    browser: Browser,
    bundleDir: string,
    panel: "dashboard" | "console",
    theme: ThemeName = "dark",
  ): Promise<WebviewPage> {
    const page = await openWebview(browser, bundleDir, panel, theme, {
      html: this.webview.html,
      hostReceive: (m) => this.webview.receive(m),
    });
    await this.webview.attach(page);
    return page;
  }
}

/** A panel environment whose panels are BridgedPanels. */
export function bridgeEnvironment(logger: Logger): { env: PanelEnvironment; panels: BridgedPanel[] } {
  const panels: BridgedPanel[] = [];
  const env: PanelEnvironment = {
    window: {
      createWebviewPanel: (() => {
        const panel = new BridgedPanel();
        panels.push(panel);
        return panel;
      }) as unknown as typeof vscode.window.createWebviewPanel,
    },
    extensionUri: new BridgeUri("/ext") as unknown as vscode.Uri,
    logger,
  };
  return { env, panels };
}
