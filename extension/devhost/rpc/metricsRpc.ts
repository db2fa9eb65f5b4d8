import type { ServiceImpl } from "@connectrpc/connect";
import type { ControlService } from "../../proto/gen/protect/control/v1/control_pb";
import { zoneMetricTree } from "../metrics";
import type { MetricsSampler } from "../metrics";
import type { ZoneManager } from "../zones";

type Impl = Partial<ServiceImpl<typeof ControlService>>;

/** ReadZoneMetrics: the metric tree of a READY zone, sampled on each call. */
export function metricsRpc(zones: ZoneManager, sampler: MetricsSampler): Impl {
  return {
    async readZoneMetrics(req) {
      const sandbox = zones.sandbox(req.zoneId);
      const cpus = zones.get(req.zoneId).status?.resourceStatus?.activeResources?.targetCpus ?? 1;
      return { root: await zoneMetricTree(sampler, sandbox, cpus) };
    },
  };
}
