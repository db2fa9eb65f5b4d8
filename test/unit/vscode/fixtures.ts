/** Zones and workloads as a host sends them, built with the generated schemas. */
import { create } from "@bufbuild/protobuf";
import {
  WorkloadSchema,
  WorkloadState,
  ZoneNetworkIpVersion,
  ZoneSchema,
  ZoneState,
} from "../../../extension/proto/gen/protect/control/v1/common_pb";
import type { Workload, Zone } from "../../../extension/proto/gen/protect/control/v1/common_pb";

export function zone(
  id: string,
  name: string,
  state: ZoneState = ZoneState.READY,
  extra: { ip?: string; cpus?: number; memoryMiB?: number } = {},
): Zone {
  return create(ZoneSchema, {
    id,
    spec: {
      name,
      initialResources: {
        targetCpus: extra.cpus ?? 1,
        maxCpus: extra.cpus ?? 1,
        targetMemory: BigInt(extra.memoryMiB ?? 512),
        maxMemory: BigInt(extra.memoryMiB ?? 512),
      },
    },
    status: {
      state,
      networkStatus: extra.ip
        ? {
            interfaces: [
              {
                zoneInterface: "eth0",
                ips: [{ version: ZoneNetworkIpVersion.V4, address: `${extra.ip}/24`, gateway: "10.75.0.1" }],
              },
            ],
          }
        : undefined,
    },
  });
}

export function workload(
  id: string,
  zoneId: string,
  name: string,
  state: WorkloadState = WorkloadState.RUNNING,
): Workload {
  return create(WorkloadSchema, {
    id,
    spec: { name, zoneId, image: { digest: "sha256:0123456789abcdef0123" } },
    status: { state },
  });
}
