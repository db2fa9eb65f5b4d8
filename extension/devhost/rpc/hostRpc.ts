import { readdirSync, readFileSync } from "node:fs";
import type { ServiceImpl } from "@connectrpc/connect";
import type { ControlService } from "../../proto/gen/protect/control/v1/control_pb";
import { HostCpuTopologyClass } from "../../proto/gen/protect/control/v1/common_pb";

type Impl = Partial<ServiceImpl<typeof ControlService>>;

/** Host facts read from the machine itself: the CPU topology from sysfs. */
export function hostRpc(sysCpuDir = "/sys/devices/system/cpu"): Impl {
  return {
    getHostCpuTopology() {
      return { cpus: readCpuTopology(sysCpuDir) };
    },
  };
}

/** One entry per online CPU: core, socket, NUMA node and its thread index within the core. */
export function readCpuTopology(
  dir: string,
): { core: number; socket: number; node: number; thread: number; class: HostCpuTopologyClass }[] {
  const read = (path: string): string | undefined => {
    try {
      return readFileSync(path, "utf8").trim();
    } catch {
      return undefined;
    }
  };
  const cpus = readdirSync(dir)
    .map((name) => /^cpu(\d+)$/.exec(name)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
  return cpus.map((cpu) => {
    const base = `${dir}/cpu${cpu}`;
    const siblings = expandList(read(`${base}/topology/thread_siblings_list`) ?? String(cpu));
    const node = readdirSync(base)
      .map((n) => /^node(\d+)$/.exec(n)?.[1])
      .find((n) => n !== undefined);
    return {
      core: Number(read(`${base}/topology/core_id`) ?? cpu),
      socket: Number(read(`${base}/topology/physical_package_id`) ?? 0),
      node: Number(node ?? 0),
      thread: Math.max(0, siblings.indexOf(cpu)),
      // Linux exposes no performance/efficiency split in a portable way; every CPU is standard.
      class: HostCpuTopologyClass.STANDARD,
    };
  });
}

/** "0-3,8,10-11" → [0,1,2,3,8,10,11]. */
export function expandList(list: string): number[] {
  const out: number[] = [];
  for (const part of list.split(",")) {
    const [a, b] = part.split("-").map(Number);
    if (a === undefined || Number.isNaN(a)) continue;
    for (let i = a; i <= (b ?? a); i++) out.push(i);
  }
  return out;
}
