/**
 * Loads a webview bundle the way VS Code would — the production HTML template with its CSP,
 * nonce and resource URIs — into headless Chromium, with a fake `acquireVsCodeApi` that
 * records what the webview posts and keeps its state. The test plays the host's side.
 */
import { cp, mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as esbuild from "esbuild";
import type { Page } from "playwright-core";
import { createNonce, renderWebviewHtml } from "../../../extension/vscode/panels/panelHost";
import type { Browser } from "../../harness/browser";
import type { PageProbes } from "../../../webview/testing/pageProbeTypes";

const root = join(import.meta.dirname, "..", "..", "..");
const origin = "https://webview.test";

/** Builds the webview bundles from the current sources (same options as build.mjs) into a temp dir. */
export async function buildWebviews(
  panels: ("dashboard" | "console")[],
): Promise<{ dir: string; dispose(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "zones-webview-"));
  await esbuild.build({
    entryPoints: Object.fromEntries(panels.map((p) => [p, join(root, `webview/${p}/main.ts`)])),
    bundle: true,
    platform: "browser",
    format: "iife",
    target: "es2022",
    outdir: dir,
    loader: { ".css": "css" },
    logLevel: "warning",
    minify: true,
  });
  // The in-page test helpers, injected into test pages only.
  await esbuild.build({
    entryPoints: { probes: join(root, "webview/testing/pageProbes.ts") },
    bundle: true,
    platform: "browser",
    format: "iife",
    target: "es2022",
    outdir: dir,
    logLevel: "warning",
  });
  await cp(join(root, "node_modules/@xterm/xterm/css/xterm.css"), join(dir, "xterm.css"));
  await cp(join(root, "node_modules/uplot/dist/uPlot.min.css"), join(dir, "uPlot.min.css"));
  return { dir, dispose: () => rm(dir, { recursive: true, force: true }) };
}

export type ThemeName = "dark" | "light";

/** A subset of VS Code's Dark Modern / Light Modern colours, as the webview host injects them. */
export const themes: Record<ThemeName, { bodyClass: string; vars: Record<string, string> }> = {
  dark: {
    bodyClass: "vscode-dark",
    vars: {
      "--vscode-font-family": "system-ui, sans-serif",
      "--vscode-font-size": "13px",
      "--vscode-editor-font-family": "monospace",
      "--vscode-foreground": "#cccccc",
      "--vscode-editor-foreground": "#d4d4d4",
      "--vscode-editor-background": "#1f1f1f",
      "--vscode-charts-foreground": "#cccccc",
      "--vscode-charts-lines": "rgba(204, 204, 204, 0.35)",
      "--vscode-charts-red": "#f14c4c",
      "--vscode-charts-blue": "#3794ff",
      "--vscode-charts-yellow": "#cca700",
      "--vscode-charts-orange": "#d18616",
      "--vscode-charts-green": "#89d185",
      "--vscode-charts-purple": "#b180d7",
      "--vscode-button-background": "#0078d4",
      "--vscode-button-foreground": "#ffffff",
      "--vscode-focusBorder": "#0078d4",
      "--vscode-input-background": "#313131",
      "--vscode-input-foreground": "#cccccc",
      "--vscode-errorForeground": "#f85149",
      "--vscode-terminal-background": "#181818",
      "--vscode-terminal-foreground": "#cccccc",
    },
  },
  light: {
    bodyClass: "vscode-light",
    vars: {
      "--vscode-font-family": "system-ui, sans-serif",
      "--vscode-font-size": "13px",
      "--vscode-editor-font-family": "monospace",
      "--vscode-foreground": "#3b3b3b",
      "--vscode-editor-foreground": "#3b3b3b",
      "--vscode-editor-background": "#ffffff",
      "--vscode-charts-foreground": "#616161",
      "--vscode-charts-lines": "rgba(97, 97, 97, 0.35)",
      "--vscode-charts-red": "#e51400",
      "--vscode-charts-blue": "#1a85ff",
      "--vscode-charts-yellow": "#bf8803",
      "--vscode-charts-orange": "#d18616",
      "--vscode-charts-green": "#388a34",
      "--vscode-charts-purple": "#652d90",
      "--vscode-button-background": "#005fb8",
      "--vscode-button-foreground": "#ffffff",
      "--vscode-focusBorder": "#005fb8",
      "--vscode-input-background": "#ffffff",
      "--vscode-input-foreground": "#3b3b3b",
      "--vscode-errorForeground": "#f85149",
      "--vscode-terminal-background": "#ffffff",
      "--vscode-terminal-foreground": "#3b3b3b",
    },
  },
};

type ProbeResult<K extends keyof PageProbes> = Awaited<ReturnType<PageProbes[K]>>;

export interface WebviewPage {
  page: Page;
  /** CSP violations the page reported (must stay empty). */
  cspViolations: string[];
  pageErrors: string[];
  /** Runs one of the in-page helpers (webview/testing/pageProbes.ts). */
  probe<K extends keyof PageProbes>(name: K, ...args: Parameters<PageProbes[K]>): Promise<ProbeResult<K>>;
  /** Messages the webview posted to the host, in order. */
  posted(): Promise<{ method: string; params: unknown; id?: number }[]>;
  /** Plays the host: delivers a message to the webview. */
  send(message: unknown): Promise<void>;
  /** Waits until the webview has posted a message with this method. */
  waitForPosted(method: string, count?: number): Promise<void>;
  setTheme(theme: ThemeName): Promise<void>;
}

export interface OpenOptions {
  /** The page to serve instead of one rendered here, e.g. the HTML a panel host produced. */
  html?: string;
  /** Receives every message the page posts, as a panel host's onDidReceiveMessage would. */
  hostReceive?: (message: unknown) => void;
}

/** Opens `panel`'s bundle from `bundleDir` under the production CSP. */
export async function openWebview(
  browser: Browser,
  bundleDir: string,
  panel: "dashboard" | "console",
  theme: ThemeName,
  options: OpenOptions = {},
): Promise<WebviewPage> {
  const page = await browser.newPage();
  const cspViolations: string[] = [];
  const pageErrors: string[] = [];
  page.on("pageerror", (err) => pageErrors.push(err.message));
  page.on("console", (msg) => {
    if (/Content.Security.Policy|Refused to/i.test(msg.text())) cspViolations.push(msg.text());
  });
  await page.exposeFunction("__reportCspViolation", (text: string) => cspViolations.push(text));

  const hostReceive = options.hostReceive;
  if (hostReceive) await page.exposeFunction("__hostReceive", (message: unknown) => hostReceive(message));
  const nonce = createNonce();
  const html = (
    options.html ??
    renderWebviewHtml({
      title: panel,
      nonce,
      cspSource: origin,
      scriptUri: `${origin}/dist/webview/${panel}.js`,
      styleUris: (panel === "dashboard"
        ? ["uPlot.min.css", "dashboard.css"]
        : ["xterm.css", "console.css"]
      ).map((f) => `${origin}/dist/webview/${f}`),
      noncedStyles: panel === "console",
    })
  ).replace("<body>", `<body class="${themes[theme].bodyClass}">`);

  await page.route(`${origin}/**`, async (route) => {
    const url = new URL(route.request().url());
    if (url.pathname === `/${panel}.html`) {
      await route.fulfill({ status: 200, contentType: "text/html", body: html });
      return;
    }
    // Bundles under any prefix: a panel host's URIs carry the extension's path.
    const match = /^(?:\/[\w.-]+)*\/dist\/webview\/([\w.-]+)$/.exec(url.pathname);
    if (!match) {
      await route.fulfill({ status: 404, body: "not found" });
      return;
    }
    const file = match[1]!;
    try {
      const body = await readFile(join(bundleDir, file));
      await route.fulfill({
        status: 200,
        contentType: file.endsWith(".css") ? "text/css" : "text/javascript",
        body,
      });
    } catch {
      await route.fulfill({ status: 404, body: "not found" });
    }
  });

  // A string, not a function: tsx compiles functions with esbuild's keepNames, whose `__name`
  // helper does not exist in the page. The shim lets the tests' own page.evaluate callbacks run.
  await page.addInitScript(`
    window.__name = (f) => f;
    window.__posted = [];
    window.__state = undefined;
    let acquired = false;
    window.acquireVsCodeApi = () => {
      if (acquired) throw new Error("acquireVsCodeApi called twice");
      acquired = true;
      return {
        postMessage: (m) => {
          const copy = JSON.parse(JSON.stringify(m));
          window.__posted.push(copy);
          if (window.__hostReceive) void window.__hostReceive(copy);
        },
        getState: () => window.__state,
        setState: (s) => { window.__state = JSON.parse(JSON.stringify(s)); },
      };
    };
    // VS Code sets its theme variables through the CSSOM (allowed under the CSP) before the page's scripts run.
    const vars = ${JSON.stringify(themes[theme].vars)};
    const applyVars = () => { for (const [k, v] of Object.entries(vars)) document.documentElement.style.setProperty(k, v); };
    if (document.documentElement) applyVars();
    else new MutationObserver((_m, observer) => { if (document.documentElement) { observer.disconnect(); applyVars(); } }).observe(document, { childList: true });
    document.addEventListener("securitypolicyviolation", (e) => window.__reportCspViolation(e.violatedDirective + ": " + e.blockedURI));
  `);
  await page.addInitScript({ content: await readFile(join(bundleDir, "probes.js"), "utf8") });

  await page.goto(`${origin}/${panel}.html`);

  const probe = <K extends keyof PageProbes>(
    name: K,
    ...args: Parameters<PageProbes[K]>
  ): Promise<ProbeResult<K>> =>
    page.evaluate(
      ([n, a]) =>
        (globalThis as unknown as { zonesProbes: Record<string, (...x: unknown[]) => unknown> }).zonesProbes[
          n
        ]!(...a),
      [name, args] as [string, unknown[]],
    ) as Promise<ProbeResult<K>>;
  const wp: WebviewPage = {
    page,
    cspViolations,
    pageErrors,
    probe,
    posted: () => probe("posted"),
    send: (message) => probe("send", message),
    waitForPosted: async (method, count = 1) => {
      const deadline = Date.now() + 15_000;
      while ((await probe("posted")).filter((m) => m.method === method).length < count) {
        if (Date.now() > deadline) throw new Error(`the webview did not post ${method} ×${count}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    setTheme: async (name) => {
      // what VS Code does on a theme switch: new variables, new body class
      const { bodyClass, vars } = themes[name];
      await page.evaluate(
        ([cls, v]) => {
          const g = globalThis as unknown as {
            document: {
              documentElement: { style: { setProperty(k: string, x: string): void } };
              body: { className: string };
            };
          };
          for (const [k, x] of Object.entries(v)) g.document.documentElement.style.setProperty(k, x);
          g.document.body.className = cls;
        },
        [bodyClass, vars] as [string, Record<string, string>],
      );
    },
  };
  return wp;
}

/** How much of a screenshot is not background, decoded in the page. */
export async function imageStats(wp: WebviewPage, png: Buffer): Promise<ProbeResult<"imageStats">> {
  return wp.probe("imageStats", png.toString("base64"));
}

/** Saves a screenshot under test/.artifacts/ and returns its bytes. */
export async function saveScreenshot(page: Page, name: string): Promise<Buffer> {
  const dir = join(root, "test", ".artifacts");
  await mkdir(dir, { recursive: true });
  return page.screenshot({ path: join(dir, `${name}.png`), fullPage: true });
}
