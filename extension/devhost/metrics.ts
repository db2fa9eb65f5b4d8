import { createServer } from "node:http";
import type { Server } from "node:http";
import { readFileSync } from "node:fs";
import { totalmem } from "node:os";
import { create } from "@bufbuild/protobuf";
import type { JsonValue } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { fromJson } from "@bufbuild/protobuf";
import { delay } from "../core/abort";
import type { Logger } from "../core/log";
import { MetricFormat, MetricNodeSchema } from "../proto/gen/protect/control/v1/common_pb";
import type { MetricNode } from "../proto/gen/protect/control/v1/common_pb";
import { DevHostError } from "./errors";
import { childrenOf, namespacePids, processInfo } from "./sandbox/procfs";
import type { ZoneSandbox } from "./sandbox/zoneSandbox";
import { VmZone } from "./vm/vmZone";
import type { ZoneRuntime } from "./zoneRuntime";
import type { GuestReadings } from "./vm/vmZone";

const clockTicks = 100; // USER_HZ on Linux
const minWindowMs = 100;

interface CpuReading {
  at: number;
  total: bigint;
  perCpu: bigint[] | undefined;
}

/**
 * Real readings for ReadZoneMetrics and the Prometheus endpoint: memory from the zone's cgroup
 * and its limit, CPU percentages from cgroup usage deltas (so two reads are needed; the first
 * call samples over a short window), processes from /proc.
 */
export class MetricsSampler {
  readonly #zoneCpu = new Map<string, { last: CpuReading; percent: number; perCpu: number[] | undefined }>();
  #hostCpu: { last: number[][]; at: number; percent: number[] } | undefined;

  /** CPU use of a zone: percent of its allocated CPUs, and per host CPU (percent of that CPU). */
  async zoneCpu(
    sandbox: ZoneRuntime,
    allocatedCpus: number,
  ): Promise<{ percent: number; perCpu: number[] | undefined } | undefined> {
    if (sandbox instanceof VmZone) return (await vmReadings(sandbox, false)).cpu;
    const read = (): CpuReading | undefined => {
      const total = sandbox.cgroup?.cpuUsageNs();
      return total === undefined
        ? undefined
        : { at: performance.now(), total, perCpu: sandbox.cgroup?.perCpuUsageNs() };
    };
    let previous = this.#zoneCpu.get(sandbox.zoneId);
    if (!previous) {
      const first = read();
      if (!first) return undefined;
      await delay(minWindowMs);
      previous = { last: first, percent: 0, perCpu: undefined };
    }
    const now = read();
    if (!now) return undefined;
    const windowMs = now.at - previous.last.at;
    if (windowMs < minWindowMs) return { percent: previous.percent, perCpu: previous.perCpu };
    const windowNs = windowMs * 1e6;
    const percent = (Number(now.total - previous.last.total) / windowNs / Math.max(allocatedCpus, 1)) * 100;
    const perCpu =
      now.perCpu && previous.last.perCpu && now.perCpu.length === previous.last.perCpu.length
        ? now.perCpu.map((v, i) => clampPercent((Number(v - previous.last.perCpu![i]!) / windowNs) * 100))
        : undefined;
    const result = { percent: clampPercent(percent), perCpu };
    this.#zoneCpu.set(sandbox.zoneId, { last: now, ...result });
    return result;
  }

  forget(zoneId: string): void {
    this.#zoneCpu.delete(zoneId);
  }

  /** Memory of a zone: used from its cgroup (minus reclaimable page cache), total = its limit. */
  async zoneMemory(sandbox: ZoneRuntime): Promise<{ total: number; used: number; free: number }> {
    if (sandbox instanceof VmZone) return (await vmReadings(sandbox, false)).memory;
    const hostTotal = totalmem();
    const reading = sandbox.cgroup?.memory();
    let used: number;
    let total: number;
    if (reading) {
      used = Math.max(0, reading.used - (sandbox.cgroup?.inactiveFileBytes() ?? 0));
      total = Math.min(reading.limit ?? hostTotal, hostTotal);
    } else {
      used = zoneProcesses(sandbox as ZoneSandbox).reduce((sum, p) => sum + p.residentBytes, 0);
      total = hostTotal;
    }
    return { total, used, free: Math.max(0, total - used) };
  }

  /** Per-CPU busy percent of the host from /proc/stat deltas. */
  async hostCpu(): Promise<number[]> {
    const read = (): number[][] =>
      readFileSync("/proc/stat", "utf8")
        .split("\n")
        .filter((l) => /^cpu\d+ /.test(l))
        .map((l) => l.trim().split(/\s+/).slice(1).map(Number));
    let previous = this.#hostCpu;
    if (!previous) {
      const first = read();
      await delay(minWindowMs);
      previous = { last: first, at: performance.now() - minWindowMs, percent: [] };
    }
    if (performance.now() - previous.at < minWindowMs && previous.percent.length) return previous.percent;
    const now = read();
    const percent = now.map((fields, i) => {
      const before = previous.last[i] ?? fields;
      const idle = (f: number[]): number => (f[3] ?? 0) + (f[4] ?? 0);
      const sum = (f: number[]): number => f.slice(0, 8).reduce((a, b) => a + b, 0);
      const total = sum(fields) - sum(before);
      return total > 0 ? clampPercent(((total - (idle(fields) - idle(before))) / total) * 100) : 0;
    });
    this.#hostCpu = { last: now, at: performance.now(), percent };
    return percent;
  }
}

/** Processes of a zone with their pid as the zone sees it (namespace mode) or the host pid. */
export function zoneProcesses(
  sandbox: ZoneSandbox,
): (NonNullable<ReturnType<typeof processInfo>> & { zonePid: number; zoneParent: number })[] {
  const hostPids = sandbox.cgroup ? sandbox.cgroup.pids() : descendants(sandbox.initPid);
  const namespaced = sandbox.mode === "namespaces";
  const zonePidOf = new Map<number, number>();
  for (const pid of hostPids) {
    const ns = namespacePids(pid);
    // Wrappers (nsenter, unshare) sit in the zone's cgroup but outside its pid namespace: not zone processes.
    if (namespaced && ns.length < 2) continue;
    zonePidOf.set(pid, namespaced ? ns[ns.length - 1]! : pid);
  }
  const out = [];
  for (const [pid, zonePid] of zonePidOf) {
    const info = processInfo(pid);
    if (!info) continue;
    out.push({ ...info, zonePid, zoneParent: zonePidOf.get(info.parent) ?? 0 });
  }
  return out.sort((a, b) => a.zonePid - b.zonePid);
}

function descendants(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length && out.length < 10_000; i++) out.push(...childrenOf(out[i]!));
  return out;
}

/**
 * A VM's readings from its guest agent. The first call of a zone has no earlier CPU counters to
 * compare with, so it samples twice over a short window, as the cgroup readings do.
 */
async function vmReadings(vm: VmZone, processes: boolean): Promise<GuestReadings> {
  const first = await vm.readings(processes);
  if (first.cpu) return first;
  await delay(minWindowMs);
  return vm.readings(processes);
}

/** One process row of the tree: its pid and parent as the zone sees them. */
interface ZoneProcessRow {
  zonePid: number;
  zoneParent: number;
  executable: string;
  cmdline: string;
  cwd: string;
  residentBytes: number;
  virtualBytes: number;
  startTicks: number;
  uid: number;
  gid: number;
}

/** The ReadZoneMetrics tree: system/memory, system/cpu (percent), process/<pid>/…. */
export async function zoneMetricTree(
  sampler: MetricsSampler,
  sandbox: ZoneRuntime,
  allocatedCpus: number,
): Promise<MetricNode> {
  let memory: { total: number; used: number; free: number };
  let cpu: { percent: number } | undefined;
  let uptimeSeconds: number;
  let rows: ZoneProcessRow[];
  if (sandbox instanceof VmZone) {
    // The guest's own /proc: its memory, its vCPUs, its processes and its clock.
    const r = await vmReadings(sandbox, true);
    ({ memory, cpu, uptimeSeconds } = r);
    rows = r.processes.map((p) => ({ ...p, zonePid: p.pid, zoneParent: p.parent }));
  } else {
    memory = await sampler.zoneMemory(sandbox);
    cpu = await sampler.zoneCpu(sandbox, allocatedCpus);
    uptimeSeconds = Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);
    rows = zoneProcesses(sandbox as ZoneSandbox);
  }
  const processes = rows.map((p) =>
    node(String(p.zonePid), undefined, MetricFormat.UNKNOWN, [
      node("parent", p.zoneParent, MetricFormat.INTEGER),
      node("executable", p.executable, MetricFormat.UNKNOWN),
      node("cmdline", p.cmdline, MetricFormat.UNKNOWN),
      node("cwd", p.cwd, MetricFormat.UNKNOWN),
      node("memory", undefined, MetricFormat.UNKNOWN, [
        node("resident", p.residentBytes, MetricFormat.BYTES),
        node("virtual", p.virtualBytes, MetricFormat.BYTES),
      ]),
      node("lifetime", Math.max(0, uptimeSeconds - p.startTicks / clockTicks), MetricFormat.DURATION_SECONDS),
      node("uid", p.uid, MetricFormat.INTEGER),
      node("gid", p.gid, MetricFormat.INTEGER),
    ]),
  );
  const system = [
    node("memory", undefined, MetricFormat.UNKNOWN, [
      node("total", memory.total, MetricFormat.BYTES),
      node("used", memory.used, MetricFormat.BYTES),
      node("free", memory.free, MetricFormat.BYTES),
    ]),
  ];
  if (cpu)
    system.push(
      node("cpu", undefined, MetricFormat.UNKNOWN, [node("usage", round(cpu.percent), MetricFormat.PERCENT)]),
    );
  return node("zone", undefined, MetricFormat.UNKNOWN, [
    node("system", undefined, MetricFormat.UNKNOWN, system),
    node("process", undefined, MetricFormat.UNKNOWN, processes),
  ]);
}

function node(
  name: string,
  value: string | number | undefined,
  format: MetricFormat,
  children: MetricNode[] = [],
): MetricNode {
  return create(MetricNodeSchema, {
    name,
    format,
    children,
    ...(value !== undefined ? { value: fromJson(ValueSchema, value as JsonValue) } : {}),
  });
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

function clampPercent(n: number): number {
  return Number.isFinite(n) ? Math.min(Math.max(n, 0), 100 * 4096) : 0;
}

/** The zones a Prometheus scrape covers, with what it needs of each. */
export interface ScrapeZone {
  zoneId: string;
  sandbox: ZoneRuntime;
  cpus: number;
}

/** Prometheus text with the metric names a real Protect host serves at /metrics/resource. */
export async function prometheusText(sampler: MetricsSampler, zones: ScrapeZone[]): Promise<string> {
  const lines: string[] = [];
  const gauge = (name: string, help: string): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
  };
  const hostCpu = await sampler.hostCpu();
  gauge("host_cpu_usage_percent", "Busy time of each host CPU in percent.");
  hostCpu.forEach((v, i) => lines.push(`host_cpu_usage_percent{cpu="${i}"} ${round(v)}`));
  const mem = hostMemory();
  for (const k of ["total", "used", "free"] as const) {
    gauge(`host_memory_${k}_bytes`, `Host memory ${k} in bytes.`);
    lines.push(`host_memory_${k}_bytes ${mem[k]}`);
  }
  const readings = await Promise.all(
    zones.map(async (z) => {
      if (z.sandbox instanceof VmZone) {
        const r = await vmReadings(z.sandbox, false);
        return { z, cpu: r.cpu, mem: r.memory };
      }
      return { z, cpu: await sampler.zoneCpu(z.sandbox, z.cpus), mem: await sampler.zoneMemory(z.sandbox) };
    }),
  );
  gauge("zone_cpu_usage_percent", "CPU use of each zone per CPU in percent.");
  for (const { z, cpu } of readings) {
    if (!cpu) continue;
    if (cpu.perCpu)
      cpu.perCpu.forEach((v, i) =>
        lines.push(`zone_cpu_usage_percent{cpu="${i}",zone_id="${z.zoneId}"} ${round(v)}`),
      );
    else lines.push(`zone_cpu_usage_percent{cpu="all",zone_id="${z.zoneId}"} ${round(cpu.percent)}`);
  }
  for (const k of ["total", "used", "free"] as const) {
    gauge(`zone_memory_${k}_bytes`, `Zone memory ${k} in bytes.`);
    for (const { z, mem: m } of readings) lines.push(`zone_memory_${k}_bytes{zone_id="${z.zoneId}"} ${m[k]}`);
  }
  return `${lines.join("\n")}\n`;
}

function hostMemory(): { total: number; used: number; free: number } {
  const info = readFileSync("/proc/meminfo", "utf8");
  const kb = (key: string): number =>
    Number(info.match(new RegExp(`^${key}:\\s+(\\d+)`, "m"))?.[1] ?? 0) * 1024;
  const total = kb("MemTotal");
  const free = kb("MemAvailable") || kb("MemFree");
  return { total, used: total - free, free };
}

/** Serves Prometheus text on a loopback address at /metrics/resource (like a real host's :3035). */
export async function startPrometheus(
  address: string,
  scrape: () => Promise<string>,
  log: Logger,
): Promise<Server> {
  const { host, port } = parseLoopbackAddress(address, "--prometheus");
  const server = createServer((req, res) => {
    if (req.method !== "GET" || (req.url ?? "").split("?")[0] !== "/metrics/resource") {
      res
        .writeHead(404, { "content-type": "text/plain" })
        .end("not found: the dev host serves /metrics/resource\n");
      return;
    }
    scrape().then(
      (text) => res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(text),
      (err: unknown) => {
        log.warn("prometheus: scrape failed", err);
        res.writeHead(500, { "content-type": "text/plain" }).end("scrape failed\n");
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}

/** "127.0.0.1:PORT" (or [::1]:PORT, localhost:PORT); refuses anything but loopback. */
export function parseLoopbackAddress(address: string, flag: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(address);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!m || !host || !(port >= 0 && port <= 65535))
    throw new DevHostError("invalidArgument", `${flag} wants 127.0.0.1:PORT, got ${JSON.stringify(address)}`);
  if (host !== "127.0.0.1" && host !== "::1" && host !== "localhost")
    throw new DevHostError(
      "invalidArgument",
      `${flag} listens on loopback only (127.0.0.1 or ::1), not ${host}`,
    );
  return { host, port };
}
