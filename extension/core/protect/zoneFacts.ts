/**
 * Facts about zones and workloads that every front end states the same way: state names, the
 * address, the image, the resources in force and what a resize asks for. The CLI, the tree, the
 * prompts, the graphs and `zonectl ls --json` all read them here, so they cannot disagree.
 */
import { clone, create } from "@bufbuild/protobuf";
import {
  WorkloadStateSchema,
  ZoneNetworkIpVersion,
  ZoneResourcesSpecSchema,
  ZoneStateSchema,
} from "../../proto/gen/protect/control/v1/common_pb";
import type {
  Workload,
  WorkloadState,
  Zone,
  ZoneResourcesSpec,
  ZoneState,
} from "../../proto/gen/protect/control/v1/common_pb";

/** Zone states as lower-case words: the enum value names without the ZONE_STATE_ prefix. */
export type ZoneStateName =
  "unknown" | "creating" | "created" | "ready" | "exited" | "destroying" | "destroyed" | "failed";

/** Workload states as lower-case words. */
export type WorkloadStateName =
  "unknown" | "creating" | "created" | "running" | "completed" | "destroying" | "destroyed" | "failed";

const zoneStateNames: readonly ZoneStateName[] = [
  "unknown",
  "creating",
  "created",
  "ready",
  "exited",
  "destroying",
  "destroyed",
  "failed",
];
const workloadStateNames: readonly WorkloadStateName[] = [
  "unknown",
  "creating",
  "created",
  "running",
  "completed",
  "destroying",
  "destroyed",
  "failed",
];

/**
 * The lower-case name of a zone state ("ready"); "unknown" for none or a number we do not know.
 * Looked up by enum *name* in the descriptor, so a daemon whose numbering differs still maps.
 */
export function zoneStateName(state: ZoneState | number | undefined): ZoneStateName {
  return enumWord(ZoneStateSchema.values, "ZONE_STATE_", state ?? 0, zoneStateNames);
}

export function workloadStateName(state: WorkloadState | number | undefined): WorkloadStateName {
  return enumWord(WorkloadStateSchema.values, "WORKLOAD_STATE_", state ?? 0, workloadStateNames);
}

function enumWord<N extends string>(
  values: readonly { number: number; name: string }[],
  prefix: string,
  n: number,
  names: readonly N[],
): N {
  const word = values
    .find((v) => v.number === n)
    ?.name.replace(prefix, "")
    .toLowerCase();
  return names.find((name) => name === word) ?? names[0]!;
}

/** The zone's first address of one IP version, without its prefix length. */
export function zoneAddress(zone: Zone, version: ZoneNetworkIpVersion): string | undefined {
  const ips = (zone.status?.networkStatus?.interfaces ?? []).flatMap((i) => i.ips);
  const found = ips.find((ip) => ip.version === version && ip.address);
  return found ? found.address.replace(/\/\d+$/, "") : undefined;
}

/** The address to show and to copy: the first IPv4 address, else the first IPv6 one. */
export function zoneIp(zone: Zone): string | undefined {
  return zoneAddress(zone, ZoneNetworkIpVersion.V4) ?? zoneAddress(zone, ZoneNetworkIpVersion.V6);
}

/** The image a workload runs: its name annotation when the host set one, else a short digest. */
export function imageLabel(workload: Workload): string | undefined {
  const named = workload.spec?.annotations.find(
    (a) => a.key === "org.opencontainers.image.ref.name" || a.key === "image",
  );
  if (named?.value) return named.value;
  const digest = workload.spec?.image?.digest;
  return digest ? shortDigest(digest) : undefined;
}

/** "sha256:0123456789ab": the algorithm and the first 12 hex digits. */
export function shortDigest(digest: string): string {
  const [algo, hex] = digest.includes(":") ? (digest.split(":", 2) as [string, string]) : ["", digest];
  return `${algo ? `${algo}:` : ""}${hex.slice(0, 12)}`;
}

/**
 * The resources a zone runs with: the host's active figures once it reports a target, else
 * what the zone was created with (a zone still starting may report an empty active spec).
 */
export function resourcesInForce(zone: Zone): ZoneResourcesSpec | undefined {
  const active = zone.status?.resourceStatus?.activeResources;
  return active && (active.targetCpus || active.targetMemory) ? active : zone.spec?.initialResources;
}

/**
 * The resources after a resize; undefined leaves that figure as it is. The target moves; the
 * maximum grows with it and the minimum shrinks with it, so a request is never refused for
 * crossing a bound the user did not mention.
 */
export function resizedResources(
  zone: Zone,
  cpus: number | undefined,
  memoryMiB: number | undefined,
): ZoneResourcesSpec {
  const before = resourcesInForce(zone);
  const next = before ? clone(ZoneResourcesSpecSchema, before) : create(ZoneResourcesSpecSchema);
  if (cpus !== undefined) {
    next.targetCpus = cpus;
    if (next.maxCpus < cpus) next.maxCpus = cpus;
    if (next.minCpus > cpus) next.minCpus = cpus;
  }
  if (memoryMiB !== undefined) {
    const mib = BigInt(memoryMiB);
    next.targetMemory = mib;
    if (next.maxMemory < mib) next.maxMemory = mib;
    if (next.minMemory > mib) next.minMemory = mib;
  }
  return next;
}

/** Parses a memory figure as typed: "512", "512m", "2g", "1.5 GiB" → MiB; undefined when it is not one. */
export function parseMemoryMiB(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(m|mb|mib|g|gb|gib)?\s*$/i.exec(text);
  if (!m) return undefined;
  const n = Number(m[1]) * (m[2] && /^g/i.test(m[2]) ? 1024 : 1);
  return Number.isFinite(n) && n >= 16 && Number.isInteger(n) ? n : undefined;
}
