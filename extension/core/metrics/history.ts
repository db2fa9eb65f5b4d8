/**
 * What the extension remembers about one zone (or one host) between panel openings and across
 * reconnects: the sample ring, the markers, the latest process list and the limits. Histories
 * belong to the sampler, not to panels, so closing a panel loses nothing.
 */
import { Emitter, type Event } from "../events";
import { BoundedList, SeriesRing } from "./ringBuffer";
import type { HostSample, Marker, ProcessInfo, ZoneLimits, ZoneSample } from "./types";

/** Column names in a history ring. Per-CPU and per-zone columns are built by the helpers below. */
export const Column = {
  cpu: "cpu",
  memoryUsed: "mem.used",
  memoryTotal: "mem.total",
  memoryFree: "mem.free",
  processes: "procs",
  /** Per-vCPU (zone) or per-CPU (host) use: `cpu.0`, `cpu.1`, … */
  cpuAt: (index: number): string => `cpu.${index}`,
  /**
   * A zone's CPU inside a host history, for the stacked view: its share of the whole host's
   * capacity, 0–100 (the sum of its per-vCPU figures over the host's CPU count), so the
   * zones stack up under the host's own line.
   */
  zoneCpu: (zoneId: string): string => `zone.${zoneId}.cpu`,
  /** A zone's used memory inside a host history, for the stacked view. */
  zoneMemory: (zoneId: string): string => `zone.${zoneId}.mem`,
} as const;

/** What changed in a history; subscribers get these as they happen. */
export type HistoryChange =
  | { kind: "sample"; time: number; row: Readonly<Record<string, number>> }
  | { kind: "gap"; time: number }
  | { kind: "marker"; marker: Marker }
  | { kind: "limits"; limits: ZoneLimits }
  | { kind: "processes"; processes: readonly ProcessInfo[] }
  | { kind: "status"; status: SamplingStatus };

/** Whether the last read worked; shown by panels as a banner. */
export type SamplingStatus = { state: "ok" } | { state: "error"; message: string } | { state: "stopped" };

const markerCapacity = 1000;

export class MetricsHistory {
  readonly ring: SeriesRing;
  readonly #markers = new BoundedList<Marker>(markerCapacity);
  #limits: ZoneLimits | null = null;
  #processes: readonly ProcessInfo[] = [];
  #status: SamplingStatus = { state: "stopped" };
  /** True when the last row pushed was a gap, so a failure streak adds one gap, not many. */
  #inGap = false;
  readonly #onDidChange = new Emitter<HistoryChange>();
  readonly onDidChange: Event<HistoryChange> = this.#onDidChange.event;

  constructor(capacity: number) {
    this.ring = new SeriesRing(capacity, [
      Column.cpu,
      Column.memoryUsed,
      Column.memoryTotal,
      Column.memoryFree,
      Column.processes,
    ]);
  }

  get markers(): readonly Marker[] {
    return this.#markers.items;
  }

  get limits(): ZoneLimits | null {
    return this.#limits;
  }

  get processes(): readonly ProcessInfo[] {
    return this.#processes;
  }

  get status(): SamplingStatus {
    return this.#status;
  }

  /** Appends a zone sample. */
  addZoneSample(sample: ZoneSample): void {
    const row: Record<string, number> = {
      [Column.cpu]: orNaN(sample.cpuPercent),
      [Column.memoryUsed]: orNaN(sample.memoryUsed),
      [Column.memoryTotal]: orNaN(sample.memoryTotal),
      [Column.memoryFree]: orNaN(sample.memoryFree),
      [Column.processes]: sample.processes.length,
    };
    sample.cpuPerVcpu?.forEach((v, i) => (row[Column.cpuAt(i)] = v));
    this.#pushRow(sample.time, row);
    this.#processes = sample.processes;
    this.#onDidChange.fire({ kind: "processes", processes: sample.processes });
  }

  /** Appends a host sample with each zone's CPU and memory for the stacked view. */
  addHostSample(
    sample: HostSample,
    zones: ReadonlyMap<
      string,
      { cpuPercent: number | null; cpuPerVcpu?: number[]; memoryUsed: number | null }
    >,
  ): void {
    const row: Record<string, number> = {
      [Column.cpu]: orNaN(sample.cpuPercent),
      [Column.memoryUsed]: orNaN(sample.memoryUsed),
      [Column.memoryTotal]: orNaN(sample.memoryTotal),
      [Column.memoryFree]: orNaN(sample.memoryFree),
      [Column.processes]: Number.NaN,
    };
    sample.cpuPerCpu?.forEach((v, i) => (row[Column.cpuAt(i)] = v));
    const hostCpus = sample.cpuPerCpu?.length || 1;
    for (const [zoneId, z] of zones) {
      // Without a per-vCPU breakdown the zone's mean counts as one vCPU's worth.
      const used = z.cpuPerVcpu
        ? z.cpuPerVcpu.reduce((a, v) => a + (Number.isNaN(v) ? 0 : v), 0)
        : z.cpuPercent;
      row[Column.zoneCpu(zoneId)] = used === null ? Number.NaN : Math.min(100, used / hostCpus);
      row[Column.zoneMemory(zoneId)] = orNaN(z.memoryUsed);
    }
    this.#pushRow(sample.time, row);
    this.#pruneZoneColumns();
  }

  /** Records that no reading exists at `time`, so graphs break the line instead of joining across it. */
  addGap(time: number): void {
    if (this.#inGap || this.ring.length === 0) return;
    this.ring.push(time, {});
    this.#inGap = true;
    this.#onDidChange.fire({ kind: "gap", time });
  }

  addMarker(marker: Marker): void {
    this.#markers.push(marker);
    this.#onDidChange.fire({ kind: "marker", marker });
  }

  /** Sets the limits; a change after the first is also a "resize" marker. */
  setLimits(limits: ZoneLimits, time: number): void {
    const previous = this.#limits;
    if (previous && sameLimits(previous, limits)) return;
    this.#limits = limits;
    if (previous) this.addMarker({ time, kind: "resize", label: describeLimits(limits) });
    this.#onDidChange.fire({ kind: "limits", limits });
  }

  setStatus(status: SamplingStatus): void {
    if (sameStatus(this.#status, status)) return;
    this.#status = status;
    this.#onDidChange.fire({ kind: "status", status });
  }

  dispose(): void {
    this.#onDidChange.dispose();
  }

  #pushRow(time: number, row: Record<string, number>): void {
    this.ring.push(time, row);
    this.#inGap = false;
    this.#onDidChange.fire({ kind: "sample", time, row });
  }

  /**
   * Zones come and go; a host history must not grow a column per zone forever. Columns of zones
   * with no value left in the ring are dropped once there are many of them.
   */
  #pruneZoneColumns(): void {
    const zoneColumns = this.ring.columns.filter((c) => c.startsWith("zone."));
    if (zoneColumns.length <= 128) return;
    for (const name of zoneColumns) {
      let any = false;
      for (let i = 0; i < this.ring.length && !any; i++) any = !Number.isNaN(this.ring.valueAt(name, i));
      if (!any) this.ring.deleteColumn(name);
    }
  }
}

function orNaN(v: number | null | undefined): number {
  return v === null || v === undefined ? Number.NaN : v;
}

function sameLimits(a: ZoneLimits, b: ZoneLimits): boolean {
  return (
    a.targetMemoryBytes === b.targetMemoryBytes &&
    a.maxMemoryBytes === b.maxMemoryBytes &&
    a.targetCpus === b.targetCpus &&
    a.maxCpus === b.maxCpus
  );
}

function sameStatus(a: SamplingStatus, b: SamplingStatus): boolean {
  return a.state === b.state && (a.state !== "error" || (b.state === "error" && a.message === b.message));
}

const MiB = 1024 * 1024;

/** "2 vCPU · 1024 MiB" — the text of a resize marker. */
export function describeLimits(limits: ZoneLimits): string {
  const parts: string[] = [];
  if (limits.targetCpus !== null) parts.push(`${limits.targetCpus} vCPU`);
  if (limits.targetMemoryBytes !== null) parts.push(`${Math.round(limits.targetMemoryBytes / MiB)} MiB`);
  return parts.join(" · ") || "resized";
}
