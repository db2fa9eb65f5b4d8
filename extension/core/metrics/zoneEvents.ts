/**
 * Turns zone objects from WatchEvents / GetZone into what the graphs draw: limits (the lines)
 * and state transitions (the markers).
 */
import { ZoneState, type Zone, type ZoneResourcesSpec } from "../../proto/gen/protect/control/v1/common_pb";
import { resourcesInForce, zoneStateName } from "../protect/zoneFacts";
import type { Marker, ZoneLimits } from "./types";

const MiB = 1024 * 1024;

/** Limits from a resources spec (memory in MiB on the wire). Zero means "not set". */
export function limitsFromResources(spec: ZoneResourcesSpec | undefined): ZoneLimits | null {
  if (!spec) return null;
  const bytes = (mib: bigint): number | null => (mib > 0n ? Number(mib) * MiB : null);
  return {
    targetMemoryBytes: bytes(spec.targetMemory),
    maxMemoryBytes: bytes(spec.maxMemory),
    targetCpus: spec.targetCpus > 0 ? spec.targetCpus : null,
    maxCpus: spec.maxCpus > 0 ? spec.maxCpus : null,
  };
}

/** The limits of the resources in force. */
export function limitsFromZone(zone: Zone): ZoneLimits | null {
  return limitsFromResources(resourcesInForce(zone));
}

/**
 * The marker for a zone whose state moved from `previous` to the zone's current state, or
 * null when the state did not change. Exits carry the exit code; failures carry what the host
 * said, and an out-of-memory failure gets its own kind so it stands out on the axis.
 */
export function markerForTransition(
  previous: ZoneState | undefined,
  zone: Zone,
  time: number,
): Marker | null {
  const state = zone.status?.state ?? ZoneState.UNKNOWN;
  if (previous === state) return null;
  const name = zoneStateName(state).toUpperCase();
  if (state === ZoneState.EXITED) {
    const code = zone.status?.exitStatus?.code ?? 0;
    return { time, kind: "exit", label: `exit ${code}`, exitCode: code };
  }
  if (state === ZoneState.FAILED) {
    const reason = zone.status?.errorStatus?.message ?? "";
    // Display classification only: the host states an OOM kill in its error text.
    const oom = /\boom\b|out of memory|oom[-_ ]?kill/i.test(reason);
    const marker: Marker = { time, kind: oom ? "oom" : "failed", label: oom ? "OOM" : "FAILED" };
    if (reason) marker.reason = reason;
    return marker;
  }
  return { time, kind: "state", label: name };
}
