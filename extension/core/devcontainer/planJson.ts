import { toJson } from "@bufbuild/protobuf";
import type { JsonObject } from "@bufbuild/protobuf";
import {
  OciImageFormat,
  WorkloadSpecSchema,
  ZoneSpecSchema,
} from "../../proto/gen/protect/control/v1/common_pb";
import type { ComposePlan, ServiceBuild } from "../compose/composePlan";
import type { Diagnostic } from "./diagnostics";
import { displayCommand } from "./hooks";
import type { HookName, HookWhen } from "./hooks";
import type { ImageBuild, LaunchPlan, PortForward, PropertyVerdict, RemoteEnvVar } from "./plan";

/**
 * The stable JSON form of a LaunchPlan: what `zonectl plan --json` prints. Keys always appear
 * in this order; optional values are omitted, never null (except remoteEnv values, where null
 * means "unset"). `zoneSpec` and `workloadSpec` are the proto3 JSON mapping of the messages
 * (camelCase fields, uint64 as decimal strings, enums by their full names, default values
 * omitted). A change that breaks a consumer bumps `version`.
 */
export interface LaunchPlanJson {
  version: 1;
  launchable: boolean;
  /** One sentence per reason the plan cannot be launched (empty when launchable). */
  refusals: string[];
  configFile: string;
  localFolder: string;
  /** 52 characters, base-32 (0-9a-v). */
  devcontainerId: string;
  idLabels: Record<string, string>;
  displayName?: string;
  zoneName: string;
  workloadName: string;
  images: Array<{ role: "workload" | "kernel" | "initrd"; reference: string; format: string; fills: string }>;
  /** The image built before launch, when there is one (features, a Dockerfile). */
  build?: {
    base:
      | { kind: "image"; reference: string }
      | {
          kind: "dockerfile";
          dockerfile: string;
          context: string;
          args: Record<string, string>;
          target?: string;
          cacheFrom: string[];
          options: string[];
        };
    features: Array<{ userId: string; value: unknown }>;
    overrideInstallOrder: string[];
    lockfile: string;
    repository: string;
    builder?: string;
    push?: string;
  };
  /** What the image's metadata added (known once the image is). */
  imageContributions: Array<{ origin: string; properties: string[] }>;
  /** protect.control.v1.ZoneSpec, proto3 JSON. */
  zoneSpec: JsonObject;
  /** protect.control.v1.WorkloadSpec, proto3 JSON. */
  workloadSpec: JsonObject;
  fillAtLaunch: Array<{ field: string; from: string }>;
  deviceRequests: Array<{
    kind: "gpu";
    optional: boolean;
    cores?: number;
    memoryMiB?: number;
    source: string;
  }>;
  sync: {
    localFolder: string;
    hostPath: string;
    targetPath: string;
    exclude: string[];
    respectGitignore: boolean;
  };
  volumes: Array<{ name: string; hostPath: string; target: string }>;
  hooks: Array<{
    hook: HookName;
    runsOn: "local" | "workload";
    when: HookWhen;
    parallel: boolean;
    workingDirectory: string;
    /** Set for hooks from image metadata: `feature <id>`, `the base image`. */
    origin?: string;
    commands: Array<{ label?: string; argv: string[]; shell: boolean; display: string }>;
  }>;
  waitFor: HookName;
  remote: { user?: string; workingDirectory: string; env: RemoteEnvVar[] };
  forwards: PortForward[];
  shutdownAction: "none" | "stopWorkload";
  connection?: { socketPath?: string; bridge?: string[] };
  /** Compose projects only: the dev service's siblings (each workloadSpec as proto3 JSON) and how they start. */
  compose?: JsonObject;
  properties: Array<
    Pick<PropertyVerdict, "property" | "status" | "detail" | "line" | "column"> & {
      path: Array<string | number>;
    }
  >;
  diagnostics: Diagnostic[];
}

/** Renders a plan as its stable JSON value (see LaunchPlanJson). */
export function planToJson(plan: LaunchPlan): LaunchPlanJson {
  return {
    version: plan.version,
    launchable: plan.launchable,
    refusals: [...plan.refusals],
    configFile: plan.configFile,
    localFolder: plan.localFolder,
    devcontainerId: plan.devcontainerId,
    idLabels: { ...plan.idLabels },
    ...(plan.displayName !== undefined ? { displayName: plan.displayName } : {}),
    zoneName: plan.zoneName,
    workloadName: plan.workloadName,
    images: plan.images.map((i) => ({
      role: i.role,
      reference: i.reference,
      format: `OCI_IMAGE_FORMAT_${OciImageFormat[i.format]}`,
      fills: i.fills,
    })),
    ...(plan.build ? { build: imageBuildJson(plan.build) } : {}),
    imageContributions: plan.imageContributions.map((c) => ({
      origin: c.origin,
      properties: [...c.properties],
    })),
    zoneSpec: toJson(ZoneSpecSchema, plan.zoneSpec) as JsonObject,
    workloadSpec: toJson(WorkloadSpecSchema, plan.workloadSpec) as JsonObject,
    fillAtLaunch: plan.fillAtLaunch.map((f) => ({ field: f.field, from: f.from })),
    deviceRequests: plan.deviceRequests.map((d) => ({
      kind: d.kind,
      optional: d.optional,
      ...(d.cores !== undefined ? { cores: d.cores } : {}),
      ...(d.memoryMiB !== undefined ? { memoryMiB: d.memoryMiB } : {}),
      source: d.source,
    })),
    sync: {
      localFolder: plan.sync.localFolder,
      hostPath: plan.sync.hostPath,
      targetPath: plan.sync.targetPath,
      exclude: [...plan.sync.exclude],
      respectGitignore: plan.sync.respectGitignore,
    },
    volumes: plan.volumes.map((v) => ({ name: v.name, hostPath: v.hostPath, target: v.target })),
    hooks: plan.hooks.map((h) => ({
      hook: h.hook,
      runsOn: h.runsOn,
      when: h.when,
      parallel: h.parallel,
      workingDirectory: h.workingDirectory,
      ...(h.origin !== undefined ? { origin: h.origin } : {}),
      commands: h.commands.map((c) => ({
        ...(c.label !== undefined ? { label: c.label } : {}),
        argv: [...c.argv],
        shell: c.shell,
        display: displayCommand(c),
      })),
    })),
    waitFor: plan.waitFor,
    remote: {
      ...(plan.remote.user !== undefined ? { user: plan.remote.user } : {}),
      workingDirectory: plan.remote.workingDirectory,
      env: plan.remote.env.map((e) => ({ name: e.name, value: e.value, deferred: e.deferred })),
    },
    forwards: plan.forwards.map((f) => ({
      containerPort: f.containerPort,
      localPort: f.localPort,
      ...(f.localAddress !== undefined ? { localAddress: f.localAddress } : {}),
      ...(f.label !== undefined ? { label: f.label } : {}),
      ...(f.protocol !== undefined ? { protocol: f.protocol } : {}),
      ...(f.onAutoForward !== undefined ? { onAutoForward: f.onAutoForward } : {}),
      ...(f.requireLocalPort !== undefined ? { requireLocalPort: f.requireLocalPort } : {}),
      ...(f.elevateIfNeeded !== undefined ? { elevateIfNeeded: f.elevateIfNeeded } : {}),
      source: f.source,
    })),
    shutdownAction: plan.shutdownAction,
    ...(plan.connection
      ? {
          connection: {
            ...(plan.connection.socketPath !== undefined ? { socketPath: plan.connection.socketPath } : {}),
            ...(plan.connection.bridge !== undefined ? { bridge: [...plan.connection.bridge] } : {}),
          },
        }
      : {}),
    ...(plan.compose ? { compose: composeJson(plan.compose) } : {}),
    properties: plan.properties.map((p) => ({
      property: p.property,
      path: [...p.path],
      status: p.status,
      detail: p.detail,
      line: p.line,
      column: p.column,
    })),
    diagnostics: plan.diagnostics.map((d) => ({ ...d, path: [...d.path] })),
  };
}

function imageBuildJson(build: ImageBuild): NonNullable<LaunchPlanJson["build"]> {
  const b = build.base;
  return {
    base:
      b.kind === "image"
        ? { kind: "image", reference: b.reference }
        : {
            kind: "dockerfile",
            dockerfile: b.dockerfile,
            context: b.context,
            args: { ...b.args },
            ...(b.target !== undefined ? { target: b.target } : {}),
            cacheFrom: [...b.cacheFrom],
            options: [...b.options],
          },
    features: build.features.map((f) => ({ userId: f.userId, value: f.value })),
    overrideInstallOrder: [...build.overrideInstallOrder],
    lockfile: build.lockfile,
    repository: build.repository,
    ...(build.builder !== undefined ? { builder: build.builder } : {}),
    ...(build.push !== undefined ? { push: build.push } : {}),
  };
}

function composeJson(compose: ComposePlan): JsonObject {
  return {
    project: compose.project,
    files: [...compose.files],
    devService: compose.devService,
    devDependsOn: compose.devDependsOn.map((d) => ({ ...d })),
    devPrependImageEntrypoint: compose.devPrependImageEntrypoint,
    ...(compose.devBuild ? { devBuild: buildJson(compose.devBuild) } : {}),
    services: compose.services.map((s) => ({
      name: s.name,
      image: { reference: s.image.reference, format: OciImageFormat[s.image.format] },
      ...(s.build ? { build: buildJson(s.build) } : {}),
      workloadSpec: toJson(WorkloadSpecSchema, s.workloadSpec) as JsonObject,
      dependsOn: s.dependsOn.map((d) => ({ ...d })),
      ...(s.healthcheck ? { healthcheck: { ...s.healthcheck, argv: [...s.healthcheck.argv] } } : {}),
      volumes: s.volumes.map((v) => ({ ...v })),
      prependImageEntrypoint: s.prependImageEntrypoint ?? false,
    })),
    hostsFile: { ...compose.hostsFile },
  };
}

function buildJson(b: ServiceBuild): JsonObject {
  return {
    context: b.context,
    dockerfile: b.dockerfile,
    args: { ...b.args },
    ...(b.target !== undefined ? { target: b.target } : {}),
    cacheFrom: [...b.cacheFrom],
  };
}
