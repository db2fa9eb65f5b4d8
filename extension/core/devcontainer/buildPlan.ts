import { create } from "@bufbuild/protobuf";
import { posix } from "node:path";
import {
  OciImageFormat,
  WorkloadSpecSchema,
  ZoneNetworkBackend,
  ZoneResourceAdjustmentPolicy,
  ZoneSpecSchema,
  ZoneVirtualizationBackend,
} from "../../proto/gen/protect/control/v1/common_pb";
import type {
  IdOrNameValueSchema,
  MountSpecSchema,
  ZoneSpec,
} from "../../proto/gen/protect/control/v1/common_pb";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { formatJsonPath } from "./diagnostics";
import type { Diagnostic, JsonPathSegment } from "./diagnostics";
import { devcontainerIdForLabels, idLabelsFor } from "./devcontainerId";
import { displayCommand, hookSteps } from "./hooks";
import { diagnosticAtPath, positionOfPath } from "./jsonc";
import type { ParsedDocument } from "./jsonc";
import { mapMount, parseMountString } from "./mounts";
import type { MountRequest } from "./mounts";
import {
  annotationKeys,
  defaultVolumeRoot,
  defaultWorkspaceRoot,
  keepAliveCommand,
  reservedAnnotationPrefix,
} from "./plan";
import type {
  ConnectionOverride,
  DeviceRequest,
  HostVolume,
  ImagePull,
  LaunchPlan,
  LaunchTimeField,
  PortForward,
  PropertyStatus,
  PropertyVerdict,
  RemoteEnvVar,
  WorkspaceSync,
} from "./plan";
import { attributesFor, parsePublish } from "./ports";
import type { PortPublish } from "./ports";
import { interpretRunArgs } from "./runArgs";
import { legacyProperties } from "./schema";
import type { DevcontainerConfig, PortAttributes } from "./schema";
import type { StyroliteCustomizations } from "./styrolite";
import { specSizeToMiB, styroliteSizeToMiB } from "./units";
import { substituteDeep, substituteString } from "./variables";

/** Tunables that come from settings rather than the file. */
export interface PlanOptions {
  /** Host folder for synced workspaces (customizations.styrolite.workspaceRoot overrides). */
  readonly workspaceRoot?: string;
  /** Host folder for named volumes. */
  readonly volumeRoot?: string;
  /** vCPUs when nothing in the file says. Default 2. */
  readonly defaultCpus?: number;
  /** Memory (MiB) when nothing in the file says. Default 2048. */
  readonly defaultMemoryMiB?: number;
}

/** Everything the planner reads; the caller did the I/O. */
export interface PlanInput {
  readonly doc: ParsedDocument;
  /** The validated config (validateDevcontainer). */
  readonly config: DevcontainerConfig;
  /** Diagnostics so far (parse + validation warnings), carried into the plan. */
  readonly diagnostics?: readonly Diagnostic[];
  /** Absolute project folder on this machine. */
  readonly localFolder: string;
  /** Absolute path of the config file (an id label: keep it exactly as the reference tools would). */
  readonly configFile: string;
  /** This machine's environment, for `${localEnv:…}` and `-e NAME`. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Patterns of the project's root .gitignore, if any. */
  readonly gitignore?: readonly string[];
  /** Resolves symbolic links on this machine (see MountContext.realPath); the launch paths pass one. */
  readonly realPath?: (path: string) => string | undefined;
  readonly options?: PlanOptions;
}

// Docker's reference grammar, loosely: [registry[:port]/]path[:tag][@algo:hex].
const component = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const domain =
  "(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?";
const imageReferencePattern = new RegExp(
  `^(?:${domain}/)?${component}(?:/${component})*(?::[\\w][\\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$`,
);

const imageFormats: Record<NonNullable<StyroliteCustomizations["imageFormat"]>, OciImageFormat> = {
  squashfs: OciImageFormat.SQUASHFS,
  erofs: OciImageFormat.EROFS,
  tar: OciImageFormat.TAR,
  directory: OciImageFormat.DIRECTORY,
};

/**
 * Turns a validated devcontainer.json into a LaunchPlan. Pure: no file system, no network, no
 * clock; the same input gives the same plan. Every property present in the file gets a row in
 * `properties`; anything that cannot be honoured makes the plan unlaunchable with a reason.
 */
export function buildLaunchPlan(input: PlanInput): LaunchPlan {
  const { doc, localFolder, configFile, env } = input;
  const options = input.options ?? {};
  const raw = doc.value ?? {};
  const diagnostics: Diagnostic[] = [...(input.diagnostics ?? [])];
  const verdicts: PropertyVerdict[] = [];
  const refusals: string[] = [];
  const fillAtLaunch: LaunchTimeField[] = [];

  const verdict = (path: JsonPathSegment[], status: PropertyStatus, detail: string): void => {
    const { line, column } = positionOfPath(doc, path);
    verdicts.push({ property: formatJsonPath(path), path, status, detail, line, column });
    if (status === "refused") refusals.push(`${formatJsonPath(path)}: ${detail}`);
  };

  // --- identity and variables -------------------------------------------------------------
  const idLabels = idLabelsFor(localFolder, configFile);
  const devcontainerId = devcontainerIdForLabels(idLabels);
  const folderName = posix.basename(localFolder) || "workspace";
  const preliminary = {
    localWorkspaceFolder: localFolder,
    containerWorkspaceFolder: `/workspaces/${folderName}`,
    devcontainerId,
    env,
  };
  // workspaceFolder may use every local variable; its own value then defines ${containerWorkspaceFolder}.
  const workspaceFolder =
    input.config.workspaceFolder !== undefined
      ? substituteString(input.config.workspaceFolder, preliminary).value
      : preliminary.containerWorkspaceFolder;
  const substituted = substituteDeep(input.config, {
    ...preliminary,
    containerWorkspaceFolder: workspaceFolder,
  });
  const c = substituted.value;
  for (const problem of substituted.problems) {
    diagnostics.push(
      diagnosticAtPath(
        doc,
        problem.path,
        problem.severity,
        "variable",
        `${formatJsonPath(problem.path)}: ${problem.message}`,
      ),
    );
    if (problem.severity === "error") refusals.push(`${formatJsonPath(problem.path)}: ${problem.message}`);
  }
  const deferred = new Set(substituted.deferredPaths.map((p) => JSON.stringify(p)));
  const styrolite: StyroliteCustomizations = c.customizations?.styrolite ?? {};

  const workspaceRoot = styrolite.workspaceRoot ?? options.workspaceRoot ?? defaultWorkspaceRoot;
  const volumeRoot = options.volumeRoot ?? defaultVolumeRoot;
  const hostWorkspacePath = posix.join(workspaceRoot, devcontainerId);
  if (
    c.image === undefined &&
    c.build === undefined &&
    c.dockerFile === undefined &&
    c.dockerComposeFile === undefined
  ) {
    refusals.push('no image: set "image" to the container image to run in the zone');
  }
  if (!workspaceFolder.startsWith("/"))
    refusals.push(`workspaceFolder: "${workspaceFolder}" is not an absolute path`);
  if (posix.normalize(workspaceRoot).split("/").includes("..") || !workspaceRoot.startsWith("/")) {
    refusals.push(
      `customizations.styrolite.workspaceRoot: "${workspaceRoot}" must be an absolute path without ".."`,
    );
  }

  // --- runArgs first: several properties defer to them or take precedence over them -------
  const runArgs = interpretRunArgs(c.runArgs ?? [], env);
  const mountContext = {
    localWorkspaceFolder: localFolder,
    hostWorkspacePath,
    volumeRoot,
    ...(input.realPath ? { realPath: input.realPath } : {}),
  };

  // --- storage: workspace, mounts, volumes --------------------------------------------------
  let syncSource = localFolder;
  let syncTarget = workspaceFolder;
  let workspaceMountDetail: { status: PropertyStatus; detail: string } | undefined;
  if (c.workspaceMount !== undefined) {
    const parsed = parseMountString(c.workspaceMount);
    if ("error" in parsed) workspaceMountDetail = { status: "refused", detail: parsed.error };
    else if (parsed.type !== "bind") {
      workspaceMountDetail = {
        status: "ignored",
        detail: `a ${parsed.type} workspace mount has no zone equivalent; the project folder is synced to ${workspaceFolder} instead`,
      };
    } else {
      const mapped = mapMount(parsed, mountContext);
      if (mapped.kind === "workspace") {
        syncSource = posix.join(localFolder, posix.relative(hostWorkspacePath, mapped.hostPath));
        syncTarget = parsed.target;
        workspaceMountDetail = {
          status: "translated",
          detail: `sync ${syncSource} → host ${hostWorkspacePath} → ${syncTarget}`,
        };
      } else if (mapped.kind === "refused") {
        workspaceMountDetail = { status: "refused", detail: mapped.reason };
      } else {
        workspaceMountDetail = {
          status: "ignored",
          detail: `its source is not inside the project folder; the project folder is synced to ${workspaceFolder} instead`,
        };
      }
    }
  }
  const sync: WorkspaceSync = {
    localFolder: syncSource,
    hostPath: hostWorkspacePath,
    targetPath: syncTarget,
    exclude: [
      ".git/",
      ...(input.gitignore ?? []).map((l) => l.trim()).filter((l) => l && !l.startsWith("#")),
    ],
    respectGitignore: true,
  };

  const mounts: Array<MessageInitShape<typeof MountSpecSchema>> = [];
  const addMount = (hostPath: string, targetPath: string): void => {
    mounts.push({ hostPath, targetPath });
  };
  addMount(sync.hostPath, sync.targetPath);
  const volumes: HostVolume[] = [];
  const scratch: string[] = [];
  const mountVerdicts: Array<{ path: JsonPathSegment[]; status: PropertyStatus; detail: string }> = [];
  const takeMount = (request: MountRequest, path: JsonPathSegment[]): void => {
    const mapped = mapMount(request, mountContext);
    switch (mapped.kind) {
      case "workspace":
        addMount(mapped.hostPath, mapped.target);
        mountVerdicts.push({
          path,
          status: "translated",
          detail: `mount ${mapped.hostPath} → ${mapped.target} (${mapped.note})`,
        });
        break;
      case "volume":
        if (!volumes.some((v) => v.name === mapped.name && v.target === mapped.target))
          volumes.push({ name: mapped.name, hostPath: mapped.hostPath, target: mapped.target });
        addMount(mapped.hostPath, mapped.target);
        mountVerdicts.push({
          path,
          status: "translated",
          detail: `volume "${mapped.name}": ${mapped.hostPath} → ${mapped.target} (${mapped.note})`,
        });
        break;
      case "scratch":
        scratch.push(mapped.target);
        mountVerdicts.push({
          path,
          status: "translated",
          detail: `scratch space at ${mapped.target} (lives as long as the workload)`,
        });
        break;
      case "ignored":
        mountVerdicts.push({ path, status: "ignored", detail: mapped.reason });
        break;
      case "refused":
        mountVerdicts.push({ path, status: "refused", detail: mapped.reason });
        break;
    }
  };
  (c.mounts ?? []).forEach((m, i) => {
    if (typeof m === "string") {
      const parsed = parseMountString(m);
      if ("error" in parsed)
        mountVerdicts.push({ path: ["mounts", i], status: "refused", detail: parsed.error });
      else takeMount(parsed, ["mounts", i]);
    } else {
      takeMount({ type: m.type, source: m.source, target: m.target, readOnly: false }, ["mounts", i]);
    }
  });
  for (const m of runArgs.effects.mounts) takeMount(m.request, ["runArgs", m.index]);

  // --- identity of zone and workload --------------------------------------------------------
  const zoneName =
    runArgs.effects.hostname !== undefined
      ? zoneNameFrom(runArgs.effects.hostname, undefined)
      : zoneNameFrom(folderName, devcontainerId);
  const workloadName = runArgs.effects.workloadName ?? zoneName;
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(zoneName))
    refusals.push(`zone name "${zoneName}" is not a valid name`);

  const annotations: Array<[string, string]> = [
    [annotationKeys.devcontainerId, devcontainerId],
    [annotationKeys.localFolder, localFolder],
    [annotationKeys.configFile, configFile],
  ];
  if (c.name) annotations.push([annotationKeys.name, c.name]);
  const reservedAnnotations: string[] = [];
  for (const [key, value] of Object.entries(styrolite.annotations ?? {})) {
    if (key.startsWith(reservedAnnotationPrefix)) reservedAnnotations.push(key);
    else annotations.push([key, value]);
  }

  // --- images ------------------------------------------------------------------------------
  const images: ImagePull[] = [];
  const workloadFormat = imageFormats[styrolite.imageFormat ?? "squashfs"];
  const imageProblem = (reference: string): string | undefined => {
    const placeholder = /\$\{[^}]*\}/.exec(reference);
    if (placeholder)
      return `"${reference}" still contains ${placeholder[0]}, a variable nothing here can resolve (a template placeholder?)`;
    if (!imageReferencePattern.test(reference)) return `"${reference}" is not a valid image reference`;
    return undefined;
  };
  if (c.image !== undefined) {
    const problem = imageProblem(c.image);
    if (!problem)
      images.push({
        role: "workload",
        reference: c.image,
        format: workloadFormat,
        fills: "workloadSpec.image",
      });
  }
  const kernel = styrolite.kernel;
  for (const role of ["kernel", "initrd"] as const) {
    const reference = role === "kernel" ? kernel?.image : kernel?.initrd;
    if (reference !== undefined && !imageProblem(reference)) {
      images.push({
        role,
        reference,
        format: OciImageFormat.TAR,
        fills: role === "kernel" ? "zoneSpec.kernel" : "zoneSpec.initrd",
      });
    }
  }

  // --- resources ---------------------------------------------------------------------------
  const resources = styrolite.resources ?? {};
  const hostReq = c.hostRequirements ?? {};
  const dynamic = resources.adjustmentPolicy === "dynamic";
  const hostMemoryMiB = hostReq.memory !== undefined ? specSizeToMiB(hostReq.memory) : undefined;
  const cpuSource =
    resources.targetCpus !== undefined
      ? "customizations.styrolite.resources.targetCpus"
      : hostReq.cpus !== undefined
        ? "hostRequirements.cpus"
        : runArgs.effects.cpus !== undefined
          ? "runArgs --cpus"
          : "the default";
  const targetCpus = resources.targetCpus ?? hostReq.cpus ?? runArgs.effects.cpus ?? options.defaultCpus ?? 2;
  const maxCpus = resources.maxCpus ?? Math.max(targetCpus, resources.minCpus ?? 0);
  const minCpus = resources.minCpus ?? (dynamic ? 1 : targetCpus);
  const memorySource =
    resources.targetMemory !== undefined
      ? "customizations.styrolite.resources.targetMemory"
      : hostMemoryMiB !== undefined
        ? "hostRequirements.memory"
        : runArgs.effects.memoryMiB !== undefined
          ? "runArgs --memory"
          : "the default";
  const targetMemory =
    (resources.targetMemory !== undefined ? styroliteSizeToMiB(resources.targetMemory) : undefined) ??
    hostMemoryMiB ??
    runArgs.effects.memoryMiB ??
    options.defaultMemoryMiB ??
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

  // --- devices -----------------------------------------------------------------------------
  const deviceRequests: DeviceRequest[] = [];
  const namedDevices = styrolite.devices ?? [];
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
  if (runArgs.effects.gpu && !namedDevices.length && !deviceRequests.length)
    deviceRequests.push({ kind: "gpu", optional: false, source: "runArgs --gpus" });
  if (deviceRequests.length)
    fillAtLaunch.push({
      field: "zoneSpec.devices",
      from: "a matching unclaimed device from ListDevices for each deviceRequest",
    });

  // --- the zone spec -----------------------------------------------------------------------
  const zoneInit: MessageInitShape<typeof ZoneSpecSchema> = {
    name: zoneName,
    initialResources: {
      targetCpus,
      maxCpus,
      minCpus,
      targetMemory: BigInt(targetMemory),
      maxMemory: BigInt(maxMemory),
      minMemory: BigInt(minMemory),
      adjustmentPolicy: dynamic ? ZoneResourceAdjustmentPolicy.DYNAMIC : ZoneResourceAdjustmentPolicy.STATIC,
    },
    annotations: annotations.map(([key, value]) => ({ key, value })),
    devices: namedDevices.map((name) => ({ name })),
  };
  if (kernel?.image !== undefined) {
    zoneInit.kernel = { digest: "", format: OciImageFormat.TAR };
    fillAtLaunch.push({ field: "zoneSpec.kernel.digest", from: "PullImage(kernel image)" });
  }
  if (kernel?.initrd !== undefined) {
    zoneInit.initrd = { digest: "", format: OciImageFormat.TAR };
    fillAtLaunch.push({ field: "zoneSpec.initrd.digest", from: "PullImage(initrd image)" });
  }
  if (
    kernel &&
    (kernel.verbose !== undefined ||
      kernel.cmdline ||
      kernel.cmdlineAppend ||
      kernel.modules ||
      kernel.sysctls)
  ) {
    zoneInit.kernelOptions = {
      verbose: kernel.verbose ?? false,
      cmdlineAppend: kernel.cmdlineAppend ?? "",
      cmdline: kernel.cmdline ?? [],
      modules: kernel.modules ?? [],
      sysctlParameters: Object.entries(kernel.sysctls ?? {}).map(([key, value]) => ({ key, value })),
    };
  }
  const network = styrolite.network;
  if (network) {
    zoneInit.networkOptions = {
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
  if (styrolite.virtualization) {
    zoneInit.virtualizationOptions = { backend: virtualizationBackend(styrolite.virtualization) };
  }
  const scratchDisk = styrolite.scratchDisk;
  if (scratchDisk) {
    zoneInit.scratchDisk =
      "size" in scratchDisk
        ? { backend: { case: "image", value: { size: BigInt(styroliteSizeToMiB(scratchDisk.size) ?? 0) } } }
        : { backend: { case: "block", value: { path: scratchDisk.path, device: scratchDisk.device } } };
  }
  const zoneSpec: ZoneSpec = create(ZoneSpecSchema, zoneInit);

  // --- the workload spec -------------------------------------------------------------------
  const imageBased = c.dockerComposeFile === undefined;
  const overrideCommand = c.overrideCommand ?? imageBased;
  const workloadEnv = new Map<string, string>();
  for (const [name, value] of Object.entries(c.containerEnv ?? {})) workloadEnv.set(name, value);
  for (const [name, value] of runArgs.effects.env) workloadEnv.set(name, value);
  const containerUser = c.containerUser ?? runArgs.effects.user;
  const user = containerUser !== undefined ? userSpec(containerUser) : undefined;
  const workloadSpec = create(WorkloadSpecSchema, {
    name: workloadName,
    zoneId: "",
    image: { digest: "", format: workloadFormat },
    process: {
      environment: [...workloadEnv].map(([key, value]) => ({ key, value })),
      command: overrideCommand ? [...keepAliveCommand] : [],
      workingDirectory: workspaceFolder,
      tty: false,
      stdin: false,
      stdout: true,
      stderr: true,
      ...(user ? { user: user.user, ...(user.group ? { group: user.group } : {}) } : {}),
    },
    annotations: annotations.map(([key, value]) => ({ key, value })),
    mounts,
    security: {
      privileged: (c.privileged ?? false) || runArgs.effects.privileged,
      raiseCapabilities: unique([...(c.capAdd ?? []), ...runArgs.effects.capAdd].map(capabilityName)),
      dropCapabilities: unique(runArgs.effects.capDrop.map(capabilityName)),
    },
    scratchMount: unique(scratch).map((path) => ({ path })),
  });
  fillAtLaunch.push({ field: "workloadSpec.zoneId", from: "CreateZone reply zone_id" });
  if (images.some((i) => i.role === "workload"))
    fillAtLaunch.push({ field: "workloadSpec.image.digest", from: "PullImage(workload image)" });

  // --- hooks, remote processes -------------------------------------------------------------
  const hooks = hookSteps(c, localFolder, workspaceFolder);
  const remoteEnv: RemoteEnvVar[] = Object.entries(c.remoteEnv ?? {}).map(([name, value]) => ({
    name,
    value,
    deferred: deferred.has(JSON.stringify(["remoteEnv", name])),
  }));
  const remoteUser = c.remoteUser ?? containerUser;

  // --- ports -------------------------------------------------------------------------------
  const forwards: PortForward[] = [];
  const usedAttributeKeys = new Set<string>();
  const portVerdicts: Array<{ path: JsonPathSegment[]; status: PropertyStatus; detail: string }> = [];
  const addForward = (publish: PortPublish, source: string): void => {
    if (forwards.some((f) => f.containerPort === publish.containerPort && f.localPort === publish.localPort))
      return;
    const { attributes, key } = attributesFor(
      publish.containerPort,
      c.portsAttributes,
      c.otherPortsAttributes,
    );
    if (key) usedAttributeKeys.add(key);
    forwards.push({ ...publish, ...attributeFields(attributes), source });
  };
  (c.forwardPorts ?? []).forEach((entry, i) => {
    const path: JsonPathSegment[] = ["forwardPorts", i];
    if (typeof entry === "number") {
      if (entry === 0)
        portVerdicts.push({ path, status: "ignored", detail: "port 0 is not a port to forward" });
      else addForward({ containerPort: entry, localPort: entry }, formatJsonPath(path));
      return;
    }
    const [host = "", port = ""] = entry.split(":");
    if (host === "localhost")
      addForward({ containerPort: Number(port), localPort: Number(port) }, formatJsonPath(path));
    else
      portVerdicts.push({
        path,
        status: "ignored",
        detail: `"${entry}" forwards from another Compose service ("${host}"); a zone runs a single workload`,
      });
  });
  const appPorts = c.appPort === undefined ? [] : Array.isArray(c.appPort) ? c.appPort : [c.appPort];
  appPorts.forEach((entry, i) => {
    const path: JsonPathSegment[] = Array.isArray(c.appPort) ? ["appPort", i] : ["appPort"];
    if (typeof entry === "number") {
      if (entry === 0)
        portVerdicts.push({ path, status: "ignored", detail: "port 0 is not a port to forward" });
      else addForward({ containerPort: entry, localPort: entry }, formatJsonPath(path));
      return;
    }
    const parsed = parsePublish(entry);
    if ("reason" in parsed) portVerdicts.push({ path, status: "ignored", detail: parsed.reason });
    else for (const p of parsed.ports) addForward(p, formatJsonPath(path));
  });
  for (const p of runArgs.effects.publish)
    for (const port of p.ports) addForward(port, formatJsonPath(["runArgs", p.index]));

  // --- connection overrides ----------------------------------------------------------------
  let connection: ConnectionOverride | undefined;
  if (styrolite.host && (styrolite.host.socket !== undefined || styrolite.host.bridge !== undefined)) {
    connection = {
      ...(styrolite.host.socket !== undefined ? { socketPath: styrolite.host.socket } : {}),
      ...(styrolite.host.bridge !== undefined ? { bridge: styrolite.host.bridge } : {}),
    };
  }

  // --- the property table ------------------------------------------------------------------
  const seen = new Set<string>();
  for (const key of Object.keys(raw)) {
    if (seen.has(key)) continue;
    seen.add(key);
    const path: JsonPathSegment[] = [key];
    switch (key) {
      case "$schema":
        verdict(path, "ignored", "a hint for editors");
        break;
      case "name":
        verdict(path, "translated", `display name, annotation ${annotationKeys.name}`);
        break;
      case "image": {
        const problem = c.image !== undefined ? imageProblem(c.image) : undefined;
        if (c.build !== undefined || c.dockerFile !== undefined)
          verdict(path, "ignored", "build is present and takes precedence (and is refused)");
        else if (c.dockerComposeFile !== undefined)
          verdict(path, "ignored", "dockerComposeFile is present (and refused)");
        else if (problem) verdict(path, "refused", problem);
        else
          verdict(
            path,
            "translated",
            `workload image, pulled as ${OciImageFormat[workloadFormat].toLowerCase()}`,
          );
        break;
      }
      case "build":
      case "dockerFile":
      case "context":
        if (key === "context" && raw["dockerFile"] !== undefined) {
          verdict(path, "ignored", "the build context of dockerFile (refused)");
          break;
        }
        verdict(
          path,
          "refused",
          'needs an image built from a Dockerfile, which zone hosts cannot build yet: build and push the image, then set "image"',
        );
        break;
      case "dockerComposeFile":
        verdict(
          path,
          "refused",
          'Docker Compose starts several containers; a zone runs one workload from an image: set "image" to the service\'s image instead',
        );
        break;
      case "service":
      case "runServices":
        verdict(path, "ignored", "only meaningful with dockerComposeFile (refused)");
        break;
      case "containerEnv":
        verdict(
          path,
          "translated",
          `workload environment: ${Object.keys(c.containerEnv ?? {}).join(", ") || "(none)"}`,
        );
        break;
      case "remoteEnv": {
        const later = remoteEnv.filter((e) => e.deferred).map((e) => e.name);
        verdict(
          path,
          "translated",
          `environment of hooks and terminals${later.length ? `; ${later.join(", ")} resolved after start (\${containerEnv:…})` : ""}`,
        );
        break;
      }
      case "containerUser":
        verdict(path, "translated", `workload process user "${c.containerUser ?? ""}"`);
        break;
      case "remoteUser":
        verdict(path, "translated", `user of hooks and terminals "${c.remoteUser ?? ""}"`);
        break;
      case "updateRemoteUserUID":
        verdict(
          path,
          "ignored",
          "the workspace is copied to the host, not bind-mounted from your machine, so file ownership needs no UID remapping",
        );
        break;
      case "userEnvProbe":
        verdict(
          path,
          "ignored",
          "hooks and terminals get containerEnv and remoteEnv; the user's shell profile environment is not probed",
        );
        break;
      case "mounts":
        if (!(c.mounts ?? []).length) verdict(path, "ignored", "empty");
        for (const m of mountVerdicts.filter((v) => v.path[0] === "mounts"))
          verdict(m.path, m.status, m.detail);
        break;
      case "workspaceMount":
        if (workspaceMountDetail) verdict(path, workspaceMountDetail.status, workspaceMountDetail.detail);
        break;
      case "workspaceFolder":
        verdict(
          path,
          "translated",
          `mount target of the synced workspace and working directory: ${workspaceFolder}`,
        );
        break;
      case "runArgs":
        if (!(c.runArgs ?? []).length) verdict(path, "ignored", "empty");
        for (const v of runArgs.verdicts) {
          const mount = mountVerdicts.find((m) => m.path[0] === "runArgs" && m.path[1] === v.index);
          if (mount) verdict(["runArgs", v.index], mount.status, `${v.text}: ${mount.detail}`);
          else if (v.status === "translated" && v.flag === "--cpus" && cpuSource !== "runArgs --cpus")
            verdict(["runArgs", v.index], "ignored", `${v.text}: ${cpuSource} sets the zone's vCPUs`);
          else if (v.status === "translated" && v.flag === "--memory" && memorySource !== "runArgs --memory")
            verdict(["runArgs", v.index], "ignored", `${v.text}: ${memorySource} sets the zone's memory`);
          else if (v.status === "translated" && v.flag === "--user" && c.containerUser !== undefined)
            verdict(["runArgs", v.index], "ignored", `${v.text}: containerUser sets the workload user`);
          else verdict(["runArgs", v.index], v.status, `${v.text}: ${v.detail}`);
        }
        break;
      case "overrideCommand":
        verdict(
          path,
          "translated",
          overrideCommand
            ? "workload process: a keep-alive loop instead of the image's command"
            : "workload process: the image's own entrypoint and command",
        );
        break;
      case "shutdownAction":
        if (c.shutdownAction === "stopCompose")
          verdict(path, "ignored", "a Compose setting (dockerComposeFile is refused)");
        else
          verdict(
            path,
            "translated",
            c.shutdownAction === "none"
              ? "closing leaves the zone running (zonectl down destroys it)"
              : "closing stops the workload (zonectl down destroys the zone)",
          );
        break;
      case "init":
        verdict(path, "ignored", "the zone's init already reaps processes");
        break;
      case "privileged":
        verdict(
          path,
          "translated",
          c.privileged
            ? "privileged workload (inside the zone; the VM boundary still holds)"
            : "not privileged",
        );
        break;
      case "capAdd":
        verdict(
          path,
          "translated",
          `workload capabilities raised: ${(c.capAdd ?? []).map(capabilityName).join(", ") || "(none)"}`,
        );
        break;
      case "securityOpt":
        verdict(
          path,
          "ignored",
          "seccomp/AppArmor/SELinux options configure Docker's host; the zone's own kernel is the boundary",
        );
        break;
      case "appPort":
      case "forwardPorts": {
        const own = portVerdicts.filter((v) => v.path[0] === key);
        const count = forwards.filter((f) => f.source.startsWith(key)).length;
        if (count)
          verdict(
            path,
            "translated",
            `${count} port forward(s): ${forwards
              .filter((f) => f.source.startsWith(key))
              .map((f) =>
                f.localPort === f.containerPort ? `${f.containerPort}` : `${f.localPort}→${f.containerPort}`,
              )
              .join(", ")}`,
          );
        else if (!own.length) verdict(path, "ignored", "no ports listed");
        for (const v of own) verdict(v.path, v.status, v.detail);
        break;
      }
      case "portsAttributes":
        for (const attrKey of Object.keys(c.portsAttributes ?? {})) {
          verdict(
            ["portsAttributes", attrKey],
            usedAttributeKeys.has(attrKey) ? "translated" : "ignored",
            usedAttributeKeys.has(attrKey)
              ? "label/protocol of the matching forward"
              : /^\d+(-\d+)?$/.test(attrKey)
                ? "no forwarded port matches"
                : "matches process command lines, which are only known once something listens",
          );
        }
        if (!Object.keys(c.portsAttributes ?? {}).length) verdict(path, "ignored", "empty");
        break;
      case "otherPortsAttributes":
        verdict(
          path,
          usedAttributeKeys.has("otherPortsAttributes") ? "translated" : "ignored",
          usedAttributeKeys.has("otherPortsAttributes")
            ? "attributes of forwards without their own entry"
            : "every forwarded port has its own attributes, or none is forwarded",
        );
        break;
      case "features":
        if (Object.keys(c.features ?? {}).length) {
          verdict(
            path,
            "refused",
            `features (${Object.keys(c.features ?? {}).join(", ")}) are installed by building a new image, which zone hosts cannot do yet: build an image with them (devcontainer build) and set "image"`,
          );
        } else verdict(path, "ignored", "empty");
        break;
      case "overrideFeatureInstallOrder":
        verdict(path, "ignored", "orders features, which are not installed in zones");
        break;
      case "hostRequirements":
        for (const sub of Object.keys(raw["hostRequirements"] ?? {})) {
          const subPath: JsonPathSegment[] = ["hostRequirements", sub];
          if (sub === "cpus")
            verdict(
              subPath,
              cpuSource === "hostRequirements.cpus" ? "translated" : "ignored",
              cpuSource === "hostRequirements.cpus"
                ? `zone vCPUs: target ${targetCpus}, max ${maxCpus}`
                : `${cpuSource} sets the zone's vCPUs`,
            );
          else if (sub === "memory")
            verdict(
              subPath,
              memorySource === "hostRequirements.memory" ? "translated" : "ignored",
              memorySource === "hostRequirements.memory"
                ? `zone memory: target ${targetMemory} MiB, max ${maxMemory} MiB`
                : `${memorySource} sets the zone's memory`,
            );
          else if (sub === "storage")
            verdict(
              subPath,
              "ignored",
              "a machine-selection hint; a zone gets a scratch disk only from customizations.styrolite.scratchDisk",
            );
          else if (sub === "gpu") {
            if (gpu === false) verdict(subPath, "translated", "no GPU");
            else if (namedDevices.length)
              verdict(
                subPath,
                "translated",
                `satisfied by customizations.styrolite.devices (${namedDevices.join(", ")})`,
              );
            else
              verdict(
                subPath,
                "translated",
                `${gpu === "optional" ? "optional " : ""}GPU device request, resolved against the host's devices at launch`,
              );
          }
        }
        break;
      case "initializeCommand":
      case "onCreateCommand":
      case "updateContentCommand":
      case "postCreateCommand":
      case "postStartCommand":
      case "postAttachCommand": {
        const step = hooks.find((h) => h.hook === key);
        if (!step) verdict(path, "ignored", "empty command");
        else {
          const where = step.runsOn === "local" ? "on this machine" : "in the workload";
          const when = {
            everyLaunch: "on every up",
            firstLaunch: "on first launch only",
            everyStart: "on every start",
            everyAttach: "on every attach",
          }[step.when];
          const form = step.parallel
            ? `${step.commands.length} commands in parallel`
            : step.commands[0]?.shell
              ? "through /bin/sh -c"
              : "as argv, no shell";
          verdict(
            path,
            "translated",
            `runs ${where}, ${when}, ${form}: ${step.commands.map(displayCommand).join(" | ")}`,
          );
        }
        break;
      }
      case "waitFor":
        verdict(path, "translated", `tools may connect after ${c.waitFor ?? "updateContentCommand"}`);
        break;
      case "secrets":
        verdict(
          path,
          "ignored",
          `recommendations to the user (${Object.keys(c.secrets ?? {}).join(", ") || "none"}); zonectl does not collect secrets — pass them with remoteEnv and \${localEnv:…}`,
        );
        break;
      case "customizations":
        for (const tool of Object.keys(raw["customizations"] ?? {})) {
          if (tool !== "styrolite")
            verdict(["customizations", tool], "ignored", `settings for another tool (${tool})`);
          else styroliteVerdicts();
        }
        break;
      default:
        verdict(path, "ignored", legacyProperties[key] ? `${legacyProperties[key]}` : "unknown property");
    }
  }

  function styroliteVerdicts(): void {
    const base: JsonPathSegment[] = ["customizations", "styrolite"];
    const rawStyrolite = ((raw["customizations"] as Record<string, unknown> | undefined)?.["styrolite"] ??
      {}) as Record<string, unknown>;
    for (const key of Object.keys(rawStyrolite)) {
      const path = [...base, key];
      switch (key) {
        case "kernel": {
          for (const role of ["image", "initrd"] as const) {
            const reference = kernel?.[role];
            const problem = reference !== undefined ? imageProblem(reference) : undefined;
            if (reference !== undefined)
              verdict(
                [...path, role],
                problem ? "refused" : "translated",
                problem ?? `zone ${role === "image" ? "kernel" : "initrd"} image, pulled as tar`,
              );
          }
          if (zoneSpec.kernelOptions)
            verdict(path, "translated", "zone kernel options (cmdline, verbose, modules, sysctls)");
          break;
        }
        case "resources":
          verdict(
            path,
            "translated",
            `zone vCPUs ${minCpus}/${targetCpus}/${maxCpus} and memory ${minMemory}/${targetMemory}/${maxMemory} MiB (min/target/max), ${dynamic ? "dynamic" : "static"}`,
          );
          break;
        case "devices":
          verdict(path, "translated", `zone devices: ${namedDevices.join(", ") || "(none)"}`);
          break;
        case "network":
          verdict(path, "translated", `zone network: backend ${network?.backend ?? "default"}`);
          break;
        case "virtualization":
          verdict(path, "translated", `zone virtualization: ${styrolite.virtualization ?? ""}`);
          break;
        case "scratchDisk":
          verdict(
            path,
            "translated",
            scratchDisk && "size" in scratchDisk
              ? `zone scratch disk image of ${styroliteSizeToMiB(scratchDisk.size) ?? 0} MiB`
              : "zone scratch disk on a host block device",
          );
          break;
        case "annotations":
          if (reservedAnnotations.length)
            verdict(
              path,
              "ignored",
              `keys under ${reservedAnnotationPrefix} are reserved: ${reservedAnnotations.join(", ")} dropped; the others are added`,
            );
          else verdict(path, "translated", "annotations on the zone and the workload");
          break;
        case "imageFormat":
          verdict(path, "translated", `workload image pulled as ${styrolite.imageFormat ?? ""}`);
          break;
        case "workspaceRoot":
          verdict(path, "translated", `workspace copy under ${workspaceRoot} on the host`);
          break;
        case "host":
          verdict(
            path,
            "translated",
            "connection overrides (used only when you trust this workspace: the bridge runs a command on the host)",
          );
          break;
        default:
          verdict(path, "ignored", "unknown property");
      }
    }
  }

  return {
    version: 1,
    configFile,
    localFolder,
    devcontainerId,
    idLabels,
    displayName: c.name,
    zoneName,
    workloadName,
    launchable: refusals.length === 0,
    refusals: unique(refusals),
    images,
    zoneSpec,
    workloadSpec,
    fillAtLaunch,
    deviceRequests,
    sync,
    volumes,
    hooks,
    waitFor: c.waitFor ?? "updateContentCommand",
    remote: { user: remoteUser, workingDirectory: workspaceFolder, env: remoteEnv },
    forwards,
    shutdownAction: c.shutdownAction === "none" ? "none" : "stopWorkload",
    connection,
    properties: verdicts,
    diagnostics,
  };
}

/**
 * A zone name from a folder name: lowercase letters, digits and dashes, at most 63 characters
 * (valid as a DNS label and a hostname), ending in the first 8 characters of the devcontainerId
 * so two projects with the same folder name get different zones.
 */
export function zoneNameFrom(base: string, devcontainerId: string | undefined): string {
  const suffix = devcontainerId ? `-${devcontainerId.slice(0, 8)}` : "";
  const cleaned = base
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/-+/g, "-")
    .replace(/^-|-$/g, "")
    .slice(0, 63 - suffix.length)
    .replace(/-$/, "");
  return `${cleaned || "devcontainer"}${suffix}`;
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

/** "SYS_PTRACE", "cap_sys_ptrace" → "CAP_SYS_PTRACE": the kernel's own spelling. "ALL" stays. */
export function capabilityName(cap: string): string {
  const upper = cap.trim().toUpperCase();
  if (upper === "ALL") return upper;
  return upper.startsWith("CAP_") ? upper : `CAP_${upper}`;
}

type IdOrNameInit = MessageInitShape<typeof IdOrNameValueSchema>;

/** containerUser → ProcessSpec user/group: numbers are ids, anything else names; "user:group" sets both. */
export function userSpec(text: string): { user: IdOrNameInit; group?: IdOrNameInit } {
  const [userPart = "", groupPart] = text.split(":");
  const one = (value: string): IdOrNameInit =>
    /^\d+$/.test(value)
      ? { idOrName: { case: "id", value: Number(value) } }
      : { idOrName: { case: "name", value } };
  return groupPart !== undefined && groupPart !== ""
    ? { user: one(userPart), group: one(groupPart) }
    : { user: one(userPart) };
}

function attributeFields(attributes: PortAttributes | undefined): Partial<PortForward> {
  if (!attributes) return {};
  return {
    ...(attributes.label !== undefined ? { label: attributes.label } : {}),
    ...(attributes.protocol !== undefined ? { protocol: attributes.protocol } : {}),
    ...(attributes.onAutoForward !== undefined ? { onAutoForward: attributes.onAutoForward } : {}),
    ...(attributes.requireLocalPort !== undefined ? { requireLocalPort: attributes.requireLocalPort } : {}),
    ...(attributes.elevateIfNeeded !== undefined ? { elevateIfNeeded: attributes.elevateIfNeeded } : {}),
  };
}

function unique<T>(items: readonly T[]): T[] {
  return [...new Set(items)];
}
