/**
 * The typed shapes the metrics core produces. Everything downstream (ring buffers, the sampler,
 * the dashboard protocol) speaks these, never raw MetricNode trees or Prometheus samples.
 */

/** One process inside a zone, as its metric subtree `process/<pid>/…` describes it. */
export interface ProcessInfo {
  pid: number;
  parentPid: number | null;
  /** The command line joined with spaces, else the executable path, else "". */
  command: string;
  executable: string | null;
  cwd: string | null;
  residentBytes: number | null;
  virtualBytes: number | null;
  lifetimeSeconds: number | null;
  uid: number | null;
  gid: number | null;
  /** Present only when the host reports a per-process percentage. */
  cpuPercent: number | null;
}

/** One reading of a zone. Values the host did not report are null, never guessed. */
export interface ZoneSample {
  /** Milliseconds since the epoch, taken when the read was issued. */
  time: number;
  /**
   * Whole-zone CPU use, 0–100 % of the zone's vCPUs together (the mean of the per-vCPU values
   * when only those exist). Null when the host reports no CPU figures (krata-style trees).
   */
  cpuPercent: number | null;
  /** Per-vCPU use, 0–100 each, indexed by vCPU number; absent when the host gives no breakdown. */
  cpuPerVcpu?: number[];
  memoryUsed: number | null;
  memoryTotal: number | null;
  memoryFree: number | null;
  processes: ProcessInfo[];
}

/** One reading of a whole host (from the Prometheus endpoint). */
export interface HostSample {
  time: number;
  cpuPercent: number | null;
  cpuPerCpu?: number[];
  memoryUsed: number | null;
  memoryTotal: number | null;
  memoryFree: number | null;
}

/** A zone's resource limits in bytes and CPUs, as drawn for the limit lines. */
export interface ZoneLimits {
  targetMemoryBytes: number | null;
  maxMemoryBytes: number | null;
  targetCpus: number | null;
  maxCpus: number | null;
}

/** What a marker on the time axis stands for. */
export type MarkerKind = "state" | "exit" | "oom" | "failed" | "resize";

/** An event drawn on the time axis: a state transition, an exit, a resize. */
export interface Marker {
  time: number;
  kind: MarkerKind;
  /** Short text for the axis, e.g. "READY" or "exit 137". */
  label: string;
  exitCode?: number;
  /** What the host said, e.g. an error status message. */
  reason?: string;
}
