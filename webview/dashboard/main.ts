/**
 * The resource dashboard webview. Everything it shows arrives by message (see protocol.ts);
 * it persists only its UI state (target and window) through VS Code's webview state.
 *
 * Rendering is demand-driven: a change marks the view dirty and one animation frame redraws it;
 * while the document is hidden nothing is drawn (data still lands in the store, and the first
 * visible frame catches up). Scrolling through history moves only the x scale.
 */
import "./dashboard.css";
import { formatBytes, formatClock } from "../common/format";
import { onThemeChange, readTheme, type Theme } from "../common/theme";
import { onHostMessage, vscodeApi } from "../common/vscodeApi";
import { Chart, hostCharts, zoneCharts, type ChartSpec } from "./charts";
import { ProcessTable } from "./processTable";
import {
  InitNotification,
  LimitsNotification,
  MarkerNotification,
  ProcessesNotification,
  ReadyCommand,
  ResizeRequest,
  SamplesNotification,
  StatusNotification,
  TitleNotification,
  WindowChangedCommand,
  ZoneNamesNotification,
  resizeBounds,
  timeWindows,
  type DashboardState,
  type LimitsPayload,
  type MarkerPayload,
  type StatusPayload,
  type TimeWindow,
} from "./protocol";
import { SeriesStore } from "./store";

/** Counters a test or a curious user can read from the console: how much work the page does. */
interface DashboardStats {
  renders: number;
  lastRenderMs: number;
  totalRenderMs: number;
  messages: number;
  /** Rows held, and the times of the oldest and newest (ms), so a test sees what history arrived. */
  rows: number;
  firstTime: number | null;
  lastTime: number | null;
}

declare global {
  interface Window {
    zonesDashboardStats?: DashboardStats;
  }
}

const vscode = vscodeApi<DashboardState>();
const stats: DashboardStats = {
  renders: 0,
  lastRenderMs: 0,
  totalRenderMs: 0,
  messages: 0,
  rows: 0,
  firstTime: null,
  lastTime: null,
};
window.zonesDashboardStats = stats;

const store = new SeriesStore(3600);
let state: DashboardState | null = vscode.getState() ?? null;
let limits: LimitsPayload | null = null;
const markers: MarkerPayload[] = [];
let zoneNames: Record<string, string> = {};
let theme: Theme = readTheme();
let charts: Chart[] = [];
let specs: ChartSpec[] | null = null;
/** What the charts show right now, to skip redraws that would change nothing. */
let drawnView = "";
let chartsLayout = "";

/** Follow the newest sample (true) or stay where the user scrolled (false). */
let live = true;
/** The right edge of the view when not live, ms. */
let viewEnd = 0;
let paused = false;
let dirty = false;
let dataChanged = false;
let frameRequested = false;
let nextRequestId = 1;
const pendingResizes = new Set<number>();

// ── layout ───────────────────────────────────────────────────────────────────────────────────
const app = document.getElementById("app")!;
app.innerHTML = "";
const header = el("header", "toolbar");
const title = el("h1", "title");
title.textContent = "Resources";
const windowGroup = el("div", "segmented");
windowGroup.setAttribute("role", "group");
windowGroup.setAttribute("aria-label", "Time window");
const windowButtons = new Map<TimeWindow, HTMLButtonElement>();
for (const seconds of timeWindows) {
  const button = el("button");
  button.type = "button";
  button.textContent = seconds === 60 ? "1 min" : seconds === 900 ? "15 min" : "1 h";
  button.dataset["window"] = String(seconds);
  button.addEventListener("click", () => setWindow(seconds));
  windowButtons.set(seconds, button);
  windowGroup.append(button);
}
const pauseButton = el("button");
pauseButton.type = "button";
pauseButton.id = "pause";
pauseButton.addEventListener("click", () => setPaused(!paused));
const liveButton = el("button");
liveButton.type = "button";
liveButton.id = "live";
liveButton.textContent = "Live";
liveButton.title = "Follow the newest samples";
liveButton.addEventListener("click", () => {
  live = true;
  setPaused(false);
});
header.append(title, windowGroup, pauseButton, liveButton);

const status = el("div", "status");
status.setAttribute("role", "status");
status.hidden = true;

const resizeForm = el("form", "resize");
resizeForm.hidden = true;
resizeForm.noValidate = true;
const cpuInput = numberInput("resize-cpus", resizeBounds.minCpus, resizeBounds.maxCpus, 1);
const memoryInput = numberInput("resize-memory", resizeBounds.minMemoryMiB, resizeBounds.maxMemoryMiB, 64);
const resizeButton = el("button");
resizeButton.type = "submit";
resizeButton.textContent = "Resize";
/** The zone's limits as the host last reported them: target and max. */
const resizeCurrent = el("span", "resize-current");
const resizeResult = el("span", "resize-result");
resizeResult.setAttribute("role", "status");
resizeForm.append(
  label("Target vCPUs", cpuInput),
  label("Target memory (MiB)", memoryInput),
  resizeButton,
  resizeCurrent,
  resizeResult,
);
resizeForm.addEventListener("submit", (event) => {
  event.preventDefault();
  submitResize();
});
/**
 * Fields the user has typed into since they last showed the host's figures. New limits refill
 * only the others, so a resize elsewhere (tree, CLI) never clobbers what is being typed.
 */
const edited = new Set<HTMLInputElement>();
for (const input of [cpuInput, memoryInput]) input.addEventListener("input", () => edited.add(input));

const chartsElement = el("div", "charts");
const scroller = el("input", "scroller");
scroller.type = "range";
scroller.min = "0";
scroller.max = "1000";
scroller.value = "1000";
scroller.setAttribute("aria-label", "Scroll through history");
scroller.addEventListener("input", () => scrollTo(Number(scroller.value) / 1000));

const processTable = new ProcessTable();
app.append(header, status, resizeForm, chartsElement, scroller, processTable.element);

chartsElement.addEventListener(
  "wheel",
  (event) => {
    // Horizontal wheel (or shift + wheel) scrolls through history; plain vertical wheel scrolls the page.
    const delta = event.deltaX !== 0 ? event.deltaX : event.shiftKey ? event.deltaY : 0;
    if (delta === 0) return;
    event.preventDefault();
    scrollBy((delta / 1000) * windowMs());
  },
  { passive: false },
);

new ResizeObserver(() => {
  for (const chart of charts) chart.setWidth(chartsElement.clientWidth);
  requestRender();
}).observe(chartsElement);

onThemeChange(() => {
  theme = readTheme();
  chartsLayout = ""; // rebuild with the new colours
  requestRender();
});

document.addEventListener("visibilitychange", () => {
  if (!document.hidden && dirty) requestRender();
});

// ── messages ─────────────────────────────────────────────────────────────────────────────────
onHostMessage((message) => {
  stats.messages++;
  if (InitNotification.is(message)) {
    // The webview's own state (window choice) wins over the host's copy after a reload.
    state = {
      target: message.params.state.target,
      windowSeconds: state?.windowSeconds ?? message.params.state.windowSeconds,
    };
    vscode.setState(state);
    limits = message.params.limits;
    markers.length = 0;
    markers.push(...message.params.markers);
    zoneNames = message.params.zoneNames;
    store.reset(message.params.series);
    noteRows();
    processTable.setProcesses(message.params.processes);
    processTable.element.hidden = state.target.kind !== "zone";
    title.textContent = message.params.title;
    document.title = message.params.title;
    resizeForm.hidden = !message.params.canResize;
    edited.clear(); // a fresh document after being hidden, or a reload: the host's figures
    showLimits();
    showStatus(message.params.status);
    live = true;
    chartsLayout = "";
    dataChanged = true;
    updateControls();
    requestRender();
  } else if (SamplesNotification.is(message)) {
    store.append(message.params.series);
    noteRows();
    dataChanged = true;
    requestRender();
  } else if (LimitsNotification.is(message)) {
    limits = message.params.limits;
    showLimits();
    requestRender(true);
  } else if (MarkerNotification.is(message)) {
    markers.push(message.params.marker);
    if (markers.length > 1000) markers.splice(0, markers.length - 1000);
    requestRender(true);
  } else if (ProcessesNotification.is(message)) {
    processTable.setProcesses(message.params.processes);
  } else if (StatusNotification.is(message)) {
    showStatus(message.params.status);
  } else if (TitleNotification.is(message)) {
    title.textContent = message.params.title;
    document.title = message.params.title;
  } else if (ZoneNamesNotification.is(message)) {
    zoneNames = message.params.zoneNames;
    chartsLayout = "";
    requestRender();
  } else if (ResizeRequest.response.is(message)) {
    const id = message.id;
    if (id === undefined || !pendingResizes.delete(id)) return;
    resizeButton.disabled = false;
    const reply = message.params;
    resizeResult.textContent = reply.ok
      ? "Requested; the limit lines move when the host applies it."
      : reply.message;
    resizeResult.classList.toggle("error", !reply.ok);
    // What was typed has been sent: the next limits from the host (the zone's event after the
    // resize) fill the fields again. Not refilled now, which would flash the old figures.
    if (reply.ok) edited.clear();
  }
});

vscode.postMessage(ReadyCommand.create({}));
updateControls();

// ── behaviour ────────────────────────────────────────────────────────────────────────────────
function noteRows(): void {
  stats.rows = store.length;
  stats.firstTime = store.firstTime ?? null;
  stats.lastTime = store.lastTime ?? null;
}

function windowMs(): number {
  return (state?.windowSeconds ?? 900) * 1000;
}

function setWindow(seconds: TimeWindow): void {
  if (!state) return;
  state = { ...state, windowSeconds: seconds };
  vscode.setState(state);
  vscode.postMessage(WindowChangedCommand.create({ windowSeconds: seconds }));
  updateControls();
  requestRender();
}

function setPaused(value: boolean): void {
  paused = value;
  if (!paused && live) dataChanged = true;
  updateControls();
  requestRender();
}

function scrollBy(deltaMs: number): void {
  const last = store.lastTime;
  if (last === undefined) return;
  const end = (live ? last : viewEnd) + deltaMs;
  setViewEnd(end);
}

/** fraction 0 = oldest possible view, 1 = newest. */
function scrollTo(fraction: number): void {
  const first = store.firstTime;
  const last = store.lastTime;
  if (first === undefined || last === undefined) return;
  const lo = Math.min(last, first + windowMs());
  setViewEnd(lo + (last - lo) * fraction);
}

function setViewEnd(end: number): void {
  const first = store.firstTime;
  const last = store.lastTime;
  if (first === undefined || last === undefined) return;
  const lo = Math.min(last, first + windowMs());
  viewEnd = Math.min(last, Math.max(lo, end));
  live = viewEnd >= last;
  updateControls();
  requestRender(true);
}

function updateControls(): void {
  for (const [seconds, button] of windowButtons)
    button.setAttribute("aria-pressed", String(state?.windowSeconds === seconds));
  pauseButton.textContent = paused ? "Resume" : "Pause";
  pauseButton.setAttribute("aria-pressed", String(paused));
  liveButton.disabled = live && !paused;
}

function showStatus(s: StatusPayload): void {
  status.hidden = s.state === "ok";
  status.classList.toggle("error", s.state === "error");
  status.textContent = s.state === "error" ? s.message : s.state === "stopped" ? "Sampling has stopped." : "";
}

/** Shows the zone's current target and max, and puts the targets into fields the user is not editing. */
function showLimits(): void {
  const cpus = limits?.targetCpus ? String(limits.targetCpus) : null;
  const memory = limits?.targetMemoryBytes
    ? String(Math.round(limits.targetMemoryBytes / (1024 * 1024)))
    : null;
  for (const [input, value] of [
    [cpuInput, cpus],
    [memoryInput, memory],
  ] as const) {
    if (value === null) continue;
    // A typed value the host now reports is no longer the user's own: let the next change through.
    if (input.value === value) edited.delete(input);
    else if (!edited.has(input) || input.value === "") input.value = value;
  }
  const parts: string[] = [];
  if (limits?.targetCpus)
    parts.push(
      `${limits.targetCpus} vCPU${limits.targetCpus === 1 ? "" : "s"}${limits.maxCpus ? ` (max ${limits.maxCpus})` : ""}`,
    );
  if (limits?.targetMemoryBytes)
    parts.push(
      `${formatBytes(limits.targetMemoryBytes)}${limits.maxMemoryBytes ? ` (max ${formatBytes(limits.maxMemoryBytes)})` : ""}`,
    );
  resizeCurrent.textContent = parts.length ? `Now ${parts.join(", ")}` : "";
  resizeCurrent.dataset["targetCpus"] = cpus ?? "";
  resizeCurrent.dataset["targetMemoryMib"] = memory ?? "";
}

function submitResize(): void {
  const cpus = Number(cpuInput.value);
  const memory = Number(memoryInput.value);
  const problems: string[] = [];
  if (!Number.isInteger(cpus) || cpus < resizeBounds.minCpus || cpus > resizeBounds.maxCpus)
    problems.push(`vCPUs must be a whole number from ${resizeBounds.minCpus} to ${resizeBounds.maxCpus}`);
  if (!Number.isInteger(memory) || memory < resizeBounds.minMemoryMiB || memory > resizeBounds.maxMemoryMiB)
    problems.push(
      `memory must be a whole number of MiB from ${resizeBounds.minMemoryMiB} to ${resizeBounds.maxMemoryMiB}`,
    );
  if (problems.length) {
    resizeResult.textContent = `Cannot resize: ${problems.join("; ")}.`;
    resizeResult.classList.add("error");
    return;
  }
  const id = nextRequestId++;
  pendingResizes.add(id);
  resizeButton.disabled = true;
  resizeResult.classList.remove("error");
  resizeResult.textContent = `Resizing to ${cpus} vCPU, ${formatBytes(memory * 1024 * 1024)}…`;
  vscode.postMessage(ResizeRequest.create(id, { targetCpus: cpus, targetMemoryMiB: memory }));
}

/** Asks for a redraw on the next frame; `viewOnly` when just the view (not the data) moved. */
function requestRender(viewOnly = false): void {
  dirty = true;
  if (!viewOnly) dataChanged = true;
  if (frameRequested || document.hidden) return;
  frameRequested = true;
  requestAnimationFrame(render);
}

function render(): void {
  frameRequested = false;
  if (document.hidden || !state) return;
  const started = performance.now();
  dirty = false;

  // Specs hold the drawn arrays; stacked host series are computed, so rebuild them only when data moved.
  if (dataChanged || chartsLayout === "" || !specs) specs = buildSpecs();
  const layout = `${theme.kind}|${store.layoutVersion}|${specs.map((s) => `${s.key}:${s.series.map((x) => x.label).join(",")}`).join(";")}`;
  const width = chartsElement.clientWidth;
  let withData = false;
  if (layout !== chartsLayout) {
    for (const chart of charts) chart.destroy();
    charts = specs.map(
      (spec) =>
        new Chart(
          chartsElement,
          spec,
          store.times,
          { theme, markers: () => markers, syncKey: "zones-dashboard" },
          width,
        ),
    );
    chartsLayout = layout;
    dataChanged = false;
  } else if (dataChanged && !paused) {
    withData = true;
    dataChanged = false;
  }

  const last = store.lastTime ?? Date.now();
  if (live && !paused) viewEnd = last;
  const end = live && !paused ? last : viewEnd;
  const min = end - windowMs();
  const view = `${layout}|${min}|${end}|${markers.length}|${limitsKey()}`;
  // A scroll that hits either end of the history moves nothing: do not pay for a redraw.
  if (withData || view !== drawnView) {
    const current = specs;
    charts.forEach((chart, i) =>
      chart.update(min, end, withData ? { times: store.times, spec: current[i]! } : undefined),
    );
    drawnView = view;
    // Where the view ends, for tests and tooling (the charts' own state is inside uPlot).
    chartsElement.dataset["viewEnd"] = String(end);
    updateScroller(end);
  } else {
    return;
  }

  const elapsed = performance.now() - started;
  stats.renders++;
  stats.lastRenderMs = elapsed;
  stats.totalRenderMs += elapsed;
}

function limitsKey(): string {
  return limits ? `${limits.targetMemoryBytes}/${limits.maxMemoryBytes}` : "";
}

function buildSpecs(): ChartSpec[] {
  if (state?.target.kind === "host") return hostCharts(store, theme, zoneNames);
  return zoneCharts(store, theme, () => limits);
}

function updateScroller(end: number): void {
  const first = store.firstTime;
  const last = store.lastTime;
  if (first === undefined || last === undefined) return;
  const lo = Math.min(last, first + windowMs());
  const fraction = last > lo ? (end - lo) / (last - lo) : 1;
  const value = String(Math.round(Math.min(1, Math.max(0, fraction)) * 1000));
  if (scroller.value !== value) scroller.value = value;
  scroller.title = `View ends at ${formatClock(end)}`;
}

// ── small DOM helpers ────────────────────────────────────────────────────────────────────────
function el<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (className) element.className = className;
  return element;
}

function numberInput(id: string, min: number, max: number, step: number): HTMLInputElement {
  const input = el("input");
  input.type = "number";
  input.id = id;
  input.min = String(min);
  input.max = String(max);
  input.step = String(step);
  input.required = true;
  return input;
}

function label(text: string, input: HTMLInputElement): HTMLLabelElement {
  const element = el("label");
  element.htmlFor = input.id;
  element.append(text, " ", input);
  return element;
}
