/**
 * The resource dashboard's protocol: the one contract between its host
 * (extension/vscode/panels/dashboardPanel.ts) and its webview (webview/dashboard/main.ts).
 *
 * Flow: the host creates the panel and holds everything until the webview posts `ready`; it
 * then sends `init` with the whole history (an hour at 1 s is ≈ 3600 rows) and afterwards only
 * appended rows, limits, markers, processes and status. A hidden panel's webview is destroyed
 * by VS Code, so each `ready` starts over with a fresh `init` — nothing is sent while hidden.
 *
 * Samples never reach the persisted state: `DashboardState` is only which target and which
 * window, so a restored panel asks the sampler for its history again.
 */
import * as z from "zod";
import { IpcCommand, IpcNotification, IpcRequest } from "../common/ipc";

/** Time windows the dashboard offers, in seconds. */
export const timeWindows = [60, 900, 3600] as const;
export type TimeWindow = (typeof timeWindows)[number];

/** What a dashboard shows: one zone, or one host with its zones stacked. */
export type DashboardTarget =
  { kind: "zone"; hostId: string; zoneId: string } | { kind: "host"; hostId: string };

/** The UI state a panel persists across window reloads (WebviewPanelSerializer). */
export interface DashboardState {
  target: DashboardTarget;
  windowSeconds: TimeWindow;
}

/**
 * Rows of samples, column-wise. Times are ms since the epoch; a null value is a gap. Column
 * names: `cpu`, `cpu.<n>` (per vCPU / per host CPU), `mem.used`, `mem.total`, `mem.free`,
 * `procs`, and on host dashboards `zone.<id>.cpu`, `zone.<id>.mem`.
 */
export interface SeriesPayload {
  times: number[];
  columns: Record<string, (number | null)[]>;
}

/** Limits in bytes / CPUs; null where the zone has none. */
export interface LimitsPayload {
  targetMemoryBytes: number | null;
  maxMemoryBytes: number | null;
  targetCpus: number | null;
  maxCpus: number | null;
}

/** A marker on the time axis. */
export interface MarkerPayload {
  time: number;
  kind: "state" | "exit" | "oom" | "failed" | "resize";
  label: string;
  exitCode?: number;
  reason?: string;
}

/** One row of the process table. */
export interface ProcessPayload {
  pid: number;
  command: string;
  residentBytes: number | null;
  lifetimeSeconds: number | null;
}

export type StatusPayload = { state: "ok" } | { state: "stopped" } | { state: "error"; message: string };

export interface InitParams {
  state: DashboardState;
  title: string;
  series: SeriesPayload;
  limits: LimitsPayload | null;
  markers: MarkerPayload[];
  processes: ProcessPayload[];
  status: StatusPayload;
  /** Display names of zones (host dashboards label the stacked series with them). */
  zoneNames: Record<string, string>;
  /** Whether the Resize control applies (zone dashboards on a connected host). */
  canResize: boolean;
  /** Milliseconds between samples, for the axis and the "live" check. */
  intervalMs: number;
}

// ── host → webview ───────────────────────────────────────────────────────────────────────────
export const InitNotification = new IpcNotification<"dashboard/init", InitParams>("dashboard/init");
/** Rows appended since the last message (a gap is a row of nulls). */
export const SamplesNotification = new IpcNotification<"dashboard/samples", { series: SeriesPayload }>(
  "dashboard/samples",
);
export const LimitsNotification = new IpcNotification<"dashboard/limits", { limits: LimitsPayload }>(
  "dashboard/limits",
);
export const MarkerNotification = new IpcNotification<"dashboard/marker", { marker: MarkerPayload }>(
  "dashboard/marker",
);
export const ProcessesNotification = new IpcNotification<
  "dashboard/processes",
  { processes: ProcessPayload[] }
>("dashboard/processes");
export const StatusNotification = new IpcNotification<"dashboard/status", { status: StatusPayload }>(
  "dashboard/status",
);
export const ZoneNamesNotification = new IpcNotification<
  "dashboard/zoneNames",
  { zoneNames: Record<string, string> }
>("dashboard/zoneNames");
/** The panel's title changed (the zone's name became known, say after a restore). */
export const TitleNotification = new IpcNotification<"dashboard/title", { title: string }>("dashboard/title");

// ── webview → host ───────────────────────────────────────────────────────────────────────────
/** The webview has loaded and listens; the host answers with `init`. */
export const ReadyCommand = new IpcCommand<"dashboard/ready", Record<string, never>>("dashboard/ready");
/** The user picked another time window (logged; the webview persists it itself). */
export const WindowChangedCommand = new IpcCommand<"dashboard/windowChanged", { windowSeconds: TimeWindow }>(
  "dashboard/windowChanged",
);
/** Change the zone's target CPUs and memory (UpdateZoneResources). */
export const ResizeRequest = new IpcRequest<"dashboard/resize", ResizeParams, null>("dashboard/resize");

export interface ResizeParams {
  targetCpus: number;
  targetMemoryMiB: number;
}

/** Bounds the Resize control enforces; the host checks them again. */
export const resizeBounds = {
  minCpus: 1,
  maxCpus: 256,
  minMemoryMiB: 32,
  maxMemoryMiB: 4 * 1024 * 1024,
} as const;

// ── validation (host side) ───────────────────────────────────────────────────────────────────
// Strict objects: an unknown key is as suspicious as a wrong type. Built inside one function
// whose call is marked pure, so the webview bundle — which imports only the descriptors —
// drops zod entirely.

function buildSchemas() {
  const idSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
  const hostIdSchema = z.string().min(1).max(512);
  const zoneIdSchema = z.string().min(1).max(256);
  const windowSchema = z.union([z.literal(60), z.literal(900), z.literal(3600)]);
  return {
    /** Every message the webview may send. Anything else is ignored and logged. */
    webviewMessage: z.discriminatedUnion("method", [
      z.object({ method: z.literal(ReadyCommand.method), params: z.object({}).strict() }).strict(),
      z
        .object({
          method: z.literal(WindowChangedCommand.method),
          params: z.object({ windowSeconds: windowSchema }).strict(),
        })
        .strict(),
      z
        .object({
          method: z.literal(ResizeRequest.method),
          id: idSchema,
          params: z
            .object({
              targetCpus: z.number().int().min(resizeBounds.minCpus).max(resizeBounds.maxCpus),
              targetMemoryMiB: z.number().int().min(resizeBounds.minMemoryMiB).max(resizeBounds.maxMemoryMiB),
            })
            .strict(),
        })
        .strict(),
    ]),
    /** The persisted state, checked before a restored panel trusts it. */
    state: z
      .object({
        target: z.discriminatedUnion("kind", [
          z.object({ kind: z.literal("zone"), hostId: hostIdSchema, zoneId: zoneIdSchema }).strict(),
          z.object({ kind: z.literal("host"), hostId: hostIdSchema }).strict(),
        ]),
        windowSeconds: windowSchema,
      })
      .strict(),
  };
}

/** The host side's validators: `webviewMessage` for every incoming message, `state` for restored panels. */
export const dashboardSchemas = /* @__PURE__ */ buildSchemas();

export type DashboardWebviewMessage = z.infer<typeof dashboardSchemas.webviewMessage>;
