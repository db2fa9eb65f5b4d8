/**
 * Reads a `ReadZoneMetrics` tree into a ZoneSample. The tree's layout is not a contract: krata
 * put memory under `system/memory`, Protect adds percentage nodes at paths nobody documented.
 * So nothing here hard-codes a path: nodes are recognised by their names, their formats and
 * the shape of their children.
 */
import type { Value } from "@bufbuild/protobuf/wkt";
import { MetricFormat, type MetricNode } from "../../proto/gen/protect/control/v1/common_pb";
import type { ProcessInfo, ZoneSample } from "./types";

/** Names a process subtree is known to carry; two of them make a numbered node a process. */
const processKeys = new Set([
  "parent",
  "executable",
  "cmdline",
  "cwd",
  "memory",
  "lifetime",
  "uid",
  "gid",
  "euid",
  "egid",
]);

const pidName = /^\d+$/;
/** `0`, `cpu0`, `vcpu3`: a CPU index, alone or with a prefix. */
const cpuIndexName = /^(?:v?cpu)?(\d+)$/i;

/** Converts a metric tree into a sample taken at `time` (ms since the epoch). */
export function zoneSampleFromTree(root: MetricNode | undefined, time: number): ZoneSample {
  const sample: ZoneSample = {
    time,
    cpuPercent: null,
    memoryUsed: null,
    memoryTotal: null,
    memoryFree: null,
    processes: [],
  };
  if (!root) return sample;

  const memoryCandidates: { node: MetricNode; path: string[] }[] = [];
  const totals: { value: number; path: string[] }[] = [];
  const perVcpu = new Map<number, number>();

  const visit = (node: MetricNode, path: string[]): void => {
    if (isProcessNode(node)) {
      sample.processes.push(readProcess(node));
      return;
    }
    if (
      node.name.toLowerCase() === "memory" &&
      node.children.some((c) => memoryFieldNames.has(c.name.toLowerCase()))
    ) {
      memoryCandidates.push({ node, path });
    }
    if (node.format === MetricFormat.PERCENT) {
      const value = numberOf(node.value);
      if (value !== null) {
        const index = vcpuIndex(path);
        if (index === null) totals.push({ value, path });
        else perVcpu.set(index, value);
      }
    }
    for (const child of node.children) visit(child, [...path, child.name]);
  };
  // The root's own name ("zone", or empty) says nothing; paths start below it.
  for (const child of root.children) visit(child, [child.name]);
  if (root.format === MetricFormat.PERCENT) {
    const value = numberOf(root.value);
    if (value !== null) totals.push({ value, path: [] });
  }

  const memory = pickMemory(memoryCandidates);
  if (memory) Object.assign(sample, memory);

  if (perVcpu.size > 0) {
    const count = Math.max(...perVcpu.keys()) + 1;
    sample.cpuPerVcpu = Array.from({ length: count }, (_, i) => perVcpu.get(i) ?? Number.NaN);
  }
  const total = pickTotal(totals);
  if (total !== null) {
    sample.cpuPercent = total;
  } else if (sample.cpuPerVcpu) {
    const known = sample.cpuPerVcpu.filter((v) => !Number.isNaN(v));
    sample.cpuPercent = known.length ? known.reduce((a, b) => a + b, 0) / known.length : null;
  }
  sample.processes.sort((a, b) => a.pid - b.pid);
  return sample;
}

const memoryFieldNames = new Set(["total", "used", "free"]);

function pickMemory(
  candidates: { node: MetricNode; path: string[] }[],
): Pick<ZoneSample, "memoryUsed" | "memoryTotal" | "memoryFree"> | null {
  if (candidates.length === 0) return null;
  // Several "memory" nodes: the one under "system" describes the whole guest; else the shallowest.
  const ranked = [...candidates].sort((a, b) => rankMemory(a.path) - rankMemory(b.path));
  const node = ranked[0]!.node;
  const field = (name: string): number | null => {
    const child = node.children.find((c) => c.name.toLowerCase() === name);
    return child ? numberOf(child.value) : null;
  };
  let total = field("total");
  let used = field("used");
  let free = field("free");
  if (used === null && total !== null && free !== null) used = total - free;
  if (free === null && total !== null && used !== null) free = total - used;
  if (total === null && used !== null && free !== null) total = used + free;
  return { memoryUsed: used, memoryTotal: total, memoryFree: free };
}

function rankMemory(path: string[]): number {
  return (path.some((p) => p.toLowerCase() === "system") ? 0 : 1000) + path.length;
}

function pickTotal(totals: { value: number; path: string[] }[]): number | null {
  if (totals.length === 0) return null;
  const score = (path: string[]): number => {
    const lower = path.map((p) => p.toLowerCase());
    const last = lower.at(-1) ?? "";
    let s = 0;
    if (lower.some((p) => p.includes("cpu"))) s += 10;
    if (last === "total" || last === "usage" || last === "cpu" || last === "all") s += 5;
    return s - path.length * 0.01;
  };
  return [...totals].sort((a, b) => score(b.path) - score(a.path))[0]!.value;
}

/**
 * The vCPU a percentage node belongs to, if its path names one: `cpu/3/usage`, `cpu3`,
 * `vcpus/vcpu3`. A bare number only counts when a CPU-ish name sits right above it.
 */
function vcpuIndex(path: string[]): number | null {
  for (let i = path.length - 1; i >= 0; i--) {
    const segment = path[i]!;
    const match = cpuIndexName.exec(segment);
    if (!match) continue;
    const prefixed = /^v?cpu/i.test(segment);
    const underCpu = i > 0 && /cpu/i.test(path[i - 1]!);
    if (prefixed || underCpu) return Number(match[1]);
  }
  return null;
}

function isProcessNode(node: MetricNode): boolean {
  if (!pidName.test(node.name) || node.children.length === 0) return false;
  let known = 0;
  for (const child of node.children) if (processKeys.has(child.name.toLowerCase())) known++;
  return known >= 2;
}

function readProcess(node: MetricNode): ProcessInfo {
  const child = (name: string): MetricNode | undefined =>
    node.children.find((c) => c.name.toLowerCase() === name);
  const memory = child("memory");
  const memoryField = (name: string): number | null => {
    const n = memory?.children.find((c) => c.name.toLowerCase() === name);
    return n ? numberOf(n.value) : null;
  };
  const cmdline = child("cmdline");
  const executable = stringOf(child("executable")?.value);
  const argv = cmdline ? stringsOf(cmdline.value) : [];
  let cpuPercent: number | null = null;
  const findPercent = (n: MetricNode): void => {
    if (cpuPercent !== null) return;
    if (n.format === MetricFormat.PERCENT) cpuPercent = numberOf(n.value);
    for (const c of n.children) findPercent(c);
  };
  for (const c of node.children) findPercent(c);
  return {
    pid: Number(node.name),
    parentPid: integerOf(child("parent")?.value),
    command: argv.length ? argv.join(" ") : (executable ?? ""),
    executable,
    cwd: stringOf(child("cwd")?.value),
    residentBytes: memoryField("resident"),
    virtualBytes: memoryField("virtual"),
    lifetimeSeconds: numberOf(child("lifetime")?.value),
    uid: integerOf(child("uid")?.value),
    gid: integerOf(child("gid")?.value),
    cpuPercent,
  };
}

/** A number from a protobuf Value; numeric strings count (some hosts send them so). */
export function numberOf(value: Value | undefined): number | null {
  const kind = value?.kind;
  if (!kind) return null;
  if (kind.case === "numberValue") return Number.isFinite(kind.value) ? kind.value : null;
  if (kind.case === "stringValue") {
    const trimmed = kind.value.trim();
    if (trimmed === "") return null;
    const n = Number(trimmed);
    return Number.isFinite(n) ? n : null;
  }
  if (kind.case === "boolValue") return kind.value ? 1 : 0;
  return null;
}

function integerOf(value: Value | undefined): number | null {
  const n = numberOf(value);
  return n === null ? null : Math.trunc(n);
}

function stringOf(value: Value | undefined): string | null {
  const kind = value?.kind;
  if (!kind) return null;
  if (kind.case === "stringValue") return kind.value;
  if (kind.case === "numberValue") return String(kind.value);
  return null;
}

function stringsOf(value: Value | undefined): string[] {
  const kind = value?.kind;
  if (!kind) return [];
  if (kind.case === "listValue")
    return kind.value.values.map((v) => stringOf(v) ?? "").filter((s) => s !== "");
  const s = stringOf(value);
  return s ? [s] : [];
}
