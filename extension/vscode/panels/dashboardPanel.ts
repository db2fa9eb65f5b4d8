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
import { toDisposable } from "../../core/lifecycle";
import { messageOf } from "../../core/errors";
import type { MetricsSampler } from "../../core/metrics/sampler";
import type { HistoryChange, MetricsHistory, SamplingStatus } from "../../core/metrics/history";
import type { Marker, ProcessInfo, ZoneLimits } from "../../core/metrics/types";
import type { SeriesWindow } from "../../core/metrics/ringBuffer";
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
import { PanelHost, PanelRegistry, webviewOptions, type PanelEnvironment } from "./panelHost";

/** The dashboard's data sources. */
export interface DashboardDependencies {
  /** The sampler of a configured host; undefined when the host is not (or no longer) configured. */
  sampler(hostId: string): MetricsSampler | undefined;
  /** Sets a zone's target CPUs and memory (UpdateZoneResources). Rejects with a readable error. */
  resize(
    hostId: string,
    zoneId: string,
    targetCpus: number,
    targetMemoryMiB: number,
    signal: AbortSignal,
  ): Promise<void>;
  /** A host's display name; the host id when absent. */
  hostLabel?(hostId: string): string;
}

/** Processes sent to the table at most; a zone running more shows the biggest by memory. */
const maxProcessRows = 500;

export class DashboardPanel extends PanelHost<DashboardState, DashboardWebviewMessage> {
  static readonly viewType = "zones.dashboard";

  readonly #deps: DashboardDependencies;
  readonly #sampler: MetricsSampler | undefined;
  readonly #history: MetricsHistory | undefined;
  #zoneNames: Record<string, string> = {};
  #resizing: AbortController | null = null;

  /** Opens a new panel for `state.target`. */
  static create(
    env: PanelEnvironment,
    deps: DashboardDependencies,
    state: DashboardState,
    viewColumn?: vscode.ViewColumn,
  ): DashboardPanel {
    const panel = env.window.createWebviewPanel(
      DashboardPanel.viewType,
      "Resources",
      {
        viewColumn: viewColumn ?? -1 /* ViewColumn.Active; the enum is a runtime value */,
        preserveFocus: false,
      },
      webviewOptions(env.extensionUri),
    );
    return new DashboardPanel(env, deps, panel, state);
  }

  constructor(
    env: PanelEnvironment,
    deps: DashboardDependencies,
    panel: vscode.WebviewPanel,
    state: DashboardState,
  ) {
    super(env, panel, state, "dashboard", dashboardSchemas.webviewMessage);
    this.#deps = deps;
    this.#sampler = deps.sampler(state.target.hostId);
    this.#refreshTitle();
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
    this.open({ title: panel.title, script: "dashboard.js", styles: ["uPlot.min.css", "dashboard.css"] });
  }

  protected onMessage(message: DashboardWebviewMessage): void {
    switch (message.method) {
      case "dashboard/ready":
        this.#onReady();
        break;
      case "dashboard/windowChanged":
        this.log.debug(`dashboard: window set to ${message.params.windowSeconds} s`);
        break;
      case "dashboard/resize":
        void this.#onResize(message.id, message.params.targetCpus, message.params.targetMemoryMiB); // replies to the webview itself
        break;
    }
  }

  #title(): string {
    const target = this.state.target;
    const host = this.#deps.hostLabel?.(target.hostId) ?? target.hostId;
    if (target.kind === "host") return `Resources: ${host}`;
    const name = this.#sampler?.zoneName(target.zoneId) ?? target.zoneId.slice(0, 8);
    // A dev host's zone may be a VM or share this machine's kernel: the title says which.
    const isolation = this.#sampler?.zoneIsolation(target.zoneId);
    return `Resources: ${name} (${host})${isolation ? ` · ${isolation}` : ""}`;
  }

  #onReady(): void {
    this.markReady();
    const history = this.#history;
    const status: StatusPayload = history
      ? statusPayload(history.status)
      : { state: "error", message: `Host ${this.state.target.hostId} is not configured.` };
    const series = history ? seriesPayload(history.ring.snapshot()) : { times: [], columns: {} };
    this.#zoneNames = this.#currentZoneNames(Object.keys(series.columns));
    this.send(
      InitNotification.create({
        state: this.state,
        title: this.panel.title,
        series,
        limits: history?.limits ? limitsPayload(history.limits) : null,
        markers: history ? history.markers.map(markerPayload) : [],
        processes: history ? processesPayload(history.processes) : [],
        status,
        zoneNames: this.#zoneNames,
        canResize: this.state.target.kind === "zone" && this.#sampler !== undefined,
        intervalMs: this.#sampler?.intervalMs ?? 1000,
      }),
    );
    this.flushHeld();
  }

  /**
   * Names the tab after the zone once its name is known. A panel restored after a reload is
   * revived before the host has listed its zones: it keeps the title VS Code saved until then.
   */
  #refreshTitle(): void {
    const target = this.state.target;
    if (
      target.kind === "zone" &&
      this.#sampler?.zoneName(target.zoneId) === null &&
      this.panel.title.startsWith("Resources: ")
    )
      return;
    const title = this.#title();
    if (this.panel.title === title) return;
    this.panel.title = title;
    if (this.isReady) this.post(TitleNotification.create({ title }));
  }

  #onHistoryChange(change: HistoryChange): void {
    if (this.isDisposed) return;
    // The name comes with the zone's events; a restored panel learns it after the host is listed.
    this.#refreshTitle();
    // Before `ready` nothing is queued: the init message carries the whole history anyway.
    if (!this.isReady) return;
    switch (change.kind) {
      case "sample": {
        const columns: Record<string, (number | null)[]> = {};
        for (const [name, value] of Object.entries(change.row))
          columns[name] = [Number.isNaN(value) ? null : value];
        this.post(SamplesNotification.create({ series: { times: [change.time], columns } }));
        if (this.state.target.kind === "host") this.#updateZoneNames(Object.keys(columns));
        break;
      }
      case "gap":
        this.post(SamplesNotification.create({ series: { times: [change.time], columns: {} } }));
        break;
      case "marker":
        this.post(MarkerNotification.create({ marker: markerPayload(change.marker) }));
        break;
      case "limits":
        this.post(LimitsNotification.create({ limits: limitsPayload(change.limits) }));
        break;
      case "processes":
        this.post(ProcessesNotification.create({ processes: processesPayload(change.processes) }));
        break;
      case "status":
        this.post(StatusNotification.create({ status: statusPayload(change.status) }));
        break;
    }
  }

  async #onResize(id: number, targetCpus: number, targetMemoryMiB: number): Promise<void> {
    const target = this.state.target;
    if (target.kind !== "zone") {
      this.post(ResizeRequest.reply(id, { ok: false, message: "Only a zone can be resized." }));
      return;
    }
    if (this.#resizing) {
      this.post(ResizeRequest.reply(id, { ok: false, message: "A resize is already in progress." }));
      return;
    }
    const controller = new AbortController();
    this.#resizing = controller;
    this.log.info(
      `dashboard: resizing zone ${target.zoneId} on ${target.hostId} to ${targetCpus} vCPU, ${targetMemoryMiB} MiB`,
    );
    try {
      await this.#deps.resize(target.hostId, target.zoneId, targetCpus, targetMemoryMiB, controller.signal);
      this.post(ResizeRequest.reply(id, { ok: true, result: null }));
    } catch (err) {
      const message = messageOf(err);
      this.log.warn(`dashboard: resizing zone ${target.zoneId} failed: ${message}`);
      this.post(ResizeRequest.reply(id, { ok: false, message: `Resize failed: ${message}` }));
    } finally {
      if (this.#resizing === controller) this.#resizing = null;
    }
  }

  #currentZoneNames(columns: string[]): Record<string, string> {
    const names: Record<string, string> = {};
    if (this.state.target.kind !== "host") return names;
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
    this.post(ZoneNamesNotification.create({ zoneNames: this.#zoneNames }));
  }
}

/** Opens one dashboard per target, reveals it when asked again, restores panels after a reload. */
export class DashboardPanels extends PanelRegistry<DashboardState, DashboardPanel> {
  readonly #env: PanelEnvironment;
  readonly #deps: DashboardDependencies;

  constructor(env: PanelEnvironment, deps: DashboardDependencies) {
    super(
      env.logger,
      "dashboard",
      dashboardSchemas.state,
      (panel, state) => new DashboardPanel(env, deps, panel, state),
      targetKey,
    );
    this.#env = env;
    this.#deps = deps;
  }

  /** Shows the dashboard of `target`, opening it if needed. */
  show(
    target: DashboardTarget,
    windowSeconds: DashboardState["windowSeconds"] = 900,
    viewColumn?: vscode.ViewColumn,
  ): DashboardPanel {
    return this.showOrCreate(target, viewColumn, () =>
      DashboardPanel.create(this.#env, this.#deps, { target, windowSeconds }, viewColumn),
    );
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
  const rows = processes.map((p) => ({
    pid: p.pid,
    command: p.command,
    residentBytes: p.residentBytes,
    lifetimeSeconds: p.lifetimeSeconds,
  }));
  if (rows.length <= maxProcessRows) return rows;
  return rows.sort((a, b) => (b.residentBytes ?? 0) - (a.residentBytes ?? 0)).slice(0, maxProcessRows);
}

function statusPayload(status: SamplingStatus): StatusPayload {
  return { ...status };
}
