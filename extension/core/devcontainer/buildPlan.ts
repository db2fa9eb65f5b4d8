import { create } from "@bufbuild/protobuf";
import { posix } from "node:path";
import { WorkloadSpecSchema, ZoneSpecSchema } from "../../proto/gen/protect/control/v1/common_pb";
import { formatJsonPath } from "./diagnostics";
import type { Diagnostic } from "./diagnostics";
import { devcontainerIdForLabels, idLabelsFor } from "./devcontainerId";
import { diagnosticAtPath, positionOfPath } from "./jsonc";
import type { ParsedDocument } from "./jsonc";
import { defaultVolumeRoot, defaultWorkspaceRoot } from "./plan";
import type { ImageBuild, LaunchImage, LaunchPlan, LaunchTimeField, PropertyVerdict } from "./plan";
import { interpretRunArgs } from "./runArgs";
import { legacyProperties } from "./schema";
import type { DevcontainerConfig } from "./schema";
import { substituteDeep, substituteString } from "./variables";
import { mergeMetadata } from "../features/metadata";
import type { MetadataEntry } from "../features/metadata";
import { translateCompose } from "./translate/compose";
import type { ComposeInput } from "./translate/compose";
import { unique } from "./translate/context";
import type {
  ImageFacts,
  PlanOptions,
  Row,
  RunArgClaims,
  TranslateContext,
  Translation,
} from "./translate/context";
import { translateCustomizations } from "./translate/customizations";
import { translateFeatures } from "./translate/features";
import { translateGeneral } from "./translate/general";
import { translateImage } from "./translate/image";
import { translateLifecycle } from "./translate/lifecycle";
import { translatePorts } from "./translate/ports";
import { translateResources } from "./translate/resources";
import { translateStorage } from "./translate/storage";
import { translateWorkload } from "./translate/workload";

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
  /**
   * Reads a small file on this machine, undefined when absent: local features' metadata, the
   * lockfile, whether a Dockerfile exists. Without it those are checked at launch.
   */
  readonly readLocalFile?: (path: string) => string | undefined;
  /**
   * The image the workload runs, once known (pulled, found on the host, or built): its
   * `devcontainer.metadata` entries are merged with the file as the spec says.
   */
  readonly image?: LaunchImage;
  /** The option defaults of the template this folder is the source of (devcontainer-template.json). */
  readonly templateOptions?: ReadonlyMap<string, string>;
  /** The Compose project dockerComposeFile names, read by the caller (loadComposeProject). */
  readonly compose?: ComposeInput;
  readonly options?: PlanOptions;
}

/**
 * Turns a validated devcontainer.json into a LaunchPlan. Pure: no file system, no network, no
 * clock; the same input gives the same plan. Each area of the file has its translator (in
 * `translate/`) returning its part of the specs, its rows of the property table and its
 * refusals; this function prepares what they share and puts their parts together. Every
 * property present in the file gets a row; anything that cannot be honoured makes the plan
 * unlaunchable with a reason.
 */
export function buildLaunchPlan(input: PlanInput): LaunchPlan {
  const { ctx, diagnostics, refusals: prepared, idLabels } = prepare(input);

  const general = translateGeneral(ctx);
  const image = translateImage(ctx);
  const storage = translateStorage(ctx);
  const resources = translateResources(ctx);
  const customizations = translateCustomizations(ctx, resources);
  const workload = translateWorkload(ctx);
  const lifecycle = translateLifecycle(ctx);
  const ports = translatePorts(ctx);
  const features = translateFeatures(ctx);
  const compose = translateCompose(ctx, {
    image,
    storage,
    workload,
    ports,
    zoneName: general.zoneName,
    annotations: [...general.annotations, ...customizations.annotations],
  });
  const parts: Translation[] = [
    image,
    storage,
    general,
    resources,
    customizations,
    workload,
    lifecycle,
    ports,
    features,
    compose,
  ];

  const annotations = [...general.annotations, ...customizations.annotations].map(([key, value]) => ({
    key,
    value,
  }));
  const zoneSpec = create(ZoneSpecSchema, {
    name: general.zoneName,
    ...resources.zone,
    annotations,
    ...customizations.zone,
  });
  const workloadSpec = create(WorkloadSpecSchema, {
    name: general.workloadName,
    zoneId: "",
    annotations,
    ...(compose.overrides?.workload ?? {
      image: { digest: "", format: image.workloadFormat },
      process: { ...workload.process, workingDirectory: ctx.workspaceFolder },
      mounts: [...storage.mounts],
      security: workload.security,
      scratchMount: storage.scratch.map((path) => ({ path })),
    }),
  });
  const images = [...(compose.overrides?.images ?? image.images), ...customizations.images];
  const fillAtLaunch: LaunchTimeField[] = [
    ...resources.fillAtLaunch!,
    ...customizations.fillAtLaunch!,
    { field: "workloadSpec.zoneId", from: "CreateZone reply zone_id" },
  ];
  if (images.some((i) => i.role === "workload"))
    fillAtLaunch.push({ field: "workloadSpec.image.digest", from: "PullImage(workload image)" });
  const build = imageBuild(ctx, compose.plan ? compose.devBase : image.base, features, general.zoneName);
  if (build)
    fillAtLaunch.push({
      field: "workloadSpec.image.digest",
      from: build.push
        ? `PullImage of the image built on this machine and pushed to ${build.push}`
        : "ImportImage of the image built on this machine",
    });

  const properties = propertyTable(ctx, parts);
  const refusals = [
    ...prepared,
    ...parts.flatMap((p) => p.refusals),
    ...properties.filter((p) => p.status === "refused").map((p) => `${p.property}: ${p.detail}`),
  ];

  return {
    version: 1,
    configFile: input.configFile,
    localFolder: input.localFolder,
    devcontainerId: ctx.devcontainerId,
    idLabels,
    displayName: ctx.config.name,
    zoneName: general.zoneName,
    workloadName: general.workloadName,
    launchable: refusals.length === 0,
    refusals: unique(refusals),
    images,
    build,
    imageContributions: ctx.image?.contributions ?? [],
    zoneSpec,
    workloadSpec,
    fillAtLaunch,
    deviceRequests: resources.deviceRequests,
    sync: storage.sync,
    volumes: compose.overrides?.volumes ?? storage.volumes,
    hooks: lifecycle.hooks,
    waitFor: lifecycle.waitFor,
    remote: { user: workload.remoteUser, workingDirectory: ctx.workspaceFolder, env: workload.remoteEnv },
    forwards: compose.overrides?.forwards ?? ports.forwards,
    shutdownAction: workload.shutdownAction,
    connection: customizations.connection,
    ...(compose.plan ? { compose: compose.plan } : {}),
    properties,
    diagnostics,
  };
}

/** Identity, variable substitution and the facts every translator shares. */
function prepare(input: PlanInput): {
  ctx: TranslateContext;
  diagnostics: Diagnostic[];
  refusals: string[];
  idLabels: Record<string, string>;
} {
  const { doc, localFolder, configFile, env } = input;
  const options = input.options ?? {};
  const diagnostics: Diagnostic[] = [...(input.diagnostics ?? [])];
  const refusals: string[] = [];
  const idLabels = idLabelsFor(localFolder, configFile);
  const devcontainerId = devcontainerIdForLabels(idLabels);
  const folderName = posix.basename(localFolder) || "workspace";
  const preliminary = {
    localWorkspaceFolder: localFolder,
    containerWorkspaceFolder: `/workspaces/${folderName}`,
    devcontainerId,
    env,
    ...(input.templateOptions ? { templateOptions: input.templateOptions } : {}),
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
  for (const problem of substituted.problems) {
    const message = `${formatJsonPath(problem.path)}: ${problem.message}`;
    diagnostics.push(diagnosticAtPath(doc, problem.path, problem.severity, "variable", message));
    if (problem.severity === "error") refusals.push(message);
  }
  const config = substituted.value;
  const deferred = new Set(substituted.deferredPaths.map((p) => JSON.stringify(p)));
  let image: ImageFacts | undefined;
  let merged = config;
  if (input.image) {
    const entries: MetadataEntry[] = [];
    for (const entry of input.image.entries) {
      const done = substituteDeep(entry, { ...preliminary, containerWorkspaceFolder: workspaceFolder });
      entries.push(done.value);
      for (const p of done.deferredPaths)
        if (p[0] === "remoteEnv") deferred.add(JSON.stringify(p.slice(0, 2)));
    }
    const result = mergeMetadata(config, entries);
    merged = result.config;
    image = {
      hooks: result.hooks,
      entrypoints: result.entrypoints,
      contributions: result.contributions.map((c) => ({
        origin: c.origin,
        properties: c.properties.map((p) => contributionNotes[p] ?? p),
      })),
      mounts: entries.flatMap((e) =>
        (e.mounts ?? []).map((mount) => ({ origin: e.id ? `feature ${e.id}` : "the base image", mount })),
      ),
      launch: input.image,
    };
  }
  const styrolite = config.customizations?.styrolite ?? {};
  const workspaceRoot = styrolite.workspaceRoot ?? options.workspaceRoot ?? defaultWorkspaceRoot;
  if (posix.normalize(workspaceRoot).split("/").includes("..") || !workspaceRoot.startsWith("/")) {
    refusals.push(
      `customizations.styrolite.workspaceRoot: "${workspaceRoot}" must be an absolute path without ".."`,
    );
  }
  const ctx: TranslateContext = {
    doc,
    raw: doc.value ?? {},
    config,
    styrolite,
    options,
    env,
    localFolder,
    configFile,
    devcontainerId,
    folderName,
    workspaceFolder,
    merged,
    deferred,
    runArgs: interpretRunArgs(config.runArgs ?? [], env),
    workspaceRoot,
    volumeRoot: options.volumeRoot ?? defaultVolumeRoot,
    hostWorkspacePath: posix.join(workspaceRoot, devcontainerId),
    gitignore: input.gitignore,
    realPath: input.realPath,
    readLocalFile: input.readLocalFile,
    image,
    compose: input.compose,
  };
  return { ctx, diagnostics, refusals, idLabels };
}

/**
 * The property table: every translator's rows, the runArgs rows (a flag another translator took
 * over reads as it decided), and "unknown property" for keys no translator knows; ordered as the
 * keys appear in the file and located there.
 */
function propertyTable(ctx: TranslateContext, parts: readonly Translation[]): PropertyVerdict[] {
  const rows: Row[] = parts.flatMap((p) => p.rows);
  const keys = Object.keys(ctx.raw);
  if (keys.includes("runArgs")) {
    const claims: RunArgClaims = new Map(parts.flatMap((p) => [...(p.runArgClaims ?? [])]));
    if (!(ctx.config.runArgs ?? []).length)
      rows.push({ path: ["runArgs"], status: "ignored", detail: "empty" });
    for (const v of ctx.runArgs.verdicts) {
      const claimed = claims.get(v.index);
      rows.push({
        path: ["runArgs", v.index],
        status: claimed?.status ?? v.status,
        detail: claimed?.detail ?? `${v.text}: ${v.detail}`,
      });
    }
  }
  const covered = new Set(rows.map((r) => r.path[0]));
  for (const key of keys) {
    if (!covered.has(key) && !translatedKeys.has(key))
      rows.push({ path: [key], status: "ignored", detail: legacyProperties[key] ?? "unknown property" });
  }
  const order = new Map(keys.map((k, i) => [k, i]));
  const sorted = rows
    .map((row, i) => ({ row, i }))
    .sort(
      (a, b) =>
        (order.get(String(a.row.path[0])) ?? 0) - (order.get(String(b.row.path[0])) ?? 0) || a.i - b.i,
    );
  return sorted.map(({ row }) => {
    const { line, column } = positionOfPath(ctx.doc, row.path);
    return {
      property: formatJsonPath(row.path),
      path: row.path,
      status: row.status,
      detail: row.detail,
      line,
      column,
    };
  });
}

/**
 * The build before launch, when the image needs one: features on the image, or a Dockerfile (with
 * or without features) — for a Compose project, the dev service's. Its siblings build at launch.
 */
function imageBuild(
  ctx: TranslateContext,
  base: ImageBuild["base"] | undefined,
  features: ReturnType<typeof translateFeatures>,
  zoneName: string,
): ImageBuild | undefined {
  if (!base) return undefined;
  if (base.kind === "image" && !features.features.length) return undefined;
  return {
    base,
    features: features.features,
    overrideInstallOrder: features.overrideInstallOrder,
    lockfile: features.lockfile,
    repository: `localhost/zones-build/${zoneName}`,
    builder: ctx.styrolite.build?.builder,
    push: ctx.styrolite.build?.push,
    containerUser: ctx.config.containerUser,
    remoteUser: ctx.config.remoteUser,
  };
}

// What becomes of image-metadata properties a zone does not apply as such.
const contributionNotes: Readonly<Record<string, string>> = {
  securityOpt:
    "securityOpt (ignored: seccomp/AppArmor options configure Docker's host; the zone's kernel is the boundary)",
  init: "init (ignored: the zone's init already reaps processes)",
  hostRequirements: "hostRequirements (ignored: devcontainer.json's own decide the zone's size)",
  customizations: "customizations (for the tools that read them)",
};

// Keys a translator answers for even when it writes no row (an empty workspaceMount value, say).
const translatedKeys = new Set(["workspaceMount"]);
