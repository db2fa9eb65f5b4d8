import { create } from "@bufbuild/protobuf";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { posix } from "node:path";
import { ProcessNamespace, WorkloadSpecSchema } from "../../proto/gen/protect/control/v1/common_pb";
import type { MountSpecSchema, OciImageFormat } from "../../proto/gen/protect/control/v1/common_pb";
import type { HostVolume, PortForward } from "../devcontainer/plan";
import { composeServiceAnnotation } from "./composePlan";
import type {
  ComposePlan,
  ServiceBuild,
  ServiceDependency,
  ServiceHealthcheck,
  ServicePlan,
} from "./composePlan";
import type { ComposeMount, ComposeProject, ComposeService } from "./model";
import { selectServices } from "./select";

type MountInit = MessageInitShape<typeof MountSpecSchema>;

export interface ComposeTranslateInput {
  readonly project: ComposeProject;
  readonly devService: string;
  readonly runServices: readonly string[] | undefined;
  readonly localFolder: string;
  readonly hostWorkspacePath: string;
  readonly volumeRoot: string;
  readonly zoneName: string;
  readonly imageFormat: OciImageFormat;
  /** Annotations every workload of the zone carries (the devcontainer id among them). */
  readonly annotations: ReadonlyArray<readonly [string, string]>;
}

/** What the dev service contributes to the plan's own workload. */
export interface DevServicePart {
  /** The image to pull; undefined when it is built (`build`). */
  readonly image: string | undefined;
  readonly build: ServiceBuild | undefined;
  /** `entrypoint` + `command` as known now; see `prependImageEntrypoint`. Empty: the image's own. */
  readonly command: readonly string[];
  /** Only `command:` was given: the image's Entrypoint goes before it, known once the image is pulled. */
  readonly prependImageEntrypoint: boolean;
  readonly environment: ReadonlyArray<readonly [string, string]>;
  readonly user: string | undefined;
  readonly workingDir: string | undefined;
  readonly mounts: readonly MountInit[];
  readonly volumes: readonly HostVolume[];
  readonly scratch: readonly string[];
  /** Where the project folder appears in the dev service (a bind of the project, or one of its ancestors). */
  readonly projectTarget: string | undefined;
  readonly capAdd: readonly string[];
  readonly capDrop: readonly string[];
  readonly privileged: boolean;
  readonly forwards: readonly PortForward[];
}

export interface ComposeTranslation {
  readonly plan: ComposePlan | undefined;
  readonly dev: DevServicePart | undefined;
  /** One sentence per reason the project cannot launch. */
  readonly refusals: readonly string[];
  /** Things that work differently in a zone, said once each. */
  readonly notes: readonly string[];
  /** The property-table detail for dockerComposeFile. */
  readonly summary: string;
}

/** Host folder holding a Compose zone's hosts file, beside the workspace copy. */
export function composeHostFolder(hostWorkspacePath: string): string {
  return `${hostWorkspacePath}.compose`;
}

/**
 * Turns a Compose project into the dev service's part of the plan and the sibling services.
 * Pure. Refusals: an unknown `service`, two services claiming one port (they share the zone's
 * network, so the second could not listen), external volumes, `network_mode: host`/`none` on
 * a service that has to reach the others.
 */
export function composeToPlan(input: ComposeTranslateInput): ComposeTranslation {
  const { project } = input;
  const refusals: string[] = [];
  const notes: string[] = [];
  const selection = selectServices(project, input.devService, input.runServices);
  for (const name of selection.unknown)
    refusals.push(
      `service "${name}" is not defined in ${project.files.map((f) => posix.basename(f)).join(", ")} (services: ${[...project.services.keys()].join(", ")})`,
    );
  if (selection.unknown.length)
    return { plan: undefined, dev: undefined, refusals, notes, summary: "see the refusals" };

  // One network namespace for the whole zone: two services listening on one port cannot both run.
  const claims = new Map<string, string>();
  for (const service of selection.ordered) {
    const ports = new Set([
      ...service.ports.map((p) => `${p.target}/${p.protocol}`),
      ...service.expose.map((p) => `${p}/tcp`),
    ]);
    for (const port of ports) {
      const other = claims.get(port);
      if (other)
        refusals.push(
          `services "${other}" and "${service.name}" both claim port ${port}; in a zone they share one network, so only one of them can listen on it`,
        );
      else claims.set(port, service.name);
    }
  }
  const publishedBy = new Map<string, string>();
  for (const service of selection.ordered)
    for (const p of service.ports) {
      if (p.published === undefined) continue;
      const key = `${p.published}/${p.protocol}`;
      const other = publishedBy.get(key);
      if (other && other !== service.name)
        refusals.push(`services "${other}" and "${service.name}" both publish port ${key} on your machine`);
      else publishedBy.set(key, service.name);
    }

  const hostFolder = composeHostFolder(input.hostWorkspacePath);
  const hostsPath = posix.join(hostFolder, "hosts");
  const names = new Set<string>();
  for (const s of selection.ordered) for (const n of [s.name, ...s.aliases]) names.add(n);
  const extra = selection.ordered.flatMap((s) => s.extraHosts.map(([h, ip]) => `${ip}\t${h}`));
  const hostsContent = [
    "127.0.0.1\tlocalhost",
    "::1\tlocalhost ip6-localhost ip6-loopback",
    `127.0.0.1\t${input.zoneName} ${[...names].join(" ")}`,
    ...extra,
    "",
  ].join("\n");

  const forwards: PortForward[] = [];
  const services: ServicePlan[] = [];
  let dev: DevServicePart | undefined;
  for (const service of selection.ordered) {
    for (const v of service.mounts)
      if (v.type === "volume" && v.source && project.volumes.get(v.source)?.external)
        refusals.push(
          `service "${service.name}" mounts external volume "${v.source}", which Compose expects to exist already; a zone host has no such volume: drop "external: true" to let it be created`,
        );
    if (service.networkMode === "host" || service.networkMode === "none")
      notes.push(
        `service "${service.name}": network_mode ${service.networkMode} becomes the zone's network, shared by every service`,
      );
    const storage = mapMounts(service, input, project.name);
    for (const n of storage.notes) notes.push(`service "${service.name}": ${n}`);
    const commandParts = commandOf(service);
    for (const p of service.ports)
      forwards.push({
        containerPort: p.target,
        localPort: p.published ?? p.target,
        ...(p.hostIp && p.hostIp !== "0.0.0.0" ? { localAddress: p.hostIp } : {}),
        label: service.name,
        source: `${service.name}.ports`,
      });
    const build = buildOf(service);
    if (service.name === input.devService) {
      dev = {
        image: build ? undefined : service.image,
        build,
        command: commandParts.command,
        prependImageEntrypoint: commandParts.prependImageEntrypoint,
        environment: service.environment,
        user: service.user,
        workingDir: service.workingDir,
        mounts: [...storage.mounts, { hostPath: hostsPath, targetPath: "/etc/hosts" }],
        volumes: storage.volumes,
        scratch: storage.scratch,
        projectTarget: storage.projectTarget,
        capAdd: service.capAdd,
        capDrop: service.capDrop,
        privileged: service.privileged,
        forwards: [],
      };
      continue;
    }
    const workloadName = `${input.zoneName}-${service.name}`.slice(0, 63).replace(/-+$/, "");
    const workloadSpec = create(WorkloadSpecSchema, {
      name: workloadName,
      zoneId: "",
      image: { digest: "", format: input.imageFormat },
      process: {
        environment: service.environment.map(([key, value]) => ({ key, value })),
        command: [...commandParts.command],
        workingDirectory: service.workingDir ?? "",
        tty: service.tty,
        stdin: service.stdinOpen,
        stdout: true,
        stderr: true,
        ...(service.user !== undefined ? userSpecOf(service.user) : {}),
      },
      annotations: [...input.annotations, [composeServiceAnnotation, service.name] as const].map(
        ([key, value]) => ({
          key,
          value,
        }),
      ),
      mounts: [...storage.mounts, { hostPath: hostsPath, targetPath: "/etc/hosts" }],
      security: {
        privileged: service.privileged,
        raiseCapabilities: service.capAdd.map(capabilityName),
        dropCapabilities: service.capDrop.map(capabilityName),
        // Said explicitly: the services of a zone share its network namespace (localhost, one port space).
        disableNamespaces: [ProcessNamespace.NET],
        readOnlyRootfs: service.readOnly,
      },
      scratchMount: storage.scratch.map((path) => ({ path })),
    });
    services.push({
      name: service.name,
      image: { reference: service.image ?? `${project.name}-${service.name}`, format: input.imageFormat },
      build,
      workloadSpec,
      dependsOn: dependenciesOf(service, selection.ordered),
      healthcheck: healthcheckOf(service),
      volumes: storage.volumes,
      ...(commandParts.prependImageEntrypoint ? { prependImageEntrypoint: true } : {}),
    });
  }
  const devService = project.services.get(input.devService)!;
  dev = dev ? { ...dev, forwards } : undefined;
  for (const s of selection.ordered)
    for (const d of s.dependsOn)
      if (d.condition === "service_healthy") {
        const target = project.services.get(d.service);
        if (target && (!target.healthcheck || target.healthcheck.disabled || !target.healthcheck.test))
          refusals.push(
            `service "${s.name}" waits for "${d.service}" to be healthy, but "${d.service}" declares no healthcheck test (an image's own HEALTHCHECK is not read): add healthcheck.test to it`,
          );
      }
  const plan: ComposePlan = {
    project: project.name,
    files: project.files,
    devService: input.devService,
    devDependsOn: dependenciesOf(devService, selection.ordered),
    devBuild: dev?.build,
    devPrependImageEntrypoint: dev?.prependImageEntrypoint ?? false,
    services,
    hostsFile: { hostPath: hostsPath, content: hostsContent },
  };
  const others = services.map((s) => s.name);
  const summary = `project ${project.name}: dev service "${input.devService}"${others.length ? ` with ${others.join(", ")} as sibling workloads in the zone (one network: each reaches the others by name and on localhost)` : ""}${selection.pulledIn.length ? `; ${selection.pulledIn.join(", ")} started as dependencies` : ""}`;
  return { plan, dev, refusals, notes, summary };
}

/** Compose's argv rules: an entrypoint replaces the image's (and drops its Cmd); a command alone follows the image's entrypoint. */
function commandOf(service: ComposeService): { command: string[]; prependImageEntrypoint: boolean } {
  if (service.entrypoint !== undefined)
    return { command: [...service.entrypoint, ...(service.command ?? [])], prependImageEntrypoint: false };
  if (service.command !== undefined && service.command.length)
    return { command: [...service.command], prependImageEntrypoint: true };
  return { command: [], prependImageEntrypoint: false };
}

function buildOf(service: ComposeService): ServiceBuild | undefined {
  const b = service.build;
  if (!b) return undefined;
  const args: Record<string, string> = {};
  for (const [k, v] of b.args) if (v !== undefined) args[k] = v;
  return { context: b.context, dockerfile: b.dockerfile, args, target: b.target, cacheFrom: b.cacheFrom };
}

function dependenciesOf(service: ComposeService, selected: readonly ComposeService[]): ServiceDependency[] {
  return service.dependsOn
    .filter((d) => selected.some((s) => s.name === d.service))
    .map((d) => ({ service: d.service, condition: d.condition, required: d.required }));
}

function healthcheckOf(service: ComposeService): ServiceHealthcheck | undefined {
  const h = service.healthcheck;
  if (!h || h.disabled || !h.test) return undefined;
  return {
    argv: h.test,
    display: h.display,
    intervalMs: h.intervalMs,
    timeoutMs: h.timeoutMs,
    retries: h.retries,
    startPeriodMs: h.startPeriodMs,
    startIntervalMs: h.startIntervalMs,
  };
}

interface MappedStorage {
  mounts: MountInit[];
  volumes: HostVolume[];
  scratch: string[];
  projectTarget: string | undefined;
  notes: string[];
}

/**
 * A service's volumes in a zone: binds of the project folder (or of a folder above it, as the
 * templates' `../..:/workspaces` do) become the synced workspace copy; named volumes persist as
 * `<volumeRoot>/<project>_<name>`; anonymous volumes and tmpfs are scratch space; binds of
 * other paths on this machine cannot reach the host and are left out with a note.
 */
function mapMounts(service: ComposeService, input: ComposeTranslateInput, project: string): MappedStorage {
  const out: MappedStorage = { mounts: [], volumes: [], scratch: [], projectTarget: undefined, notes: [] };
  const add = (m: ComposeMount): void => {
    if (m.type === "tmpfs" || (m.type === "volume" && !m.source)) {
      out.scratch.push(m.target);
      return;
    }
    if (m.type === "volume") {
      const name = `${project}_${m.source!}`;
      const hostPath = posix.join(input.volumeRoot, name);
      if (!out.volumes.some((v) => v.name === name && v.target === m.target))
        out.volumes.push({ name, hostPath, target: m.target });
      out.mounts.push({ hostPath, targetPath: m.target });
      return;
    }
    const source = m.source!;
    const fromProject = posix.relative(input.localFolder, source);
    if (fromProject === "" || (!fromProject.startsWith("..") && !posix.isAbsolute(fromProject))) {
      out.mounts.push({
        hostPath: fromProject ? posix.join(input.hostWorkspacePath, fromProject) : input.hostWorkspacePath,
        targetPath: m.target,
      });
      if (!fromProject) out.projectTarget ??= m.target;
      return;
    }
    const projectInside = posix.relative(source, input.localFolder);
    if (!projectInside.startsWith("..") && !posix.isAbsolute(projectInside)) {
      // A folder above the project: only the project itself is synced, at its place below the target.
      const target = posix.join(m.target, projectInside);
      out.mounts.push({ hostPath: input.hostWorkspacePath, targetPath: target });
      out.projectTarget ??= target;
      out.notes.push(
        `${source}:${m.target} holds the project; only the project folder is synced, at ${target}`,
      );
      return;
    }
    out.notes.push(
      `bind mount of ${source} left out: that path is on your machine, and the zone runs on the host; only the project folder is synced`,
    );
  };
  for (const m of service.mounts) add(m);
  for (const t of service.tmpfs) out.scratch.push(t);
  return out;
}

function capabilityName(cap: string): string {
  const upper = cap.trim().toUpperCase();
  if (upper === "ALL") return upper;
  return upper.startsWith("CAP_") ? upper : `CAP_${upper}`;
}

function userSpecOf(text: string): Record<string, unknown> {
  const [user = "", group] = text.split(":");
  const one = (v: string) =>
    /^\d+$/.test(v)
      ? { idOrName: { case: "id" as const, value: Number(v) } }
      : { idOrName: { case: "name" as const, value: v } };
  return group ? { user: one(user), group: one(group) } : { user: one(user) };
}
