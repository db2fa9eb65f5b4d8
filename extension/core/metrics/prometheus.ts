/**
 * A small parser for the Prometheus text exposition format (0.0.4, plus the OpenMetrics bits a
 * scrape may carry: `# EOF`, exemplars, quoted metric names), and the mapping from Protect's
 * `/metrics/resource` names onto host and zone samples.
 *
 * Lenient by design: a malformed line is reported in `errors` and skipped, so one odd metric
 * from a newer Protect release does not blank every graph.
 */
import type { HostSample } from "./types";

/** One sample line. */
export interface PrometheusSample {
  name: string;
  labels: Record<string, string>;
  value: number;
  /** Milliseconds since the epoch, when the line carried a timestamp. */
  timestampMs?: number;
}

/** HELP and TYPE lines, by metric family name. */
export interface PrometheusMetadata {
  help?: string;
  type?: string;
}

export interface PrometheusParseResult {
  samples: PrometheusSample[];
  metadata: Map<string, PrometheusMetadata>;
  /** Lines that could not be read, 1-based, with why. */
  errors: { line: number; message: string }[];
}

const metricNameStart = /[a-zA-Z_:]/;
const metricNameChar = /[a-zA-Z0-9_:]/;

/** Parses exposition text. Never throws on malformed input. */
export function parsePrometheusText(text: string): PrometheusParseResult {
  const result: PrometheusParseResult = { samples: [], metadata: new Map(), errors: [] };
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, "");
    const trimmed = line.trim();
    if (trimmed === "") continue;
    if (trimmed.startsWith("#")) {
      if (trimmed === "# EOF") break;
      readComment(trimmed, result.metadata);
      continue;
    }
    try {
      result.samples.push(new LineReader(trimmed).sample());
    } catch (err) {
      result.errors.push({ line: i + 1, message: err instanceof Error ? err.message : String(err) });
    }
  }
  return result;
}

function readComment(line: string, metadata: Map<string, PrometheusMetadata>): void {
  const match = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s+(.*))?$/.exec(line);
  if (!match) return; // an ordinary comment
  const [, keyword, name, rest = ""] = match;
  const entry = metadata.get(name!) ?? {};
  if (keyword === "HELP") entry.help = unescapeHelp(rest);
  else entry.type = rest.trim().toLowerCase();
  metadata.set(name!, entry);
}

function unescapeHelp(text: string): string {
  return text.replace(/\\(\\|n)/g, (_m, c: string) => (c === "n" ? "\n" : "\\"));
}

class LineReader {
  #pos = 0;
  constructor(readonly line: string) {}

  sample(): PrometheusSample {
    let name = "";
    if (this.#peek() !== "{") name = this.#metricName();
    const labels: Record<string, string> = {};
    let spaced = this.#spaces();
    if (this.#peek() === "{") {
      const quotedName = this.#labels(labels);
      if (quotedName !== null) {
        if (name) throw new Error("metric named twice");
        name = quotedName;
      }
      spaced = this.#spaces();
    }
    if (!name) throw new Error("missing metric name");
    if (!spaced) throw new Error(`expected a space before the value of ${name}`);
    const value = parseValue(this.#token());
    const sample: PrometheusSample = { name, labels, value };
    this.#spaces();
    if (this.#pos < this.line.length && this.#peek() !== "#") {
      const ts = this.#token();
      const n = Number(ts);
      if (!/^-?\d+(\.\d+)?$/.test(ts) || !Number.isFinite(n)) throw new Error(`bad timestamp "${ts}"`);
      // 0.0.4 timestamps are integer milliseconds; OpenMetrics ones are float seconds.
      sample.timestampMs = ts.includes(".") ? Math.round(n * 1000) : n;
      this.#spaces();
    }
    // Whatever follows a " # " is an exemplar: deliberately ignored.
    if (this.#pos < this.line.length && this.#peek() !== "#")
      throw new Error(`unexpected "${this.line.slice(this.#pos)}"`);
    return sample;
  }

  #peek(): string {
    return this.line[this.#pos] ?? "";
  }

  #spaces(): boolean {
    const start = this.#pos;
    while (this.#peek() === " " || this.#peek() === "\t") this.#pos++;
    return this.#pos > start;
  }

  #token(): string {
    const start = this.#pos;
    while (this.#pos < this.line.length && this.#peek() !== " " && this.#peek() !== "\t") this.#pos++;
    if (this.#pos === start) throw new Error("missing value");
    return this.line.slice(start, this.#pos);
  }

  #metricName(): string {
    const start = this.#pos;
    if (!metricNameStart.test(this.#peek()))
      throw new Error(`bad metric name at "${this.line.slice(0, 40)}"`);
    while (metricNameChar.test(this.#peek())) this.#pos++;
    return this.line.slice(start, this.#pos);
  }

  /** Reads `{…}` into `labels`; returns a quoted metric name if the set began with one. */
  #labels(labels: Record<string, string>): string | null {
    this.#pos++; // {
    let quotedName: string | null = null;
    let first = true;
    for (;;) {
      this.#spaces();
      if (this.#peek() === "}") {
        this.#pos++;
        return quotedName;
      }
      let labelName: string;
      if (this.#peek() === '"') {
        const quoted = this.#quoted();
        this.#spaces();
        if (this.#peek() !== "=") {
          if (!first) throw new Error("a quoted metric name must come first");
          quotedName = quoted;
          this.#afterItem();
          first = false;
          continue;
        }
        labelName = quoted;
      } else {
        const start = this.#pos;
        while (/[a-zA-Z0-9_]/.test(this.#peek())) this.#pos++;
        labelName = this.line.slice(start, this.#pos);
        if (!/^[a-zA-Z_]/.test(labelName)) throw new Error(`bad label name at column ${start + 1}`);
        this.#spaces();
      }
      if (this.#peek() !== "=") throw new Error(`expected "=" after label ${labelName}`);
      this.#pos++;
      this.#spaces();
      if (this.#peek() !== '"') throw new Error(`label ${labelName} has no quoted value`);
      if (Object.hasOwn(labels, labelName)) throw new Error(`label ${labelName} given twice`);
      labels[labelName] = this.#quoted();
      this.#afterItem();
      first = false;
    }
  }

  #afterItem(): void {
    this.#spaces();
    if (this.#peek() === ",") this.#pos++;
    else if (this.#peek() !== "}") throw new Error('expected "," or "}" in label set');
  }

  #quoted(): string {
    this.#pos++; // opening quote
    let out = "";
    for (;;) {
      const c = this.#peek();
      if (c === "") throw new Error("unterminated label value");
      this.#pos++;
      if (c === '"') return out;
      if (c === "\\") {
        const next = this.#peek();
        this.#pos++;
        if (next === "n") out += "\n";
        else if (next === "\\" || next === '"') out += next;
        else throw new Error(`bad escape "\\${next}"`);
      } else {
        out += c;
      }
    }
  }
}

/** Go's ParseFloat spellings as Prometheus writes them: NaN, +Inf, -Inf, Inf, exponents. */
function parseValue(token: string): number {
  const lower = token.toLowerCase();
  if (lower === "nan") return Number.NaN;
  if (lower === "+inf" || lower === "inf") return Number.POSITIVE_INFINITY;
  if (lower === "-inf") return Number.NEGATIVE_INFINITY;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(token) && !/^[+-]?0x[0-9a-f]+$/i.test(token)) {
    throw new Error(`bad value "${token}"`);
  }
  const n = Number(token.startsWith("+") ? token.slice(1) : token);
  if (Number.isNaN(n)) throw new Error(`bad value "${token}"`);
  return n;
}

/** Per-zone figures from Protect's `/metrics/resource`. */
export interface PrometheusZoneReading {
  cpuPercent: number | null;
  cpuPerVcpu?: number[];
  memoryUsed: number | null;
  memoryTotal: number | null;
  memoryFree: number | null;
}

/** Host and zone readings from one scrape. */
export interface ProtectResourceReading {
  host: HostSample | null;
  zones: Map<string, PrometheusZoneReading>;
}

/**
 * Maps Protect's metric names (`zone_cpu_usage_percent{cpu,zone_id}`,
 * `zone_memory_{total,used,free}_bytes{zone_id}`, `host_cpu_usage_percent{cpu}`,
 * `host_memory_{total,used,free}_bytes`) onto readings. Other metrics are ignored.
 */
export function protectResourceReading(
  samples: readonly PrometheusSample[],
  time: number,
): ProtectResourceReading {
  const zoneCpu = new Map<string, Map<number, number>>();
  const zoneCpuTotal = new Map<string, number>();
  const zoneMemory = new Map<string, { used: number | null; total: number | null; free: number | null }>();
  const hostCpu = new Map<number, number>();
  let hostCpuTotal: number | null = null;
  const hostMemory = {
    used: null as number | null,
    total: null as number | null,
    free: null as number | null,
  };
  let sawHost = false;

  const memoryOf = (zoneId: string): { used: number | null; total: number | null; free: number | null } => {
    let m = zoneMemory.get(zoneId);
    if (!m) zoneMemory.set(zoneId, (m = { used: null, total: null, free: null }));
    return m;
  };

  for (const s of samples) {
    if (!Number.isFinite(s.value)) continue;
    const zoneId = s.labels["zone_id"];
    const cpu = cpuLabel(s.labels["cpu"]);
    switch (s.name) {
      case "zone_cpu_usage_percent": {
        if (!zoneId) break;
        if (cpu === null) zoneCpuTotal.set(zoneId, s.value);
        else {
          let m = zoneCpu.get(zoneId);
          if (!m) zoneCpu.set(zoneId, (m = new Map<number, number>()));
          m.set(cpu, s.value);
        }
        break;
      }
      case "zone_memory_total_bytes":
      case "zone_memory_used_bytes":
      case "zone_memory_free_bytes":
        if (zoneId)
          memoryOf(zoneId)[
            s.name.slice("zone_memory_".length, -"_bytes".length) as "total" | "used" | "free"
          ] = s.value;
        break;
      case "host_cpu_usage_percent":
        sawHost = true;
        if (cpu === null) hostCpuTotal = s.value;
        else hostCpu.set(cpu, s.value);
        break;
      case "host_memory_total_bytes":
      case "host_memory_used_bytes":
      case "host_memory_free_bytes":
        sawHost = true;
        hostMemory[s.name.slice("host_memory_".length, -"_bytes".length) as "total" | "used" | "free"] =
          s.value;
        break;
    }
  }

  const zones = new Map<string, PrometheusZoneReading>();
  for (const zoneId of new Set([...zoneCpu.keys(), ...zoneCpuTotal.keys(), ...zoneMemory.keys()])) {
    const perCpu = zoneCpu.get(zoneId);
    const memory = completeMemory(zoneMemory.get(zoneId) ?? { used: null, total: null, free: null });
    const reading: PrometheusZoneReading = {
      cpuPercent: zoneCpuTotal.get(zoneId) ?? (perCpu ? mean(perCpu) : null),
      memoryUsed: memory.used,
      memoryTotal: memory.total,
      memoryFree: memory.free,
    };
    if (perCpu) reading.cpuPerVcpu = dense(perCpu);
    zones.set(zoneId, reading);
  }

  let host: HostSample | null = null;
  if (sawHost) {
    const memory = completeMemory(hostMemory);
    host = {
      time,
      cpuPercent: hostCpuTotal ?? (hostCpu.size ? mean(hostCpu) : null),
      memoryUsed: memory.used,
      memoryTotal: memory.total,
      memoryFree: memory.free,
    };
    if (hostCpu.size) host.cpuPerCpu = dense(hostCpu);
  }
  return { host, zones };
}

/** A CPU index from a `cpu` label ("0", "cpu0"); null for a missing or aggregate label. */
function cpuLabel(label: string | undefined): number | null {
  if (label === undefined) return null;
  const match = /^(?:v?cpu)?(\d+)$/i.exec(label);
  return match ? Number(match[1]) : null;
}

function mean(values: Map<number, number>): number {
  let sum = 0;
  for (const v of values.values()) sum += v;
  return sum / values.size;
}

function dense(values: Map<number, number>): number[] {
  const count = Math.max(...values.keys()) + 1;
  return Array.from({ length: count }, (_, i) => values.get(i) ?? Number.NaN);
}

function completeMemory(m: { used: number | null; total: number | null; free: number | null }): {
  used: number | null;
  total: number | null;
  free: number | null;
} {
  let { used, total, free } = m;
  if (used === null && total !== null && free !== null) used = total - free;
  if (free === null && total !== null && used !== null) free = total - used;
  if (total === null && used !== null && free !== null) total = used + free;
  return { used, total, free };
}
