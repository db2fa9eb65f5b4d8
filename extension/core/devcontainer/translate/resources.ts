import { ZoneResourceAdjustmentPolicy } from "../../../proto/gen/protect/control/v1/common_pb";
import type { ZoneSpecSchema } from "../../../proto/gen/protect/control/v1/common_pb";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { DeviceRequest, LaunchTimeField, PropertyStatus } from "../plan";
import { specSizeToMiB, styroliteSizeToMiB } from "../units";
import { claim, has } from "./context";
import type { Row, TranslateContext, Translation } from "./context";

/** Zone vCPUs and memory (MiB): min ≤ target ≤ max, and whether they may change at run time. */
export interface ZoneResources {
  readonly targetCpus: number;
  readonly minCpus: number;
  readonly maxCpus: number;
  readonly targetMemory: number;
  readonly minMemory: number;
  readonly maxMemory: number;
  readonly dynamic: boolean;
}

/** The resources part of a plan: the zone's size and its devices. */
export interface ResourcesPart extends Translation {
  readonly resources: ZoneResources;
  /** The zone spec's `initialResources` and `devices`. */
  readonly zone: Pick<MessageInitShape<typeof ZoneSpecSchema>, "initialResources" | "devices">;
  readonly deviceRequests: readonly DeviceRequest[];
  /** Devices named in customizations.styrolite.devices. */
  readonly namedDevices: readonly string[];
}

/**
 * Zone size from customizations.styrolite.resources, hostRequirements, runArgs `--cpus` /
 * `--memory` and the settings' defaults, in that precedence; GPUs from hostRequirements.gpu and
 * `--gpus` unless devices are named outright.
 */
export function translateResources(ctx: TranslateContext): ResourcesPart {
  const c = ctx.config;
  const effects = ctx.runArgs.effects;
  const resources = ctx.styrolite.resources ?? {};
  const hostReq = c.hostRequirements ?? {};
  const dynamic = resources.adjustmentPolicy === "dynamic";
  const refusals: string[] = [];
  const hostMemoryMiB = hostReq.memory !== undefined ? specSizeToMiB(hostReq.memory) : undefined;
  const cpuSource =
    resources.targetCpus !== undefined
      ? "customizations.styrolite.resources.targetCpus"
      : hostReq.cpus !== undefined
        ? "hostRequirements.cpus"
        : effects.cpus !== undefined
          ? "runArgs --cpus"
          : "the default";
  const targetCpus = resources.targetCpus ?? hostReq.cpus ?? effects.cpus ?? ctx.options.defaultCpus ?? 2;
  const maxCpus = resources.maxCpus ?? Math.max(targetCpus, resources.minCpus ?? 0);
  const minCpus = resources.minCpus ?? (dynamic ? 1 : targetCpus);
  const memorySource =
    resources.targetMemory !== undefined
      ? "customizations.styrolite.resources.targetMemory"
      : hostMemoryMiB !== undefined
        ? "hostRequirements.memory"
        : effects.memoryMiB !== undefined
          ? "runArgs --memory"
          : "the default";
  const targetMemory =
    (resources.targetMemory !== undefined ? styroliteSizeToMiB(resources.targetMemory) : undefined) ??
    hostMemoryMiB ??
    effects.memoryMiB ??
    ctx.options.defaultMemoryMiB ??
    2048;
  const explicitMin = resources.minMemory !== undefined ? styroliteSizeToMiB(resources.minMemory) : undefined;
  const maxMemory =
    (resources.maxMemory !== undefined ? styroliteSizeToMiB(resources.maxMemory) : undefined) ??
    Math.max(targetMemory, explicitMin ?? 0);
  const minMemory = explicitMin ?? (dynamic ? Math.min(512, targetMemory) : targetMemory);
  if (!(minCpus <= targetCpus && targetCpus <= maxCpus))
    refusals.push(`zone CPUs: min ${minCpus} ≤ target ${targetCpus} ≤ max ${maxCpus} does not hold`);
  if (!(minMemory <= targetMemory && targetMemory <= maxMemory))
    refusals.push(
      `zone memory: min ${minMemory} ≤ target ${targetMemory} ≤ max ${maxMemory} MiB does not hold`,
    );

  // --- devices -------------------------------------------------------------------------------
  const deviceRequests: DeviceRequest[] = [];
  const fillAtLaunch: LaunchTimeField[] = [];
  const namedDevices = ctx.styrolite.devices ?? [];
  const gpu = hostReq.gpu;
  if (gpu !== undefined && gpu !== false && !namedDevices.length) {
    const detailed = typeof gpu === "object" ? gpu : {};
    const memoryMiB = detailed.memory !== undefined ? specSizeToMiB(detailed.memory) : undefined;
    deviceRequests.push({
      kind: "gpu",
      optional: gpu === "optional",
      ...(detailed.cores !== undefined ? { cores: detailed.cores } : {}),
      ...(memoryMiB !== undefined ? { memoryMiB } : {}),
      source: "hostRequirements.gpu",
    });
  }
  if (effects.gpu && !namedDevices.length && !deviceRequests.length)
    deviceRequests.push({ kind: "gpu", optional: false, source: "runArgs --gpus" });
  if (deviceRequests.length)
    fillAtLaunch.push({
      field: "zoneSpec.devices",
      from: "a matching unclaimed device from ListDevices for each deviceRequest",
    });

  // --- rows ----------------------------------------------------------------------------------
  const rows: Row[] = [];
  if (has(ctx, "hostRequirements")) {
    for (const sub of Object.keys((ctx.raw["hostRequirements"] as object | undefined) ?? {})) {
      const path = ["hostRequirements", sub];
      if (sub === "cpus")
        rows.push(
          cpuSource === "hostRequirements.cpus"
            ? { path, status: "translated", detail: `zone vCPUs: target ${targetCpus}, max ${maxCpus}` }
            : { path, status: "ignored", detail: `${cpuSource} sets the zone's vCPUs` },
        );
      else if (sub === "memory")
        rows.push(
          memorySource === "hostRequirements.memory"
            ? {
                path,
                status: "translated",
                detail: `zone memory: target ${targetMemory} MiB, max ${maxMemory} MiB`,
              }
            : { path, status: "ignored", detail: `${memorySource} sets the zone's memory` },
        );
      else if (sub === "storage")
        rows.push({
          path,
          status: "ignored",
          detail:
            "a machine-selection hint; a zone gets a scratch disk only from customizations.styrolite.scratchDisk",
        });
      else if (sub === "gpu") {
        const detail =
          gpu === false
            ? "no GPU"
            : namedDevices.length
              ? `satisfied by customizations.styrolite.devices (${namedDevices.join(", ")})`
              : `${gpu === "optional" ? "optional " : ""}GPU device request, resolved against the host's devices at launch`;
        rows.push({ path, status: "translated", detail });
      }
    }
  }
  const runArgClaims = new Map<number, { status: PropertyStatus; detail: string }>();
  for (const v of ctx.runArgs.verdicts) {
    if (v.status !== "translated") continue;
    if (v.flag === "--cpus" && cpuSource !== "runArgs --cpus")
      runArgClaims.set(...claim(v, "ignored", `${cpuSource} sets the zone's vCPUs`));
    else if (v.flag === "--memory" && memorySource !== "runArgs --memory")
      runArgClaims.set(...claim(v, "ignored", `${memorySource} sets the zone's memory`));
  }

  return {
    rows,
    refusals,
    fillAtLaunch,
    runArgClaims,
    resources: { targetCpus, minCpus, maxCpus, targetMemory, minMemory, maxMemory, dynamic },
    zone: {
      initialResources: {
        targetCpus,
        maxCpus,
        minCpus,
        targetMemory: BigInt(targetMemory),
        maxMemory: BigInt(maxMemory),
        minMemory: BigInt(minMemory),
        adjustmentPolicy: dynamic
          ? ZoneResourceAdjustmentPolicy.DYNAMIC
          : ZoneResourceAdjustmentPolicy.STATIC,
      },
      devices: namedDevices.map((name) => ({ name })),
    },
    deviceRequests,
    namedDevices,
  };
}
