import type { MessageInitShape } from "@bufbuild/protobuf";
import { posix } from "node:path";
import { ProcessNamespace } from "../../../proto/gen/protect/control/v1/common_pb";
import type { MountSpecSchema, WorkloadSpecSchema } from "../../../proto/gen/protect/control/v1/common_pb";
import type { ComposePlan } from "../../compose/composePlan";
import type { ComposeProject } from "../../compose/model";
import { composeToPlan } from "../../compose/toPlan";
import type { BuildBase, HostVolume, ImagePull, PortForward } from "../plan";
import { has } from "./context";
import type { Row, TranslateContext, Translation } from "./context";
import type { ImagePart } from "./image";
import type { PortsPart } from "./ports";
import type { StoragePart } from "./storage";
import type { WorkloadPart } from "./workload";
import { capabilityName, userSpec } from "./workload";

/** What the planner's caller read of the Compose files (`loadComposeProject`). */
export interface ComposeInput {
  /** Undefined when the files could not be read: the caller reported that as located errors. */
  readonly project: ComposeProject | undefined;
}

/** The fields of a WorkloadSpec init the dev service decides (name, zone and annotations stay the planner's). */
type WorkloadFields = Pick<
  Exclude<MessageInitShape<typeof WorkloadSpecSchema>, { $typeName: string }>,
  "image" | "process" | "mounts" | "security" | "scratchMount"
>;

/** The Compose part of a plan: the dev service's workload, replacing the single-container one, and its siblings. */
export interface ComposePart extends Translation {
  readonly plan: ComposePlan | undefined;
  /** Replacements for the single-container parts, when this is a Compose project. */
  readonly overrides:
    | {
        readonly images: readonly ImagePull[];
        readonly workload: WorkloadFields;
        readonly volumes: readonly HostVolume[];
        readonly forwards: readonly PortForward[];
      }
    | undefined;
  /** What the dev service's image is built from when it has build: or features: its Dockerfile, or its image. */
  readonly devBase: BuildBase | undefined;
}

/**
 * `dockerComposeFile`, `service`, `runServices`: the dev service becomes the plan's workload
 * (its image, command, environment and volumes from the Compose file; containerEnv,
 * containerUser, mounts, features and hooks of the devcontainer.json on top), the other selected
 * services sibling workloads in the same zone (plan.compose).
 */
export function translateCompose(
  ctx: TranslateContext,
  parts: {
    image: ImagePart;
    storage: StoragePart;
    workload: WorkloadPart;
    ports: PortsPart;
    zoneName: string;
    /** The zone's annotations; every service's workload carries them (the devcontainer id among them). */
    annotations: ReadonlyArray<readonly [string, string]>;
  },
): ComposePart {
  const rows: Row[] = [];
  const refusals: string[] = [];
  const c = ctx.config;
  if (!has(ctx, "dockerComposeFile")) {
    for (const key of ["service", "runServices"])
      if (has(ctx, key))
        rows.push({ path: [key], status: "ignored", detail: "only meaningful with dockerComposeFile" });
    return { rows, refusals, plan: undefined, overrides: undefined, devBase: undefined };
  }
  const service = c.service;
  if (ctx.compose === undefined && service !== undefined) {
    // The caller did not read the Compose files (the editor's live checks): nothing to judge yet.
    rows.push({
      path: ["dockerComposeFile"],
      status: "translated",
      detail: "a Compose project, read when a launch is planned",
    });
    for (const key of ["service", "runServices"])
      if (has(ctx, key))
        rows.push({ path: [key], status: "translated", detail: "a Compose service to start" });
    refusals.push("dockerComposeFile: the Compose files were not read, so there is nothing to launch yet");
    return { rows, refusals, plan: undefined, overrides: undefined, devBase: undefined };
  }
  const project = ctx.compose?.project;
  if (!project || service === undefined) {
    rows.push({
      path: ["dockerComposeFile"],
      status: "refused",
      detail:
        service === undefined
          ? '"service" names the dev service and is required with dockerComposeFile'
          : "the Compose files could not be read",
    });
    return { rows, refusals, plan: undefined, overrides: undefined, devBase: undefined };
  }
  const t = composeToPlan({
    project,
    devService: service,
    runServices: c.runServices,
    localFolder: ctx.localFolder,
    hostWorkspacePath: ctx.hostWorkspacePath,
    volumeRoot: ctx.volumeRoot,
    zoneName: parts.zoneName,
    imageFormat: parts.image.workloadFormat,
    annotations: parts.annotations,
  });
  rows.push({
    path: ["dockerComposeFile"],
    status: t.refusals.length ? "refused" : "translated",
    detail: t.refusals.length
      ? t.refusals.join("; ")
      : `${t.summary}${t.notes.length ? `. ${t.notes.join("; ")}` : ""}`,
  });
  if (has(ctx, "service"))
    rows.push({
      path: ["service"],
      status: t.dev ? "translated" : "refused",
      detail: t.dev
        ? `dev service "${service}": the zone's main workload, with the devcontainer's features and hooks`
        : `no service "${service}"`,
    });
  if (has(ctx, "runServices"))
    rows.push({
      path: ["runServices"],
      status: "translated",
      detail: `started: ${[service, ...(c.runServices ?? [])].join(", ")} and their dependencies`,
    });
  const dev = t.dev;
  if (!dev || !t.plan) return { rows, refusals, plan: undefined, overrides: undefined, devBase: undefined };
  // A dev service with build: is built here like a devcontainer.json Dockerfile (the features go
  // on top); one with features on its image too. Sibling services' build: happen at launch.
  const devBase: BuildBase | undefined = dev.build
    ? {
        kind: "dockerfile",
        dockerfile: posix.resolve(dev.build.context, dev.build.dockerfile),
        context: dev.build.context,
        args: dev.build.args,
        target: dev.build.target,
        cacheFrom: dev.build.cacheFrom,
        options: [],
      }
    : dev.image !== undefined
      ? { kind: "image", reference: dev.image }
      : undefined;
  const devBuilt = dev.build !== undefined || Object.keys(c.features ?? {}).length > 0;

  // The devcontainer.json applies on top of the dev service, as the reference tool's override file does.
  const w = parts.workload;
  const overrideCommand = c.overrideCommand ?? false;
  const env = new Map<string, string>(dev.environment.map(([k, v]) => [k, v]));
  for (const e of w.process.environment) env.set(e.key, e.value);
  const userFromCompose =
    c.containerUser === undefined && dev.user !== undefined ? userSpec(dev.user) : undefined;
  const storageMounts = parts.storage.mounts.slice(1); // [0] is the single-container workspace mount
  const projectMount: Array<MessageInitShape<typeof MountSpecSchema>> =
    dev.projectTarget === undefined && ctx.workspaceFolder !== "/"
      ? [{ hostPath: ctx.hostWorkspacePath, targetPath: ctx.workspaceFolder }]
      : [];
  const images: ImagePull[] =
    dev.image && !devBuilt
      ? [
          {
            role: "workload",
            reference: dev.image,
            format: parts.image.workloadFormat,
            fills: "workloadSpec.image",
          },
        ]
      : [];
  const workload: WorkloadFields = {
    image: { digest: "", format: parts.image.workloadFormat },
    process: {
      ...w.process,
      environment: [...env].map(([key, value]) => ({ key, value })),
      command: overrideCommand ? [...w.process.command] : [...dev.command],
      workingDirectory: dev.workingDir ?? (ctx.workspaceFolder === "/" ? "" : ctx.workspaceFolder),
      ...(userFromCompose
        ? { user: userFromCompose.user, ...(userFromCompose.group ? { group: userFromCompose.group } : {}) }
        : {}),
    },
    mounts: [...projectMount, ...dev.mounts, ...storageMounts],
    security: {
      privileged: w.security.privileged || dev.privileged,
      raiseCapabilities: [...new Set([...w.security.raiseCapabilities, ...dev.capAdd.map(capabilityName)])],
      dropCapabilities: [...new Set([...w.security.dropCapabilities, ...dev.capDrop.map(capabilityName)])],
      disableNamespaces: [ProcessNamespace.NET],
    },
    scratchMount: [...new Set([...parts.storage.scratch, ...dev.scratch])].map((path) => ({ path })),
  };
  const forwards = [...parts.ports.forwards];
  for (const f of dev.forwards)
    if (!forwards.some((x) => x.containerPort === f.containerPort && x.localPort === f.localPort))
      forwards.push(f);
  const plan: ComposePlan = {
    ...t.plan,
    devPrependImageEntrypoint: !overrideCommand && dev.prependImageEntrypoint,
  };
  const volumes = [...parts.storage.volumes, ...dev.volumes];
  return { rows, refusals, plan, overrides: { images, workload, volumes, forwards }, devBase };
}

/** The Compose files a devcontainer.json names, absolute, in order (relative to the file's folder). */
export function composeFilesOf(configFile: string, dockerComposeFile: string | readonly string[]): string[] {
  const list = typeof dockerComposeFile === "string" ? [dockerComposeFile] : [...dockerComposeFile];
  return list.map((f) => posix.resolve(posix.dirname(configFile), f));
}
