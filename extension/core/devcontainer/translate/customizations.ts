import {
  OciImageFormat,
  ZoneNetworkBackend,
  ZoneVirtualizationBackend,
} from "../../../proto/gen/protect/control/v1/common_pb";
import type { ZoneSpecSchema } from "../../../proto/gen/protect/control/v1/common_pb";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ConnectionOverride, ImagePull, LaunchTimeField } from "../plan";
import { reservedAnnotationPrefix } from "../plan";
import { styroliteSizeToMiB } from "../units";
import { has } from "./context";
import type { Row, TranslateContext, Translation } from "./context";
import { imageProblem } from "./image";
import type { ResourcesPart } from "./resources";

type ZoneInit = MessageInitShape<typeof ZoneSpecSchema>;

/** The styrolite customizations part of a plan: zone options, extra annotations, host overrides. */
export interface CustomizationsPart extends Translation {
  /** Kernel and initrd images to pull. */
  readonly images: readonly ImagePull[];
  /** Zone spec fields: kernel, initrd, kernelOptions, networkOptions, virtualizationOptions, scratchDisk. */
  readonly zone: Pick<
    ZoneInit,
    "kernel" | "initrd" | "kernelOptions" | "networkOptions" | "virtualizationOptions" | "scratchDisk"
  >;
  /** customizations.styrolite.annotations without the reserved keys. */
  readonly annotations: ReadonlyArray<[string, string]>;
  readonly connection: ConnectionOverride | undefined;
}

/**
 * `customizations`: other tools' settings are noted and left alone; `customizations.styrolite`
 * carries the zone's own options (kernel, network, virtualization, scratch disk, annotations,
 * image format, workspace root, host connection). Resources and devices are translated by the
 * resources translator; their rows are written here because they live under this key.
 */
export function translateCustomizations(ctx: TranslateContext, resources: ResourcesPart): CustomizationsPart {
  const styrolite = ctx.styrolite;
  const fillAtLaunch: LaunchTimeField[] = [];
  const refusals: string[] = [];
  const images: ImagePull[] = [];
  const zone: CustomizationsPart["zone"] = {};

  const kernel = styrolite.kernel;
  for (const role of ["kernel", "initrd"] as const) {
    const reference = role === "kernel" ? kernel?.image : kernel?.initrd;
    if (reference === undefined) continue;
    if (!imageProblem(reference))
      images.push({
        role,
        reference,
        format: OciImageFormat.TAR,
        fills: role === "kernel" ? "zoneSpec.kernel" : "zoneSpec.initrd",
      });
    zone[role] = { digest: "", format: OciImageFormat.TAR };
    fillAtLaunch.push({ field: `zoneSpec.${role}.digest`, from: `PullImage(${role} image)` });
  }
  if (
    kernel &&
    (kernel.verbose !== undefined ||
      kernel.cmdline ||
      kernel.cmdlineAppend ||
      kernel.modules ||
      kernel.sysctls)
  ) {
    zone.kernelOptions = {
      verbose: kernel.verbose ?? false,
      cmdlineAppend: kernel.cmdlineAppend ?? "",
      cmdline: kernel.cmdline ?? [],
      modules: kernel.modules ?? [],
      sysctlParameters: Object.entries(kernel.sysctls ?? {}).map(([key, value]) => ({ key, value })),
    };
  }
  const network = styrolite.network;
  if (network) {
    zone.networkOptions = {
      backend: networkBackend(network.backend),
      assumeNetworkReservation: network.reservation ?? "",
      retainNetworkReservation: network.retainReservation ?? false,
      ...(network.nameservers || network.searches || network.dnsOptions
        ? {
            dnsConfig: {
              nameservers: network.nameservers ?? [],
              searches: network.searches ?? [],
              options: network.dnsOptions ?? [],
            },
          }
        : {}),
    };
  }
  if (styrolite.virtualization)
    zone.virtualizationOptions = { backend: virtualizationBackend(styrolite.virtualization) };
  const scratchDisk = styrolite.scratchDisk;
  if (scratchDisk) {
    zone.scratchDisk =
      "size" in scratchDisk
        ? { backend: { case: "image", value: { size: BigInt(styroliteSizeToMiB(scratchDisk.size) ?? 0) } } }
        : { backend: { case: "block", value: { path: scratchDisk.path, device: scratchDisk.device } } };
  }

  const annotations: Array<[string, string]> = [];
  const reserved: string[] = [];
  for (const [key, value] of Object.entries(styrolite.annotations ?? {})) {
    if (key.startsWith(reservedAnnotationPrefix)) reserved.push(key);
    else annotations.push([key, value]);
  }

  let connection: ConnectionOverride | undefined;
  if (styrolite.host && (styrolite.host.socket !== undefined || styrolite.host.bridge !== undefined)) {
    connection = {
      ...(styrolite.host.socket !== undefined ? { socketPath: styrolite.host.socket } : {}),
      ...(styrolite.host.bridge !== undefined ? { bridge: styrolite.host.bridge } : {}),
    };
  }

  const rows: Row[] = [];
  if (has(ctx, "customizations")) {
    for (const tool of Object.keys((ctx.raw["customizations"] as object | undefined) ?? {})) {
      if (tool !== "styrolite")
        rows.push({
          path: ["customizations", tool],
          status: "ignored",
          detail: `settings for another tool (${tool})`,
        });
      else rows.push(...styroliteRows(ctx, resources, reserved, zone));
    }
  }
  return { rows, refusals, fillAtLaunch, images, zone, annotations, connection };
}

/** One row per key of customizations.styrolite, in file order. */
function styroliteRows(
  ctx: TranslateContext,
  resources: ResourcesPart,
  reserved: readonly string[],
  zone: CustomizationsPart["zone"],
): Row[] {
  const styrolite = ctx.styrolite;
  const rawCustomizations = ctx.raw["customizations"] as Record<string, unknown> | undefined;
  const raw = (rawCustomizations?.["styrolite"] ?? {}) as Record<string, unknown>;
  const rows: Row[] = [];
  const r = resources.resources;
  for (const key of Object.keys(raw)) {
    const path = ["customizations", "styrolite", key];
    const row = (status: Row["status"], detail: string): void => void rows.push({ path, status, detail });
    switch (key) {
      case "kernel": {
        for (const role of ["image", "initrd"] as const) {
          const reference = styrolite.kernel?.[role];
          if (reference === undefined) continue;
          const problem = imageProblem(reference);
          rows.push({
            path: [...path, role],
            status: problem ? "refused" : "translated",
            detail: problem ?? `zone ${role === "image" ? "kernel" : "initrd"} image, pulled as tar`,
          });
        }
        if (zone.kernelOptions) row("translated", "zone kernel options (cmdline, verbose, modules, sysctls)");
        break;
      }
      case "resources":
        row(
          "translated",
          `zone vCPUs ${r.minCpus}/${r.targetCpus}/${r.maxCpus} and memory ${r.minMemory}/${r.targetMemory}/${r.maxMemory} MiB (min/target/max), ${r.dynamic ? "dynamic" : "static"}`,
        );
        break;
      case "devices":
        row("translated", `zone devices: ${resources.namedDevices.join(", ") || "(none)"}`);
        break;
      case "network":
        row("translated", `zone network: backend ${styrolite.network?.backend ?? "default"}`);
        break;
      case "virtualization":
        row("translated", `zone virtualization: ${styrolite.virtualization ?? ""}`);
        break;
      case "scratchDisk": {
        const disk = styrolite.scratchDisk;
        row(
          "translated",
          disk && "size" in disk
            ? `zone scratch disk image of ${styroliteSizeToMiB(disk.size) ?? 0} MiB`
            : "zone scratch disk on a host block device",
        );
        break;
      }
      case "annotations":
        if (reserved.length)
          row(
            "ignored",
            `keys under ${reservedAnnotationPrefix} are reserved: ${reserved.join(", ")} dropped; the others are added`,
          );
        else row("translated", "annotations on the zone and the workload");
        break;
      case "imageFormat":
        row("translated", `workload image pulled as ${styrolite.imageFormat ?? ""}`);
        break;
      case "workspaceRoot":
        row("translated", `workspace copy under ${ctx.workspaceRoot} on the host`);
        break;
      case "host":
        // Nothing applies it, and nothing should: a repository may not pick the host or the
        // command that reaches it (its bridge would run on the host).
        row(
          "ignored",
          "not applied: a repository cannot choose the host connection; set zones.daemonSocket / zones.bridgeCommand in your user settings",
        );
        break;
      default:
        row("ignored", "unknown property");
    }
  }
  return rows;
}

function networkBackend(backend: string | undefined): ZoneNetworkBackend {
  switch (backend) {
    case "none":
      return ZoneNetworkBackend.NONE;
    case "external":
      return ZoneNetworkBackend.EXTERNAL;
    case "passthrough":
      return ZoneNetworkBackend.PASSTHROUGH;
    default:
      return ZoneNetworkBackend.DEFAULT;
  }
}

function virtualizationBackend(mode: string): ZoneVirtualizationBackend {
  switch (mode) {
    case "pv":
      return ZoneVirtualizationBackend.PV;
    case "pvh":
      return ZoneVirtualizationBackend.PVH;
    default:
      return ZoneVirtualizationBackend.AUTOMATIC;
  }
}
