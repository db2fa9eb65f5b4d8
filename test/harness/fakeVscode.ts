/**
 * Just enough of VS Code's webview API to drive the panel hosts in Node: a panel whose webview
 * records what the host posts and lets the test play the webview's side.
 */
import type * as vscode from "vscode";
import { Emitter } from "../../extension/core/events";
import { loggerFrom, type Logger } from "../../extension/core/log";
import type { PanelEnvironment } from "../../extension/vscode/panels/panelHost";

export class FakeUri {
  constructor(
    readonly scheme: string,
    readonly path: string,
  ) {}
  with(change: { path?: string; scheme?: string }): FakeUri {
    return new FakeUri(change.scheme ?? this.scheme, change.path ?? this.path);
  }
  toString(): string {
    return `${this.scheme}://ext${this.path}`;
  }
}

/** A message the host posted; payloads are read loosely, as the webview would. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests reach into arbitrary payload shapes
export type Posted = { method: string; params: any; id?: number };

export class FakeWebview {
  html = "";
  options: vscode.WebviewOptions = {};
  readonly cspSource = "https://webview.test";
  readonly posted: Posted[] = [];
  readonly #onDidReceiveMessage = new Emitter<unknown>();
  readonly onDidReceiveMessage = this.#onDidReceiveMessage.event;

  asWebviewUri(uri: FakeUri): FakeUri {
    return new FakeUri("https", `/webview.test${uri.path}`);
  }
  postMessage(message: unknown): Promise<boolean> {
    this.posted.push(structuredClone(message) as Posted);
    return Promise.resolve(true);
  }
  /** The webview side sends a message to the host. */
  send(message: unknown): void {
    this.#onDidReceiveMessage.fire(message);
  }
  ofMethod(method: string): Posted[] {
    return this.posted.filter((m) => m.method === method);
  }
}

export class FakePanel {
  readonly webview = new FakeWebview();
  title: string;
  visible = true;
  disposed = false;
  revealed = 0;
  readonly #onDidDispose = new Emitter<void>();
  readonly onDidDispose = this.#onDidDispose.event;
  readonly #onDidChangeViewState = new Emitter<unknown>();
  readonly onDidChangeViewState = this.#onDidChangeViewState.event;

  constructor(
    readonly viewType: string,
    title: string,
    readonly options: unknown,
  ) {
    this.title = title;
  }
  reveal(): void {
    this.revealed++;
  }
  setVisible(visible: boolean): void {
    this.visible = visible;
    this.#onDidChangeViewState.fire({ webviewPanel: this });
  }
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.#onDidDispose.fire();
  }
}

/** A panel environment whose createWebviewPanel hands out FakePanels, with a collecting logger. */
export function fakeEnvironment(): {
  env: PanelEnvironment;
  panels: FakePanel[];
  logs: string[];
  logger: Logger;
} {
  const panels: FakePanel[] = [];
  const logs: string[] = [];
  const logger = loggerFrom((level, line) => logs.push(`${level}: ${line}`), "trace");
  const env: PanelEnvironment = {
    window: {
      createWebviewPanel: ((viewType: string, title: string, _show: unknown, options: unknown) => {
        const panel = new FakePanel(viewType, title, options);
        panels.push(panel);
        return panel;
      }) as unknown as typeof vscode.window.createWebviewPanel,
    },
    extensionUri: new FakeUri("file", "/ext") as unknown as vscode.Uri,
    logger,
  };
  return { env, panels, logs, logger };
}

export const asPanel = (panel: FakePanel): vscode.WebviewPanel => panel as unknown as vscode.WebviewPanel;

/** A deterministic random source for fuzzing. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random junk of any JSON-ish shape (plus the values JSON cannot carry). */
export function randomValue(rand: () => number, depth = 0): unknown {
  const pick = Math.floor(rand() * (depth > 3 ? 8 : 11));
  switch (pick) {
    case 0:
      return null;
    case 1:
      return undefined;
    case 2:
      return rand() < 0.5;
    case 3:
      return [0, -1, 1.5, NaN, Infinity, -Infinity, 2 ** 53, -0, 1e308][Math.floor(rand() * 9)];
    case 4:
      return Math.floor(rand() * 1e6) - 5e5;
    case 5:
      return [
        "",
        "dashboard/ready",
        "console/input",
        "__proto__",
        "constructor",
        "x".repeat(70_000),
        "\u0000\uffff",
        "dashboard/resize/response",
      ][Math.floor(rand() * 8)];
    case 6:
      return String.fromCharCode(
        ...Array.from({ length: Math.floor(rand() * 20) }, () => Math.floor(rand() * 0xffff)),
      );
    case 7:
      return BigInt(Math.floor(rand() * 100));
    case 8:
      return Array.from({ length: Math.floor(rand() * 4) }, () => randomValue(rand, depth + 1));
    case 9: {
      const o: Record<string, unknown> = {};
      for (let i = Math.floor(rand() * 4); i > 0; i--) o[randomKey(rand)] = randomValue(rand, depth + 1);
      return o;
    }
    default:
      return JSON.parse('{"__proto__": {"polluted": true}, "method": "dashboard/ready"}');
  }
}

function randomKey(rand: () => number): string {
  return [
    "method",
    "params",
    "id",
    "data",
    "cols",
    "rows",
    "text",
    "targetCpus",
    "targetMemoryMiB",
    "shownOffset",
    "windowSeconds",
    "__proto__",
    "x",
  ][Math.floor(rand() * 13)]!;
}
