/**
 * The resource dashboard's host side: one webview panel per zone (or per host), fed from the
 * host's MetricsSampler, with the Resize control mapped onto an injected UpdateZoneResources.
 *
 * VS Code is reached only through injected values (`PanelEnvironment`): this file imports
 * vscode types, never the module, so its message handling runs in plain Node tests.
 *
 * Wiring (composition root):
 *   const dashboards = ctx.register(new DashboardPanels(env, deps));
 *   ctx.register(vscode.window.registerWebviewPanelSerializer(DashboardPanel.viewType, dashboards.serializer));
 *   dashboards.show({ kind: "zone", hostId, zoneId });
 * and package.json needs the activation event `onWebviewPanel:zones.dashboard`.
 */
import type * as vscode from "vscode";
import { randomBytes } from "node:crypto";
import { posix } from "node:path";
import { Disposable, toDisposable } from "../../core/lifecycle";
import { Emitter, type Event } from "../../core/events";
import { messageOf } from "../../core/errors";
import type { Logger } from "../../core/log";
import type { MetricsSampler } from "../../core/metrics/sampler";
import type { HistoryChange, MetricsHistory, SamplingStatus } from "../../core/metrics/history";
import type { Marker, ProcessInfo, ZoneLimits } from "../../core/metrics/types";
import type { SeriesWindow } from "../../core/metrics/ringBuffer";
import type { IpcMessage } from "../../../webview/shared/ipc";
import {
  InitNotification,
  LimitsNotification,
  MarkerNotification,
  ProcessesNotification,
  ResizeRequest,
  SamplesNotification,
  StatusNotification,
  TitleNotification,
  ZoneNamesNotification,
  dashboardSchemas,
  type DashboardState,
  type DashboardTarget,
  type DashboardWebviewMessage,
  type LimitsPayload,
  type MarkerPayload,
  type ProcessPayload,
  type SeriesPayload,
  type StatusPayload,
} from "../../../webview/dashboard/protocol";

/** What panels need from VS Code. Pass `vscode.window` and `context.extensionUri`. */
export interface PanelEnvironment {
  window: Pick<typeof vscode.window, "createWebviewPanel">;
  extensionUri: vscode.Uri;
  logger: Logger;
}

/** The dashboard's data sources. */
export interface DashboardDependencies {
  /** The sampler of a configured host; undefined when the host is not (or no longer) configured. */
  sampler(hostId: string): MetricsSampler | undefined;
  /** Sets a zone's target CPUs and memory (UpdateZoneResources). Rejects with a readable error. */
  resize(hostId: string, zoneId: string, targetCpus: number, targetMemoryMiB: number, signal: AbortSignal): Promise<void>;
  /** A host's display name; the host id when absent. */
  hostLabel?(hostId: string): string;
}

/** Processes sent to the table at most; a zone running more shows the biggest by memory. */
const maxProcessRows = 500;
/** Messages held for a webview that has not said `ready`; older ones are dropped beyond this. */
const maxHeldMessages = 1000;

export class DashboardPanel extends Disposable {
  static readonly viewType = "zones.dashboard";

  readonly #panel: vscode.WebviewPanel;
  readonly #deps: DashboardDependencies;
  readonly #log: Logger;
  readonly #state: DashboardState;
  readonly #sampler: MetricsSampler | undefined;
  readonly #history: MetricsHistory | undefined;
  #ready = false;
  #held: IpcMessage[] = [];
  #zoneNames: Record<string, string> = {};
  #resizing: AbortController | null = null;
  readonly #invalid = new RateLimitedWarning();
  readonly #onDidDispose = this.register(new Emitter<void>());
  readonly onDidDispose: Event<void> = this.#onDidDispose.event;

  /** Opens a new panel for `state.target`. */
  static create(env: PanelEnvironment, deps: DashboardDependencies, state: DashboardState, viewColumn?: vscode.ViewColumn): DashboardPanel {
    const panel = env.window.createWebviewPanel(
      DashboardPanel.viewType,
      "Resources",
      { viewColumn: viewColumn ?? -1 /* ViewColumn.Active; the enum is a runtime value */, preserveFocus: false },
      webviewOptions(env.extensionUri),
    );
    return new DashboardPanel(env, deps, panel, state);
  }

  constructor(env: PanelEnvironment, deps: DashboardDependencies, panel: vscode.WebviewPanel, state: DashboardState) {
    super();
    this.#panel = panel;
    this.#deps = deps;
    this.#log = env.logger;
    this.#state = state;
    this.#sampler = deps.sampler(state.target.hostId);

    panel.webview.options = webviewOptions(env.extensionUri);
    this.#refreshTitle();
    panel.webview.html = renderWebviewHtml({
      title: panel.title,
      nonce: createNonce(),
      cspSource: panel.webview.cspSource,
      scriptUri: panel.webview.asWebviewUri(webviewFile(env.extensionUri, "dashboard.js")).toString(),
      styleUris: ["uPlot.min.css", "dashboard.css"].map((f) => panel.webview.asWebviewUri(webviewFile(env.extensionUri, f)).toString()),
    });

    this.register(panel.webview.onDidReceiveMessage((message: unknown) => this.handleMessage(message)));
    this.register(
      panel.onDidChangeViewState(() => {
        // VS Code destroys a hidden webview's document; the next one will say `ready` again.
        if (!panel.visible) this.#ready = false;
      }),
    );
    this.register(panel.onDidDispose(() => this.dispose()));
    this.register(toDisposable(() => this.#resizing?.abort(new Error("panel closed"))));

    if (this.#sampler) {
      const sampler = this.#sampler;
      const listener = (change: HistoryChange): void => this.#onHistoryChange(change);
      if (state.target.kind === "zone") {
        this.register(sampler.subscribe(state.target.zoneId, listener));
        this.#history = sampler.history(state.target.zoneId);
      } else {
        this.register(sampler.subscribeHost(listener));
        this.#history = sampler.hostHistory;
      }
    } else {
      this.#history = undefined;
    }
    // Disposal runs in reverse: the panel closes, then owners hear of it, then subscriptions end.
    this.register(toDisposable(() => this.#onDidDispose.fire()));
    this.register(toDisposable(() => panel.dispose()));
  }

  get target(): DashboardTarget {
    return this.#state.target;
  }

  reveal(viewColumn?: vscode.ViewColumn): void {
    this.#panel.reveal(viewColumn);
  }

  /**
   * Handles one message from the webview. Public for tests; never throws: a message that does
   * not match the protocol is logged (rate-limited) and dropped before anything acts on it.
   */
  handleMessage(raw: unknown): void {
    let message: DashboardWebviewMessage;
    try {
      const parsed = dashboardSchemas.webviewMessage.safeParse(raw);
      if (!parsed.success) {
        this.#invalid.warn(this.#log, `dashboard: ignored a malformed message from the webview (${describeRaw(raw)})`);
        return;
      }
      message = parsed.data;
    } catch (err) {
      this.#log.warn(`dashboard: could not check a webview message: ${messageOf(err)}`);
      return;
    }
    try {
      switch (message.method) {
        case "dashboard/ready":
          this.#onReady();
          break;
        case "dashboard/windowChanged":
          this.#log.debug(`dashboard: window set to ${message.params.windowSeconds} s`);
          break;
        case "dashboard/resize":
          void this.#onResize(message.id, message.params.targetCpus, message.params.targetMemoryMiB); // replies to the webview itself
          break;
      }
    } catch (err) {
      this.#log.error(`dashboard: handling ${message.method} failed: ${messageOf(err)}`);
    }
  }

  #title(): string {
    const target = this.#state.target;
    const host = this.#deps.hostLabel?.(target.hostId) ?? target.hostId;
    if (target.kind === "host") return `Resources: ${host}`;
    const name = this.#sampler?.zoneName(target.zoneId) ?? target.zoneId.slice(0, 8);
    return `Resources: ${name} (${host})`;
  }

  #onReady(): void {
    this.#ready = true;
    const history = this.#history;
    const status: StatusPayload = history
      ? statusPayload(history.status)
      : { state: "error", message: `Host ${this.#state.target.hostId} is not configured.` };
    const series = history ? seriesPayload(history.ring.snapshot()) : { times: [], columns: {} };
    this.#zoneNames = this.#currentZoneNames(Object.keys(series.columns));
    this.#panel.webview.postMessage(
      InitNotification.create({
        state: this.#state,
        title: this.#panel.title,
        series,
        limits: history?.limits ? limitsPayload(history.limits) : null,
        markers: history ? history.markers.map(markerPayload) : [],
        processes: history ? processesPayload(history.processes) : [],
        status,
        zoneNames: this.#zoneNames,
        canResize: this.#state.target.kind === "zone" && this.#sampler !== undefined,
        intervalMs: this.#sampler?.intervalMs ?? 1000,
      }),
    ).then(undefined, (err: unknown) => this.#log.debug(`dashboard: init not delivered: ${messageOf(err)}`));
    const held = this.#held;
    this.#held = [];
    for (const message of held) this.#post(message);
  }

  /**
   * Names the tab after the zone once its name is known. A panel restored after a reload is
   * revived before the host has listed its zones: it keeps the title VS Code saved until then.
   */
  #refreshTitle(): void {
    const target = this.#state.target;
    if (target.kind === "zone" && this.#sampler?.zoneName(target.zoneId) === null && this.#panel.title.startsWith("Resources: ")) return;
    const title = this.#title();
    if (this.#panel.title === title) return;
    this.#panel.title = title;
    if (this.#ready) this.#post(TitleNotification.create({ title }));
  }

  #onHistoryChange(change: HistoryChange): void {
    if (this.isDisposed) return;
    // The name comes with the zone's events; a restored panel learns it after the host is listed.
    this.#refreshTitle();
    // Before `ready` nothing is queued: the init message carries the whole history anyway.
    if (!this.#ready) return;
    switch (change.kind) {
      case "sample": {
        const columns: Record<string, (number | null)[]> = {};
        for (const [name, value] of Object.entries(change.row)) columns[name] = [Number.isNaN(value) ? null : value];
        this.#post(SamplesNotification.create({ series: { times: [change.time], columns } }));
        if (this.#state.target.kind === "host") this.#updateZoneNames(Object.keys(columns));
        break;
      }
      case "gap":
        this.#post(SamplesNotification.create({ series: { times: [change.time], columns: {} } }));
        break;
      case "marker":
        this.#post(MarkerNotification.create({ marker: markerPayload(change.marker) }));
        break;
      case "limits":
        this.#post(LimitsNotification.create({ limits: limitsPayload(change.limits) }));
        break;
      case "processes":
        this.#post(ProcessesNotification.create({ processes: processesPayload(change.processes) }));
        break;
      case "status":
        this.#post(StatusNotification.create({ status: statusPayload(change.status) }));
        break;
    }
  }

  async #onResize(id: number, targetCpus: number, targetMemoryMiB: number): Promise<void> {
    const target = this.#state.target;
    if (target.kind !== "zone") {
      this.#post(ResizeRequest.reply(id, { ok: false, message: "Only a zone can be resized." }));
      return;
    }
    if (this.#resizing) {
      this.#post(ResizeRequest.reply(id, { ok: false, message: "A resize is already in progress." }));
      return;
    }
    const controller = new AbortController();
    this.#resizing = controller;
    this.#log.info(`dashboard: resizing zone ${target.zoneId} on ${target.hostId} to ${targetCpus} vCPU, ${targetMemoryMiB} MiB`);
    try {
      await this.#deps.resize(target.hostId, target.zoneId, targetCpus, targetMemoryMiB, controller.signal);
      this.#post(ResizeRequest.reply(id, { ok: true, result: null }));
    } catch (err) {
      const message = messageOf(err);
      this.#log.warn(`dashboard: resizing zone ${target.zoneId} failed: ${message}`);
      this.#post(ResizeRequest.reply(id, { ok: false, message: `Resize failed: ${message}` }));
    } finally {
      if (this.#resizing === controller) this.#resizing = null;
    }
  }

  #currentZoneNames(columns: string[]): Record<string, string> {
    const names: Record<string, string> = {};
    if (this.#state.target.kind !== "host") return names;
    for (const column of columns) {
      const zoneId = zoneIdOfColumn(column);
      if (zoneId) names[zoneId] = this.#sampler?.zoneName(zoneId) ?? zoneId.slice(0, 8);
    }
    return names;
  }

  #updateZoneNames(columns: string[]): void {
    const names = this.#currentZoneNames(columns);
    const changed = Object.entries(names).some(([id, name]) => this.#zoneNames[id] !== name);
    if (!changed) return;
    this.#zoneNames = { ...this.#zoneNames, ...names };
    this.#post(ZoneNamesNotification.create({ zoneNames: this.#zoneNames }));
  }

  #post(message: IpcMessage): void {
    if (this.isDisposed) return;
    if (!this.#ready) {
      this.#held.push(message);
      if (this.#held.length > maxHeldMessages) this.#held.splice(0, this.#held.length - maxHeldMessages);
      return;
    }
    this.#panel.webview.postMessage(message).then(undefined, (err: unknown) => this.#log.debug(`dashboard: message not delivered: ${messageOf(err)}`));
  }

  override dispose(): void {
    if (this.isDisposed) return;
    super.dispose();
  }
}

/** Opens one dashboard per target, reveals it when asked again, restores panels after a reload. */
export class DashboardPanels extends Disposable {
  readonly #panels = new Map<string, DashboardPanel>();
  /** Register with `vscode.window.registerWebviewPanelSerializer(DashboardPanel.viewType, …)`. */
  readonly serializer: vscode.WebviewPanelSerializer<unknown>;
  readonly #env: PanelEnvironment;
  readonly #deps: DashboardDependencies;

  constructor(env: PanelEnvironment, deps: DashboardDependencies) {
    super();
    this.#env = env;
    this.#deps = deps;
    this.serializer = {
      deserializeWebviewPanel: async (panel: vscode.WebviewPanel, state: unknown): Promise<void> => {
        const parsed = dashboardSchemas.state.safeParse(state);
        if (!parsed.success) {
          env.logger.warn("dashboard: a restored panel had no usable state; closing it");
          panel.dispose();
          return;
        }
        this.#adopt(new DashboardPanel(env, deps, panel, parsed.data));
      },
    };
    this.register(toDisposable(() => [...this.#panels.values()].forEach((p) => p.dispose())));
  }

  /** Shows the dashboard of `target`, opening it if needed. */
  show(target: DashboardTarget, windowSeconds: DashboardState["windowSeconds"] = 900, viewColumn?: vscode.ViewColumn): DashboardPanel {
    const existing = this.#panels.get(targetKey(target));
    if (existing) {
      existing.reveal(viewColumn);
      return existing;
    }
    return this.#adopt(DashboardPanel.create(this.#env, this.#deps, { target, windowSeconds }, viewColumn));
  }

  get openPanels(): readonly DashboardPanel[] {
    return [...this.#panels.values()];
  }

  #adopt(panel: DashboardPanel): DashboardPanel {
    const key = targetKey(panel.target);
    this.#panels.get(key)?.dispose();
    this.#panels.set(key, panel);
    panel.onDidDispose(() => {
      if (this.#panels.get(key) === panel) this.#panels.delete(key);
    });
    return panel;
  }
}

function targetKey(target: DashboardTarget): string {
  return target.kind === "zone" ? `zone:${target.hostId}:${target.zoneId}` : `host:${target.hostId}`;
}

function zoneIdOfColumn(column: string): string | null {
  const match = /^zone\.(.+)\.(?:cpu|mem)$/.exec(column);
  return match ? match[1]! : null;
}

// ── payload conversion ───────────────────────────────────────────────────────────────────────

function seriesPayload(window: SeriesWindow): SeriesPayload {
  const columns: Record<string, (number | null)[]> = {};
  for (const [name, values] of window.series) {
    const out = new Array<number | null>(values.length);
    let any = false;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (Number.isNaN(v)) out[i] = null;
      else {
        out[i] = v;
        any = true;
      }
    }
    // Columns with nothing in them (a host without per-vCPU figures) are not worth sending.
    if (any) columns[name] = out;
  }
  return { times: Array.from(window.times), columns };
}

function limitsPayload(limits: ZoneLimits): LimitsPayload {
  return { ...limits };
}

function markerPayload(marker: Marker): MarkerPayload {
  return { ...marker };
}

function processesPayload(processes: readonly ProcessInfo[]): ProcessPayload[] {
  const rows = processes.map((p) => ({ pid: p.pid, command: p.command, residentBytes: p.residentBytes, lifetimeSeconds: p.lifetimeSeconds }));
  if (rows.length <= maxProcessRows) return rows;
  return rows.sort((a, b) => (b.residentBytes ?? 0) - (a.residentBytes ?? 0)).slice(0, maxProcessRows);
}

function statusPayload(status: SamplingStatus): StatusPayload {
  return { ...status };
}

// ── webview plumbing shared with the console panel ───────────────────────────────────────────

/** The folder the webview bundles are built into; with media/ the only roots a webview may load from. */
export function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewPanelOptions & vscode.WebviewOptions {
  return {
    enableScripts: true,
    enableCommandUris: false,
    enableFindWidget: false,
    // A hidden panel costs nothing: VS Code drops its document, and `ready` rebuilds it from the host's history.
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
  const styles = page.styleUris.map((uri) => `    <link rel="stylesheet" href="${escapeAttribute(uri)}">`).join("\n");
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
  return value.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/'/g, "&#39;");
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
