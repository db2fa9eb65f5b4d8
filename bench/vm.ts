/**
 * VM zones (`zonectl dev-host --sandbox vm`) against namespace zones (the default), each on a dev
 * host of its own, one after the other so they never compete for the CPUs: CreateZone → READY,
 * CreateWorkload + StartWorkload → RUNNING, and the round trip of an exec in the workload
 * (`true`: start → exit code). Plus what a VM zone costs the host in memory: QEMU's resident set
 * once the zone runs a workload, against the memory the guest was given.
 *
 * Where KVM does not work (nested virtualization here), the VM runs under TCG, which emulates
 * every guest instruction: the figures then say how slow emulation is, and the note says what
 * KVM would change.
 */
import { mkdirSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { Client } from "@connectrpc/connect";
import type { ControlService } from "../extension/proto/gen/protect/control/v1/control_pb";
import { WorkloadState, ZoneState } from "../extension/proto/gen/protect/control/v1/common_pb";
import { devHostZoneAnnotations } from "../extension/core/protect/zoneIsolation";
import { startDevHost } from "../test/harness/devHost";
import { connectUnix } from "../test/integration/devhost/client";
import { importTestImage } from "../test/integration/devhost/image";
import { runExec } from "../test/integration/devhost/helpers";
import type { BenchEnv } from "./env";
import type { Report } from "./report";
import { median } from "./stats";

const section = "vm";
const zoneMemoryMiB = 512;

interface KindFigures {
  readyMs: number[];
  runningMs: number[];
  execMs: number[];
  /** Host memory the zone holds (VM: QEMU's RSS; namespaces: the zone's cgroup), MiB. */
  hostMemoryMiB: number[];
  isolation: string;
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`bench vm: ${what} did not happen within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Resident memory of the processes whose command line contains `needle`, MiB. */
function residentMiB(needle: string): number {
  let kb = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(needle)) continue;
      kb += Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${entry}/status`, "utf8"))?.[1] ?? 0);
    } catch {
      // gone meanwhile
    }
  }
  return kb / 1024;
}

/** A namespace zone's memory as its cgroup counts it (what ReadZoneMetrics reports as used), MiB. */
async function cgroupUsedMiB(client: Client<typeof ControlService>, zoneId: string): Promise<number> {
  const { root } = await client.readZoneMetrics({ zoneId });
  const used = root?.children
    .find((c) => c.name === "system")
    ?.children.find((c) => c.name === "memory")
    ?.children.find((c) => c.name === "used")?.value?.kind;
  return used?.case === "numberValue" ? used.value / 2 ** 20 : Number.NaN;
}

async function measureKind(
  client: Client<typeof ControlService>,
  digest: string,
  kind: "vm" | "namespaces",
  runs: number,
): Promise<KindFigures> {
  const out: KindFigures = { readyMs: [], runningMs: [], execMs: [], hostMemoryMiB: [], isolation: "" };
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const { zoneId } = await client.createZone({
      spec: {
        name: `bench-${kind}-${i}`,
        initialResources: { targetCpus: 1, targetMemory: BigInt(zoneMemoryMiB) },
      },
    });
    const zone = await waitFor("zone READY", 600_000, async () => {
      const z = (await client.getZone({ zoneId })).zone;
      if (z?.status?.state === ZoneState.FAILED)
        throw new Error(`zone FAILED: ${z.status.errorStatus?.message}`);
      return z?.status?.state === ZoneState.READY ? z : undefined;
    });
    out.readyMs.push(performance.now() - t0);
    out.isolation =
      zone.spec?.annotations.find((a) => a.key === devHostZoneAnnotations.isolation)?.value ?? kind;
    const t1 = performance.now();
    const { workloadId } = await client.createWorkload({
      spec: {
        name: `bench-${kind}-${i}`,
        zoneId,
        image: { digest },
        process: { command: ["sleep", "3600"] },
      },
    });
    await waitFor("workload CREATED", 120_000, async () =>
      (await client.getWorkload({ workloadId })).workload?.status?.state === WorkloadState.CREATED
        ? true
        : undefined,
    );
    await client.startWorkload({ workloadId });
    await waitFor("workload RUNNING", 300_000, async () =>
      (await client.getWorkload({ workloadId })).workload?.status?.state === WorkloadState.RUNNING
        ? true
        : undefined,
    );
    out.runningMs.push(performance.now() - t1);
    const execs: number[] = [];
    for (let e = 0; e < 6; e++) {
      const r = await runExec(client, zoneId, { workloadId, command: ["true"] });
      if (r.exitCode !== 0) throw new Error(`exec in the ${kind} zone: exit ${r.exitCode} ${r.stderr}`);
      if (e > 0) execs.push(r.ms); // the first warms caches
    }
    out.execMs.push(median(execs));
    out.hostMemoryMiB.push(
      kind === "vm"
        ? residentMiB(`zone-${zoneId.replace(/-/g, "").slice(0, 12)},`)
        : await cgroupUsedMiB(client, zoneId),
    );
    await client.destroyZone({ zoneId });
    await waitFor("zone gone", 120_000, async () =>
      (await client.getZone({ zoneId }).catch(() => ({ zone: undefined }))).zone ? undefined : true,
    );
  }
  return out;
}

export async function benchVm(env: BenchEnv, report: Report, options: { runs?: number } = {}): Promise<void> {
  const runs = options.runs ?? 2;
  console.log(`\n${section}: VM zones (QEMU) against namespace zones (${runs} runs each)`);
  const results: Partial<Record<"vm" | "namespaces", KindFigures>> = {};
  for (const kind of ["namespaces", "vm"] as const) {
    const devHost = await startDevHost({ args: kind === "vm" ? ["--sandbox", "vm"] : [] });
    env.cleanup.add(`${kind} dev host`, () => devHost.stop());
    const conn = connectUnix(devHost.socketPath);
    try {
      const dir = join(env.work, `vm-bench-image-${kind}`);
      mkdirSync(dir, { recursive: true });
      const { digest } = await importTestImage(conn.client, dir);
      results[kind] = await measureKind(conn.client, digest, kind, runs);
    } catch (err) {
      report.skip(`${section} (${kind})`, (err as Error).message);
      return;
    } finally {
      conn.close();
      await devHost.stop();
    }
  }
  const vm = results.vm!;
  const ns = results.namespaces!;
  const accel = vm.isolation.replace(/^vm-?/, "").toUpperCase() || "unknown accelerator";
  const kvmNote =
    accel === "TCG"
      ? "TCG here (KVM unusable: the dev host's probe boot failed). Under KVM expect zone → READY in ≈3–6 s (the kernel boots in well under a second; most of the rest is the guest's Node agent starting) and exec round trips within ≈2× of a namespace zone: TCG runs every guest instruction through QEMU's translator, roughly 10–30× slower for CPU-bound work"
      : `${accel}`;
  const base = (name: string, value: number) => ({ name: `namespace zone: ${name}`, value });
  report.add({
    section,
    name: `VM zone (${accel}): CreateZone → READY`,
    value: median(vm.readyMs),
    unit: "ms",
    baseline: base("CreateZone → READY", median(ns.readyMs)),
    note: `median of ${runs}; 1 vCPU, ${zoneMemoryMiB} MiB; ${kvmNote}`,
  });
  report.add({
    section,
    name: `VM zone (${accel}): workload → RUNNING`,
    value: median(vm.runningMs),
    unit: "ms",
    baseline: base("workload → RUNNING", median(ns.runningMs)),
    note: "CreateWorkload + StartWorkload until RUNNING: the guest runs the host's runc on a root shared by 9p",
  });
  report.add({
    section,
    name: `VM zone (${accel}): exec round trip (true)`,
    value: median(vm.execMs),
    unit: "ms",
    baseline: base("exec round trip", median(ns.execMs)),
    note: "ExecuteZoneCommand in the workload, start → exited; median of 5 after one warm-up, per run",
  });
  report.add({
    section,
    name: `VM zone (${accel}): host memory (QEMU RSS, idle workload)`,
    value: median(vm.hostMemoryMiB),
    unit: "MiB",
    baseline: { name: "the guest's memory size", value: zoneMemoryMiB },
    note: `a namespace zone with the same workload holds ${median(ns.hostMemoryMiB).toFixed(1)} MiB of host memory; the VM's pages are taken as the guest touches them (TCG also keeps up to 128 MiB of translated code)`,
  });
}
