/**
 * Plain facts about zones and workloads for display (state names, address, image): no vscode
 * import, so the tree's filter and the unit tests use the same words the tree shows.
 */
import { WorkloadState, ZoneNetworkIpVersion, ZoneState } from "../../proto/gen/protect/control/v1/common_pb";
import type { Workload, Zone } from "../../proto/gen/protect/control/v1/common_pb";

/** The state's name without its enum prefix, lower case: "ready", "failed". */
export function zoneStateName(zone: Zone): string {
  return (ZoneState[zone.status?.state ?? ZoneState.UNKNOWN] ?? "unknown").toLowerCase();
}

export function workloadStateName(workload: Workload): string {
  return (WorkloadState[workload.status?.state ?? WorkloadState.UNKNOWN] ?? "unknown").toLowerCase();
}

/** The zone's first IPv4 address without its prefix length, or its first address at all. */
export function zoneIp(zone: Zone): string | undefined {
  const ips = (zone.status?.networkStatus?.interfaces ?? []).flatMap((i) => i.ips);
  const pick = ips.find((ip) => ip.version === ZoneNetworkIpVersion.V4) ?? ips[0];
  return pick?.address ? pick.address.replace(/\/\d+$/, "") : undefined;
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

export function shortDigest(digest: string): string {
  const [algo, hex] = digest.includes(":") ? (digest.split(":", 2) as [string, string]) : ["", digest];
  return `${algo ? `${algo}:` : ""}${hex.slice(0, 12)}`;
}
