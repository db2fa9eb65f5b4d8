/**
 * The dashboard's graphs, one uPlot instance each. A chart is rebuilt when its series change
 * (new per-vCPU columns, a theme switch); otherwise data and view updates reuse it, and
 * scrolling the time window only moves the x scale, which uPlot redraws from the visible range.
 */
import uPlot from "uplot";
import { formatBytes, formatClock, formatCount, formatPercent } from "../common/format";
import { withAlpha, type Theme } from "../common/theme";
import type { LimitsPayload, MarkerPayload } from "./protocol";
import type { SeriesStore } from "./store";

export type Unit = "percent" | "bytes" | "count";

export interface SeriesSpec {
  label: string;
  color: string;
  width?: number;
  fill?: string;
  dash?: number[];
  /** The values drawn (cumulative for stacked series). */
  values: (number | null)[];
  /** The values the legend shows, when they differ from what is drawn (stacked series). */
  shown?: (number | null)[];
}

/** A horizontal line drawn across the plot, e.g. a memory limit. */
export interface LimitLine {
  key: "target" | "max";
  label: string;
  value: number;
  color: string;
}

export interface ChartSpec {
  key: string;
  title: string;
  unit: Unit;
  series: SeriesSpec[];
  /** Lowest top of the y axis (100 for percentages); the data and limit lines can raise it. */
  minTop: number;
  fixedTop?: number;
  limitLines?: () => LimitLine[];
}

export interface ChartContext {
  theme: Theme;
  markers: () => readonly MarkerPayload[];
  syncKey: string;
}

const plotHeight = 160;
const binaryIncrements = Array.from({ length: 51 }, (_, k) => 2 ** k);

export class Chart {
  readonly element: HTMLElement;
  readonly uplot: uPlot;
  #spec: ChartSpec;

  constructor(parent: HTMLElement, spec: ChartSpec, times: number[], ctx: ChartContext, width: number) {
    this.#spec = spec;
    this.element = document.createElement("section");
    this.element.className = "chart";
    this.element.dataset["chart"] = spec.key;
    const heading = document.createElement("h2");
    heading.textContent = spec.title;
    this.element.append(heading);
    parent.append(this.element);

    const format = formatterFor(spec.unit);
    const theme = ctx.theme;
    const axisFont = `11px ${theme.fontFamily}`;
    const options: uPlot.Options = {
      width: Math.max(200, width),
      height: plotHeight,
      ms: 1,
      pxAlign: 1,
      cursor: { drag: { x: false, y: false }, sync: { key: ctx.syncKey }, points: { size: 5 } },
      legend: { show: true, live: true },
      scales: {
        x: { time: true },
        y: {
          auto: true,
          range: (_u, _min, max) => {
            if (spec.fixedTop !== undefined) return [0, spec.fixedTop];
            const limits = spec.limitLines?.() ?? [];
            const top = Math.max(spec.minTop, Number.isFinite(max) ? max : 0, ...limits.map((l) => l.value));
            return [0, top * 1.08];
          },
        },
      },
      axes: [
        {
          stroke: theme.foreground,
          font: axisFont,
          grid: { stroke: theme.lines, width: 1 },
          ticks: { stroke: theme.lines, width: 1 },
        },
        {
          stroke: theme.foreground,
          font: axisFont,
          size: 64,
          grid: { stroke: theme.lines, width: 1 },
          ticks: { stroke: theme.lines, width: 1 },
          values: (_u, splits) => splits.map((v) => format(v)),
          // Memory ticks on binary steps (256 MiB, 512 MiB, 1 GiB), not at 477 MiB.
          ...(spec.unit === "bytes" ? { incrs: binaryIncrements } : {}),
        },
      ],
      series: [
        { label: "Time", value: (_u, v) => (v === null ? "–" : formatClock(v)) },
        ...spec.series.map((s): uPlot.Series => {
          const shown = s.shown;
          const series: uPlot.Series = {
            label: s.label,
            stroke: s.color,
            width: s.width ?? 1.5,
            points: { show: false },
            value: shown
              ? (_u, _v, _si, idx) => format(idx === null ? null : (shown[idx] ?? null))
              : (_u, v) => format(v),
          };
          if (s.fill) series.fill = s.fill;
          if (s.dash) series.dash = s.dash;
          return series;
        }),
      ],
      hooks: {
        draw: [(u) => this.#drawOverlays(u, ctx)],
      },
    };
    this.uplot = new uPlot(options, [times, ...spec.series.map((s) => s.values)], this.element);
  }

  get key(): string {
    return this.#spec.key;
  }

  /**
   * Shows [min, max] of the time axis, with new data arrays (same layout) when given. Drawn
   * synchronously (uPlot's batch), so a frame's cost is measured where it is spent.
   */
  update(min: number, max: number, data?: { times: number[]; spec: ChartSpec }): void {
    this.uplot.batch(() => {
      if (data) {
        this.#spec = data.spec;
        this.uplot.setData([data.times, ...data.spec.series.map((s) => s.values)], false);
      }
      this.uplot.setScale("x", { min, max });
    });
  }

  setWidth(width: number): void {
    this.uplot.setSize({ width: Math.max(200, width), height: plotHeight });
  }

  destroy(): void {
    this.uplot.destroy();
    this.element.remove();
  }

  /** Limit lines and markers, drawn over the series in canvas pixels. */
  #drawOverlays(u: uPlot, ctx: ChartContext): void {
    const c = u.ctx;
    const { left, top, width, height } = u.bbox;
    const dpr = window.devicePixelRatio || 1;
    c.save();
    c.beginPath();
    c.rect(left, top, width, height);
    c.clip();
    c.font = `${Math.round(10 * dpr)}px ${ctx.theme.fontFamily}`;
    c.textBaseline = "bottom";

    for (const line of this.#spec.limitLines?.() ?? []) {
      const y = Math.round(u.valToPos(line.value, "y", true));
      // Exposed for tests and tooling: where the line is, in canvas pixels.
      this.element.dataset[`${line.key}Y`] = String(y);
      c.strokeStyle = line.color;
      c.lineWidth = 2 * dpr;
      c.setLineDash([6 * dpr, 4 * dpr]);
      c.beginPath();
      c.moveTo(left, y);
      c.lineTo(left + width, y);
      c.stroke();
      c.setLineDash([]);
      c.fillStyle = line.color;
      // Target at the right, max at the left: close limits must not print over each other.
      const atRight = line.key === "target";
      c.textAlign = atRight ? "right" : "left";
      // Above the line, unless that would leave the plot; then below it.
      const labelAbove = y - top > 14 * dpr;
      c.textBaseline = labelAbove ? "bottom" : "top";
      c.fillText(
        line.label,
        atRight ? left + width - 4 * dpr : left + 4 * dpr,
        labelAbove ? y - 2 * dpr : y + 3 * dpr,
      );
    }
    if (!this.#spec.limitLines) {
      delete this.element.dataset["targetY"];
      delete this.element.dataset["maxY"];
    }

    const xMin = u.scales["x"]?.min ?? -Infinity;
    const xMax = u.scales["x"]?.max ?? Infinity;
    c.textAlign = "left";
    c.textBaseline = "top";
    for (const marker of ctx.markers()) {
      if (marker.time < xMin || marker.time > xMax) continue;
      const x = Math.round(u.valToPos(marker.time, "x", true));
      const color = markerColor(marker, ctx.theme);
      c.strokeStyle = color;
      c.lineWidth = 1.5 * dpr;
      c.setLineDash([3 * dpr, 3 * dpr]);
      c.beginPath();
      c.moveTo(x, top);
      c.lineTo(x, top + height);
      c.stroke();
      c.setLineDash([]);
      c.fillStyle = color;
      c.fillText(marker.label, x + 3 * dpr, top + 2 * dpr);
    }
    c.restore();
  }
}

function markerColor(marker: MarkerPayload, theme: Theme): string {
  switch (marker.kind) {
    case "exit":
      return marker.exitCode === 0 ? theme.green : theme.red;
    case "oom":
    case "failed":
      return theme.red;
    case "resize":
      return theme.blue;
    default:
      return theme.foreground;
  }
}

export function formatterFor(unit: Unit): (v: number | null) => string {
  switch (unit) {
    case "percent":
      return formatPercent;
    case "bytes":
      return formatBytes;
    default:
      return formatCount;
  }
}

/** Colours for per-vCPU / per-zone series, cycling through the theme's chart palette. */
export function palette(theme: Theme): string[] {
  return [theme.blue, theme.green, theme.yellow, theme.orange, theme.purple, theme.red];
}

// ── chart specs per dashboard kind ───────────────────────────────────────────────────────────

const MiB = 1024 * 1024;

/** The graphs of a zone dashboard: CPU (total + per vCPU), memory against its limits, processes. */
export function zoneCharts(
  store: SeriesStore,
  theme: Theme,
  limits: () => LimitsPayload | null,
): ChartSpec[] {
  const colors = palette(theme);
  const vcpus = store.columnNames(/^cpu\.\d+$/);
  const cpu: ChartSpec = {
    key: "cpu",
    title: vcpus.length ? `CPU (total and ${vcpus.length} vCPUs)` : "CPU",
    unit: "percent",
    minTop: 100,
    fixedTop: 100,
    series: [
      { label: "Total", color: theme.foreground, width: 2, values: store.column("cpu") },
      ...vcpus.map((name, i) => ({
        label: `vCPU ${name.slice(4)}`,
        color: withAlpha(colors[i % colors.length]!, 0.85),
        width: 1,
        values: store.column(name),
      })),
    ],
  };
  const memory: ChartSpec = {
    key: "memory",
    title: "Memory",
    unit: "bytes",
    minTop: 64 * MiB,
    series: [
      {
        label: "Used",
        color: theme.green,
        width: 2,
        fill: withAlpha(theme.green, 0.18),
        values: store.column("mem.used"),
      },
      {
        label: "Visible",
        color: withAlpha(theme.foreground, 0.6),
        width: 1,
        dash: [2, 3],
        values: store.column("mem.total"),
      },
    ],
    limitLines: () => {
      const l = limits();
      const lines: LimitLine[] = [];
      if (l?.targetMemoryBytes)
        lines.push({
          key: "target",
          label: `target ${formatBytes(l.targetMemoryBytes)}`,
          value: l.targetMemoryBytes,
          color: theme.orange,
        });
      if (l?.maxMemoryBytes)
        lines.push({
          key: "max",
          label: `max ${formatBytes(l.maxMemoryBytes)}`,
          value: l.maxMemoryBytes,
          color: theme.red,
        });
      return lines;
    },
  };
  const processes: ChartSpec = {
    key: "processes",
    title: "Processes",
    unit: "count",
    minTop: 4,
    series: [{ label: "Processes", color: theme.purple, width: 1.5, values: store.column("procs") }],
  };
  return [cpu, memory, processes];
}

/**
 * The graphs of a host dashboard: host CPU and memory, with each zone's share stacked beneath
 * the host line (zone i is drawn as the sum of zones 1..i, the legend shows its own value).
 */
export function hostCharts(store: SeriesStore, theme: Theme, zoneNames: Record<string, string>): ChartSpec[] {
  const colors = palette(theme);
  const zoneIds = [
    ...new Set(store.columnNames(/^zone\..+\.(cpu|mem)$/).map((n) => n.slice(5, n.lastIndexOf(".")))),
  ];
  const stacked = (suffix: "cpu" | "mem"): SeriesSpec[] => {
    const specs: SeriesSpec[] = [];
    let running: (number | null)[] | null = null;
    zoneIds.forEach((zoneId, i) => {
      const own = store.column(`zone.${zoneId}.${suffix}`);
      const sum: (number | null)[] = own.map((v, j) => {
        const below = running?.[j] ?? 0;
        return v === null ? (running ? (running[j] ?? null) : null) : below + v;
      });
      running = sum;
      const color = colors[i % colors.length]!;
      specs.push({
        label: zoneNames[zoneId] ?? zoneId.slice(0, 8),
        color,
        width: 1,
        fill: withAlpha(color, 0.3),
        values: sum,
        shown: own,
      });
    });
    // Drawn top of the stack first so each lower band paints over the one above it.
    return specs.reverse();
  };
  const cpu: ChartSpec = {
    key: "cpu",
    title: "Host CPU (zones stacked)",
    unit: "percent",
    minTop: 100,
    fixedTop: 100,
    series: [
      { label: "Host", color: theme.foreground, width: 2, values: store.column("cpu") },
      ...stacked("cpu"),
    ],
  };
  const memory: ChartSpec = {
    key: "memory",
    title: "Host memory (zones stacked)",
    unit: "bytes",
    minTop: 64 * MiB,
    series: [
      { label: "Host used", color: theme.foreground, width: 2, values: store.column("mem.used") },
      { label: "Host total", color: theme.red, width: 1, dash: [6, 4], values: store.column("mem.total") },
      ...stacked("mem"),
    ],
  };
  return [cpu, memory];
}
