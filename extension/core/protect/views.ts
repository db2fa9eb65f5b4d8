/**
 * Plain, stable views of zones and workloads: camelCase fields, string states ("ready"),
 * numbers instead of bigints, ISO dates — what `zonectl ls --json` prints and what UIs can rely
 * on without knowing protobuf. The facts themselves (state names, addresses, resources in
 * force) come from zoneFacts.ts.
 */
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import type { PullProgress } from "../launch/launchHost";
import type { OciImageProgress, Zone } from "../../proto/gen/protect/control/v1/common_pb";
import {
  OciImageProgressLayerPhaseSchema,
  OciImageProgressPhaseSchema,
  ZoneNetworkIpVersion,
} from "../../proto/gen/protect/control/v1/common_pb";
import type { GetHostStatusReply } from "../../proto/gen/protect/control/v1/control_pb";
import { resourcesInForce, zoneAddress, zoneStateName } from "./zoneFacts";
import type { ZoneStateName } from "./zoneFacts";

/** A zone as `zonectl ls --json` prints it. Fields are stable; new ones may be added. */
export interface ZoneView {
  readonly id: string;
  readonly name: string;
  /** "unknown" also for a state number this build does not know. */
  readonly state: ZoneStateName;
  /** First IPv4 address of the zone (without prefix length), or null. */
  readonly ipv4: string | null;
  readonly ipv6: string | null;
  /** vCPUs of the resources in force (the target, else the maximum); null if unknown. */
  readonly vcpus: number | null;
  /** Memory in MiB of the resources in force (the target, else the maximum); null if unknown. */
  readonly memoryMiB: number | null;
  /** ISO 8601, or null. */
  readonly createdAt: string | null;
  readonly readyAt: string | null;
  /** The error message of a FAILED zone, else null. */
  readonly error: string | null;
  readonly exitCode: number | null;
  readonly domid: number | null;
}

/** Host status as printed in JSON. */
export interface HostStatusView {
  readonly hostUuid: string;
  readonly hostDomid: number;
  readonly protectVersion: string;
  readonly hostIpv4: string;
  readonly hostIpv6: string;
  readonly hostMac: string;
  /** Free hypervisor memory in bytes, as a number (exact up to 2^53), or null if not reported. */
  readonly hypervisorFreeMemory: number | null;
}

export function zoneView(zone: Zone): ZoneView {
  const status = zone.status;
  const r = resourcesInForce(zone);
  const cpus = r?.targetCpus || r?.maxCpus || 0;
  const mem = r?.targetMemory || r?.maxMemory || 0n;
  return {
    id: zone.id,
    name: zone.spec?.name ?? "",
    state: zoneStateName(status?.state),
    ipv4: zoneAddress(zone, ZoneNetworkIpVersion.V4) ?? null,
    ipv6: zoneAddress(zone, ZoneNetworkIpVersion.V6) ?? null,
    vcpus: cpus || null,
    memoryMiB: mem ? Number(mem) : null,
    createdAt: iso(status?.createdAt),
    readyAt: iso(status?.readyAt),
    error: status?.errorStatus?.message || null,
    exitCode: status?.exitStatus ? status.exitStatus.code : null,
    domid: status?.domid || null,
  };
}

export function hostStatusView(reply: GetHostStatusReply): HostStatusView {
  return {
    hostUuid: reply.hostUuid,
    hostDomid: reply.hostDomid,
    protectVersion: reply.protectVersion,
    hostIpv4: reply.hostIpv4,
    hostIpv6: reply.hostIpv6,
    hostMac: reply.hostMac,
    hypervisorFreeMemory: reply.hypFreeMem === undefined ? null : Number(reply.hypFreeMem),
  };
}

function iso(ts: Timestamp | undefined): string | null {
  if (!ts || (ts.seconds === 0n && ts.nanos === 0)) return null;
  return timestampDate(ts).toISOString();
}

/** "3s", "5m", "2h", "4d" — the age column of `zonectl ls`. */
export function formatAge(fromIso: string | null, now: Date = new Date()): string {
  if (!fromIso) return "-";
  const seconds = Math.max(0, Math.floor((now.getTime() - Date.parse(fromIso)) / 1000));
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 172800) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86400)}d`;
}

function progressWord(
  values: readonly { number: number; name: string }[],
  prefix: string,
  n: number,
): string {
  return (values.find((v) => v.number === n)?.name ?? `${prefix}UNKNOWN`).slice(prefix.length).toLowerCase();
}

/** An OciImageProgress as plain data: phase words, per-layer bars, the overall bar. */
export function pullProgressOf(p: OciImageProgress): PullProgress {
  const bar = (
    ind: OciImageProgress["indication"],
  ): { current?: number; total?: number; isBytes?: boolean } => {
    const i = ind?.indication;
    if (i?.case === "bar")
      return { current: Number(i.value.current), total: Number(i.value.total), isBytes: i.value.isBytes };
    if (i?.case === "completed")
      return { current: Number(i.value.total), total: Number(i.value.total), isBytes: i.value.isBytes };
    return {};
  };
  return {
    phase: progressWord(OciImageProgressPhaseSchema.values, "OCI_IMAGE_PROGRESS_PHASE_", p.phase),
    layers: p.layers.map((l) => ({
      id: l.id,
      phase: progressWord(
        OciImageProgressLayerPhaseSchema.values,
        "OCI_IMAGE_PROGRESS_LAYER_PHASE_",
        l.phase,
      ),
      ...bar(l.indication),
    })),
    ...bar(p.indication),
  };
}

/** `config.Entrypoint` of an OCI image config blob; undefined when absent or unreadable. */
export function entrypointOf(config: Uint8Array): string[] | undefined {
  try {
    const parsed = JSON.parse(new TextDecoder().decode(config)) as { config?: { Entrypoint?: unknown } };
    const e = parsed.config?.Entrypoint;
    return Array.isArray(e) && e.every((x) => typeof x === "string") ? e : undefined;
  } catch {
    return undefined;
  }
}
