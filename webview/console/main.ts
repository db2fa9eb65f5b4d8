/**
 * The console webview: xterm.js showing a zone's kernel console or a workload's console.
 *
 * Every output message carries its byte offset in the console's stream; the page remembers how
 * far it has written and drops anything below that, so a replay after a reconnect never shows
 * a line twice. Input, resizes and copies go to the host, which checks them before acting.
 */
import "./console.css";
import { Terminal, type ITheme } from "@xterm/xterm";
import { FitAddon } from "@xterm/addon-fit";
import { SearchAddon } from "@xterm/addon-search";
import { onThemeChange, readTheme } from "../common/theme";
import { onHostMessage, vscodeApi } from "../common/vscodeApi";
import {
  ConsoleInitNotification,
  ConsoleReadyCommand,
  ConsoleStatusNotification,
  CopyCommand,
  DiscontinuityNotification,
  InputCommand,
  OutputNotification,
  ResizeCommand,
  consoleLimits,
  type ConsoleState,
  type ConsoleStatusPayload,
} from "./protocol";

// xterm.js adds <style> elements at run time. The CSP admits styles only from our files or with
// this page's nonce, so stamp every style element created from here on with that nonce.
const pageNonce = (document.currentScript as HTMLScriptElement | null)?.nonce ?? "";
const createElement = document.createElement.bind(document);
document.createElement = (tagName: string, options?: ElementCreationOptions): HTMLElement => {
  const element = createElement(tagName, options);
  if (pageNonce && element instanceof HTMLStyleElement) element.nonce = pageNonce;
  return element;
};

const vscode = vscodeApi<ConsoleState>();

/** Bytes of the stream written to the terminal so far (the offset just past them). */
let shownOffset = 0;
let canWrite = false;
let canResize = false;
let lastSize = "";

// ── layout ───────────────────────────────────────────────────────────────────────────────────
const app = document.getElementById("app")!;
const toolbar = el("header", "toolbar");
const title = el("h1", "title");
title.textContent = "Console";
const status = el("span", "status");
status.setAttribute("role", "status");
const searchInput = el("input", "search");
searchInput.type = "search";
searchInput.placeholder = "Find";
searchInput.setAttribute("aria-label", "Find in console");
const previousButton = button("↑", "Previous match (Shift+Enter)", () => find(false));
const nextButton = button("↓", "Next match (Enter)", () => find(true));
const copyButton = button("Copy", "Copy the selection (Ctrl+Shift+C)", () => copySelection());
copyButton.id = "copy";
const clearButton = button("Clear", "Clear the screen (output keeps arriving)", () => terminal.clear());
clearButton.id = "clear";
toolbar.append(title, status, searchInput, previousButton, nextButton, copyButton, clearButton);
const terminalElement = el("div", "console-host");
app.append(toolbar, terminalElement);

// ── terminal ─────────────────────────────────────────────────────────────────────────────────
const terminal = new Terminal({
  scrollback: 10_000,
  convertEol: false,
  cursorBlink: false,
  fontFamily: cssVar("--vscode-editor-font-family") || "monospace",
  fontSize: Number.parseInt(cssVar("--vscode-editor-font-size"), 10) || 13,
  theme: terminalTheme(),
});
const fit = new FitAddon();
const search = new SearchAddon();
terminal.loadAddon(fit);
terminal.loadAddon(search);
terminal.open(terminalElement);
terminal.attachCustomKeyEventHandler((event) => {
  if (event.type === "keydown" && event.ctrlKey && event.shiftKey && event.code === "KeyC") {
    copySelection();
    return false;
  }
  if (event.type === "keydown" && event.ctrlKey && event.shiftKey && event.code === "KeyF") {
    searchInput.focus();
    return false;
  }
  return true;
});
terminal.onData((data) => {
  if (!canWrite) return;
  // The host refuses bigger messages; a huge paste goes in pieces.
  for (let i = 0; i < data.length; i += consoleLimits.maxInputChars)
    vscode.postMessage(InputCommand.create({ data: data.slice(i, i + consoleLimits.maxInputChars) }));
});
terminal.onResize(({ cols, rows }) => reportSize(cols, rows));

let fitTimer: number | undefined;
new ResizeObserver(() => {
  // Fit after the layout settles; a drag of the panel edge fires many of these.
  window.clearTimeout(fitTimer);
  fitTimer = window.setTimeout(() => fit.fit(), 50);
}).observe(terminalElement);

searchInput.addEventListener("keydown", (event) => {
  if (event.key === "Enter") {
    event.preventDefault();
    find(!event.shiftKey);
  } else if (event.key === "Escape") {
    search.clearDecorations();
    terminal.focus();
  }
});

onThemeChange(() => {
  terminal.options.theme = terminalTheme();
});

// ── messages ─────────────────────────────────────────────────────────────────────────────────
onHostMessage((message) => {
  if (ConsoleInitNotification.is(message)) {
    const params = message.params;
    vscode.setState(params.state);
    title.textContent = params.title;
    document.title = params.title;
    canWrite = params.canWrite;
    canResize = params.canResize;
    terminal.options.disableStdin = !canWrite;
    terminal.options.convertEol = params.convertEol;
    showStatus(params.status);
    fit.fit();
    reportSize(terminal.cols, terminal.rows);
  } else if (OutputNotification.is(message)) {
    write(message.params.offset, decodeBase64(message.params.data));
  } else if (DiscontinuityNotification.is(message)) {
    if (message.params.offset < shownOffset) return;
    terminal.write(`\r\n\x1b[2m[${message.params.reason}]\x1b[0m\r\n`);
    shownOffset = message.params.offset;
  } else if (ConsoleStatusNotification.is(message)) {
    showStatus(message.params.status);
  }
});

// A new document shows nothing yet: the host replays from offset 0 (or the oldest it holds).
vscode.postMessage(ConsoleReadyCommand.create({ shownOffset }));

/** Exposed for tests and debugging: how far output has been written. */
(window as unknown as { zonesConsole: { shownOffset(): number } }).zonesConsole = {
  shownOffset: () => shownOffset,
};

// ── behaviour ────────────────────────────────────────────────────────────────────────────────
/** Writes the part of `data` (which starts at `offset`) not shown yet. */
function write(offset: number, data: Uint8Array): void {
  const end = offset + data.length;
  if (end <= shownOffset) return;
  const fresh = offset < shownOffset ? data.subarray(shownOffset - offset) : data;
  shownOffset = end;
  terminal.write(fresh);
}

function reportSize(cols: number, rows: number): void {
  const size = `${cols}x${rows}`;
  if (!canResize || size === lastSize || cols < 1 || rows < 1) return;
  lastSize = size;
  vscode.postMessage(
    ResizeCommand.create({
      cols: Math.min(cols, consoleLimits.maxCols),
      rows: Math.min(rows, consoleLimits.maxRows),
    }),
  );
}

function copySelection(): void {
  if (!terminal.hasSelection()) return;
  const text = terminal.getSelection().slice(0, consoleLimits.maxCopyChars);
  vscode.postMessage(CopyCommand.create({ text }));
}

function find(forward: boolean): void {
  const term = searchInput.value;
  if (!term) return;
  const found = forward ? search.findNext(term) : search.findPrevious(term);
  searchInput.classList.toggle("not-found", !found);
}

function showStatus(s: ConsoleStatusPayload): void {
  status.dataset["state"] = s.state;
  switch (s.state) {
    case "connected":
      status.textContent = "";
      break;
    case "connecting":
      status.textContent = "Connecting…";
      break;
    case "reconnecting":
      status.textContent = `Reconnecting: ${s.message}`;
      break;
    case "ended":
      status.textContent = s.exitCode === undefined ? s.message : `${s.message} (exit code ${s.exitCode})`;
      break;
  }
}

function terminalTheme(): ITheme {
  const theme = readTheme();
  return {
    background: cssVar("--vscode-terminal-background") || theme.background,
    foreground: cssVar("--vscode-terminal-foreground") || theme.foreground,
    cursor: cssVar("--vscode-terminalCursor-foreground") || theme.foreground,
    selectionBackground: cssVar("--vscode-terminal-selectionBackground") || "rgba(128, 128, 128, 0.4)",
  };
}

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function decodeBase64(data: string): Uint8Array {
  const binary = atob(data);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (className) element.className = className;
  return element;
}

function button(text: string, tooltip: string, action: () => void): HTMLButtonElement {
  const b = el("button");
  b.type = "button";
  b.textContent = text;
  b.title = tooltip;
  b.addEventListener("click", action);
  return b;
}
