/**
 * Resizing a zone: the new resources for UpdateZoneResources from what the zone has now. The
 * target moves; the maximum grows with it and the minimum shrinks with it, so a request is never
 * refused for crossing a bound the user did not mention (as `zonectl resize` does).
 */
import { clone, create } from "@bufbuild/protobuf";
import { ZoneResourcesSpecSchema } from "../../proto/gen/protect/control/v1/common_pb";
import type { Zone, ZoneResourcesSpec } from "../../proto/gen/protect/control/v1/common_pb";

/** What the zone runs with: the host's active figures, else what it was created with. */
export function currentResources(zone: Zone): ZoneResourcesSpec | undefined {
  const active = zone.status?.resourceStatus?.activeResources;
  return active && (active.targetCpus || active.targetMemory) ? active : zone.spec?.initialResources;
}

/** The resources after a resize; undefined leaves that figure as it is. */
export function resizedResources(
  zone: Zone,
  cpus: number | undefined,
  memoryMiB: number | undefined,
): ZoneResourcesSpec {
  const before = currentResources(zone);
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
