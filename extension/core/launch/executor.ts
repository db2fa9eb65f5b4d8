import { clone, create } from "@bufbuild/protobuf";
import { isAbortError } from "../abort";
import { messageOf } from "../errors";
import { Emitter } from "../events";
import type { Event } from "../events";
import { displayCommand } from "../devcontainer/hooks";
import type { HookCommand, HookStep, WorkloadHookName } from "../devcontainer/hooks";
import type { LaunchImage, LaunchPlan } from "../devcontainer/plan";
import { ForwardError } from "../forward/errors";
import { ForwardSet, PortForward } from "../forward/portForward";
import type { Logger } from "../log";
import { silentLogger } from "../log";
import { ProtectError } from "../protect/errors";
import { zoneView } from "../protect/views";
import { workloadStateName, zoneStateName } from "../protect/zoneFacts";
import { SshError } from "../ssh/errors";
import {
  AnnotationSpecSchema,
  DeviceReferenceSpecSchema,
  WorkloadSpecSchema,
  WorkloadState,
  ZoneSpecSchema,
  ZoneState,
} from "../../proto/gen/protect/control/v1/common_pb";
import type {
  OciImageFormat,
  Workload,
  WorkloadSpec,
  Zone,
  ZoneSpec,
} from "../../proto/gen/protect/control/v1/common_pb";
import { BuildError } from "../build/buildError";
import { launchImageOf } from "../build/imageConfig";
import { ImagePreparation, buildTargetOf, prepareImage } from "../build/prepare";
import type { PreparationOptions, PreparedImage } from "../build/prepare";
import { LaunchError } from "./errors";
import type { LaunchErrorReason } from "./errors";
import { launchSteps } from "./events";
import type { LaunchEvent, LaunchStep, StepTiming } from "./events";
import { launchAnnotationKeys, workloadsOfDevcontainer, zonesOfDevcontainer } from "./existing";
import type { HostFiles } from "./hostFiles";
import type { LaunchHost, PulledImage } from "./launchHost";
import { startServices, waitDependencies } from "./composeServices";
import type { ServicesRun } from "./composeServices";
import type { ComposePlan, ServicePlan } from "../compose/composePlan";
import { posix } from "node:path";
import { spawnLocal } from "./localRunner";
import type { LocalRunner } from "./localRunner";
import { formatBytes } from "../format";
import { readWorkloadEnv, resolveRemoteEnv } from "./remoteEnv";
import type { ForwardRoute } from "../protect/callOptions";
import { ensureHostDirectory, pushWorkspace, removeHostTree } from "./workspaceSync";
import type { SyncResult } from "./workspaceSync";

/** Options of a launch. */
export interface LaunchOptions {
  /** Ctrl-C: stops the current step and rolls back what this launch created. */
  readonly signal?: AbortSignal;
  /** Destroy an existing zone of this devcontainer and create a new one. */
  readonly recreate?: boolean;
  /** Leave what was created in place when the launch fails (to look at it). */
  readonly keepOnFailure?: boolean;
  /** A terminal attaches right after: run postAttachCommand. */
  readonly attach?: boolean;
  /** Open the plan's port forwards (the caller keeps running and closes them). */
  readonly forwardPorts?: boolean;
  /** How the forwards reach the zone: DialNetworkSocket (default) or an SSH channel to its IP. */
  readonly forwardRoute?: ForwardRoute;
  /** How long a zone may take to become READY. Default 180 s. */
  readonly zoneTimeoutMs?: number;
  /** How long a workload may take to run. Default 120 s. */
  readonly workloadTimeoutMs?: number;
  /** Runs initializeCommand here. Default: spawn without a shell. */
  readonly runLocal?: LocalRunner;
  /** The environment of initializeCommand. Default process.env. */
  readonly localEnv?: Readonly<Record<string, string | undefined>>;
  /**
   * How a plan's `build` is built and delivered (builder, push registry, storage, environment);
   * needed when the plan has one.
   */
  readonly build?: Omit<
    PreparationOptions,
    "signal" | "logger" | "onOutput" | "onImportProgress" | "onWarning"
  >;
  /**
   * Makes the plan again once the workload image is known, with its devcontainer.metadata
   * (features' privileges, mounts, hooks, entrypoints). Without it the plan stays as it is.
   */
  readonly replan?: (image: LaunchImage) => LaunchPlan;
  readonly logger?: Logger;
}

/** What a finished launch made, and how long each step took. */
export interface LaunchResult {
  readonly zoneId: string;
  readonly zoneName: string;
  readonly workloadId: string;
  readonly workloadName: string;
  /** The zone existed before this launch (found by its devcontainer id annotation). */
  readonly reusedZone: boolean;
  /** The workload was created by this launch: the first-launch hooks ran. */
  readonly firstLaunch: boolean;
  /** The workspace copy on the host. */
  readonly hostPath: string;
  /** Where the workspace is inside the workload. */
  readonly workspaceFolder: string;
  /** User and environment for terminals (remoteUser, remoteEnv resolved). */
  readonly remoteUser: string | undefined;
  readonly remoteEnv: Readonly<Record<string, string>>;
  /** Open forwards when `forwardPorts` was set; the caller closes them. */
  readonly forwards: ForwardSet | undefined;
  readonly sync: SyncResult | undefined;
  readonly timings: readonly StepTiming[];
  readonly totalMs: number;
}

/** A step that does not apply this time, and why. */
class Skip {
  constructor(readonly reason: string) {}
}

/** What a step body returns: skipped, done (with what it did), or done with nothing to say. */
type StepOutcome = Skip | { readonly detail?: string } | undefined;

/** The workload image as the workload spec takes it. */
interface WorkloadImage {
  readonly digest: string;
  readonly format: OciImageFormat;
  /** A Compose dev service that gave only `command:` runs it after this. */
  readonly entrypoint?: readonly string[];
}

/** What the steps learn and hand on, filled in launch order. */
interface LaunchState {
  knownZoneIds: ReadonlySet<string>;
  /** This devcontainer's zone as found on the host. */
  existing: Zone | undefined;
  /** The zone to reuse: `existing`, unless --recreate replaces it (after the image steps). */
  reusable: Zone | undefined;
  /** Made again from the plan once the image's metadata has remade it. */
  zoneSpec: ZoneSpec;
  zoneId: string;
  /** The zone once READY. */
  zone: Zone | undefined;
  /** The workspace copy's session; closed when the launch ends. */
  files: HostFiles | undefined;
  sync: SyncResult | undefined;
  /** This devcontainer's workload in a reused zone, when it can be reused. */
  current: Workload | undefined;
  /** Builds the plan's image here (a plan with a build, no workload to reuse); disposed after pullImage. */
  prep: ImagePreparation | undefined;
  /** The image built here and sent to the host. */
  prepared: PreparedImage | undefined;
  /** The workload's image once built or pulled (undefined: the workload is reused). */
  image: WorkloadImage | undefined;
  /** Made from the plan right before createWorkload. */
  workloadSpec: WorkloadSpec;
  workloadId: string;
  firstLaunch: boolean;
  remoteEnv: Record<string, string>;
  forwards: ForwardSet | undefined;
}

interface Undo {
  readonly what: string;
  run(signal: AbortSignal): Promise<void>;
}

const rollbackTimeoutMs = 120_000;

/**
 * Carries out a LaunchPlan step by step (the order is in plan.ts and events.ts), reporting
 * every step, pull, state change, sync tally and hook output through `onEvent`. On failure or
 * abort it undoes, in reverse order, exactly what this run created — forwards, workload, zone,
 * the host workspace folder — unless `keepOnFailure`. Knows nothing of VS Code or terminals.
 */
export class LaunchExecutor {
  /** Remade by `replan` once the workload image's metadata is known. */
  #plan: LaunchPlan;
  readonly #host: LaunchHost;
  readonly #options: LaunchOptions;
  readonly #log: Logger;
  readonly #onEvent = new Emitter<LaunchEvent>();
  readonly #timings: StepTiming[] = [];
  readonly #undo: Undo[] = [];
  #ran = false;

  /** Progress, as plain data. Listeners must not throw (a throwing one is ignored). */
  readonly onEvent: Event<LaunchEvent> = this.#onEvent.event;

  constructor(plan: LaunchPlan, host: LaunchHost, options: LaunchOptions = {}) {
    this.#plan = plan;
    this.#host = host;
    this.#options = options;
    this.#log = options.logger ?? silentLogger;
  }

  /** Runs the launch once. Rejects with LaunchError (or the ProtectError/SshError that stopped it) after rolling back. */
  async run(): Promise<LaunchResult> {
    if (this.#ran) throw new Error("a LaunchExecutor runs once");
    this.#ran = true;
    const started = Date.now();
    const plan = this.#plan;
    if (!plan.launchable) {
      throw new LaunchError(
        "notLaunchable",
        `this devcontainer cannot be launched: ${plan.refusals.join("; ")}`,
      );
    }
    const state: LaunchState = {
      knownZoneIds: new Set(),
      existing: undefined,
      reusable: undefined,
      zoneSpec: clone(ZoneSpecSchema, plan.zoneSpec),
      zoneId: "",
      zone: undefined,
      files: undefined,
      sync: undefined,
      current: undefined,
      prep: undefined,
      prepared: undefined,
      image: undefined,
      workloadSpec: clone(WorkloadSpecSchema, plan.workloadSpec),
      workloadId: "",
      firstLaunch: true,
      remoteEnv: {},
      forwards: undefined,
    };
    try {
      return await this.#launch(started, state);
    } catch (err) {
      const error = this.#classify(err);
      if (this.#options.keepOnFailure) {
        if (this.#undo.length)
          this.#emit({
            type: "warning",
            message: `--keep-on-failure: left in place: ${this.#undo.map((u) => u.what).join(", ")}`,
          });
      } else {
        await this.#rollback();
      }
      throw error;
    } finally {
      await state.prep?.dispose();
      state.files?.close();
    }
  }

  async #launch(started: number, s: LaunchState): Promise<LaunchResult> {
    const bodies = this.#stepBodies(s);
    for (const step of launchSteps) {
      await this.#between(step, s);
      await this.#step(step, bodies[step]);
      this.#announceAttachable(step, s);
    }
    return {
      zoneId: s.zoneId,
      zoneName: s.zone?.spec?.name ?? this.#plan.zoneName,
      workloadId: s.workloadId,
      workloadName: this.#plan.workloadName,
      reusedZone: s.reusable !== undefined,
      firstLaunch: s.firstLaunch,
      hostPath: this.#plan.sync.hostPath,
      workspaceFolder: this.#plan.sync.targetPath,
      remoteUser: this.#plan.remote.user,
      remoteEnv: s.remoteEnv,
      forwards: s.forwards,
      sync: s.sync,
      timings: [...this.#timings],
      totalMs: Date.now() - started,
    };
  }

  /** The body of every step, in the table order of launchSteps (events.ts). */
  #stepBodies(s: LaunchState): Record<LaunchStep, () => Promise<StepOutcome>> {
    const hook = (name: WorkloadHookName) => () => this.#workloadHook(name, s);
    return {
      initializeCommand: () => this.#initializeCommand(),
      findExisting: () => this.#findExisting(s),
      destroyExisting: () => this.#destroyExisting(s),
      resolveImage: () => this.#resolveImage(s),
      buildImage: () => this.#buildImage(s),
      exportImage: () => this.#exportImage(s),
      importImage: () => this.#importImage(s),
      pullImage: () => this.#pullImage(s),
      pullKernel: () => this.#pullKernel(s),
      createZone: () => this.#createZone(s),
      waitZoneReady: () => this.#waitZoneReady(s),
      syncWorkspace: () => this.#syncWorkspace(s),
      startServices: () => this.#startServices(s),
      createWorkload: () => this.#createWorkload(s),
      waitWorkloadRunning: () => this.#waitWorkloadRunning(s),
      resolveRemoteEnv: () => this.#resolveRemoteEnv(s),
      onCreateCommand: hook("onCreateCommand"),
      updateContentCommand: hook("updateContentCommand"),
      postCreateCommand: hook("postCreateCommand"),
      postStartCommand: hook("postStartCommand"),
      postAttachCommand: hook("postAttachCommand"),
      forwardPorts: () => this.#forwardPorts(s),
    };
  }

  /**
   * Work between two steps that reports no timing of its own: which workload a reused zone
   * already has (before the image steps), the plan the image's metadata makes (after them), and
   * the workload spec from that plan (before createWorkload).
   */
  async #between(next: LaunchStep, s: LaunchState): Promise<void> {
    if (next === "resolveImage") await this.#findWorkload(s);
    if (next === "pullKernel") await this.#imageKnown(s);
    if (next === "createWorkload") this.#makeWorkloadSpec(s);
  }

  /** A terminal may attach once the plan's waitFor hook is done (initializeCommand: at once). */
  #announceAttachable(step: LaunchStep, s: LaunchState): void {
    const waitFor = this.#plan.waitFor;
    const ready = waitFor === "initializeCommand" ? step === "resolveRemoteEnv" : step === waitFor;
    if (ready) this.#emit({ type: "attachable", zoneId: s.zoneId, workloadId: s.workloadId, after: step });
  }

  // --- the steps, in launch order ------------------------------------------------------------

  async #initializeCommand(): Promise<StepOutcome> {
    const hooks = this.#plan.hooks.filter((h) => h.runsOn === "local");
    if (!hooks.length) return new Skip("no initializeCommand");
    for (const hook of hooks)
      await this.#runHook(hook, "initializeFailed", (command, output) =>
        this.#runLocal(command, hook, output),
      );
    return undefined;
  }

  async #findExisting(s: LaunchState): Promise<StepOutcome> {
    const { plan, host } = this.#ctx;
    const zones = await host.listZones({ signal: this.#options.signal });
    s.knownZoneIds = new Set(zones.map((z) => z.id));
    const mine = zonesOfDevcontainer(zones, plan.devcontainerId);
    if (mine.length > 1) {
      throw new LaunchError(
        "ambiguous",
        `${mine.length} zones on ${host.name} carry this devcontainer's id (${mine.map((z) => `${z.spec?.name ?? "?"} ${z.id}`).join(", ")}); remove the extra ones with zonectl down ZONE`,
        {
          candidates: mine.map((z) => z.id),
        },
      );
    }
    const zone = mine[0];
    // A failed zone is refused here, before any image work, unless --recreate replaces it.
    const state = zone?.status?.state;
    if (zone && !this.#options.recreate && (state === ZoneState.FAILED || state === ZoneState.EXITED)) {
      const why = zone.status?.errorStatus?.message;
      throw new LaunchError(
        "zoneFailed",
        `zone ${zone.spec?.name ?? ""} (${zone.id}) is ${zoneStateName(state)}${why ? `: ${why}` : ""}; run up --recreate to replace it`,
      );
    }
    s.existing = zone;
    s.reusable = this.#options.recreate ? undefined : zone;
    s.zoneId = s.reusable?.id ?? "";
    return zone
      ? { detail: `found zone ${zone.spec?.name ?? ""} (${zone.id}), ${zoneStateName(zone.status?.state)}` }
      : { detail: "none: a new zone will be created" };
  }

  async #destroyExisting(s: LaunchState): Promise<StepOutcome> {
    const { host, signal } = this.#ctx;
    const existing = s.existing;
    if (!existing) return new Skip("nothing to replace");
    if (!this.#options.recreate) return new Skip("reusing the existing zone");
    await host.destroyZone(existing.id, { signal });
    await host.waitForZone(existing.id, (z) => z === undefined, { timeoutMs: this.#zoneTimeout, signal });
    s.zoneId = "";
    return { detail: `destroyed ${existing.spec?.name ?? ""} (${existing.id})` };
  }

  /** In a reused zone: this devcontainer's workload, to reuse unless it failed; a build to prepare if none. */
  async #findWorkload(s: LaunchState): Promise<void> {
    const { plan, host, signal } = this.#ctx;
    if (s.reusable) {
      const found = workloadsOfDevcontainer(
        await host.listWorkloads({ signal }),
        s.reusable.id,
        plan.devcontainerId,
      );
      if (found.length > 1)
        this.#emit({
          type: "warning",
          message: `zone ${plan.zoneName} has ${found.length} workloads of this devcontainer; using the newest`,
        });
      let current = found.sort((a, b) =>
        Number((b.status?.createdAt?.seconds ?? 0n) - (a.status?.createdAt?.seconds ?? 0n)),
      )[0];
      if (current?.status?.state === WorkloadState.FAILED) {
        this.#emit({
          type: "warning",
          message: `workload ${current.spec?.name ?? ""} (${current.id}) had failed (${current.status.errorStatus?.message ?? "no message"}); replacing it`,
        });
        await host.destroyWorkload(current.id, { signal });
        current = undefined;
      }
      s.current = current;
    }
    if (plan.build && !s.current) {
      const prep: ImagePreparation = new ImagePreparation(buildTargetOf(plan), host, {
        ...this.#buildOptions,
        onImportProgress: (p) => this.#emit({ type: "imageImport", name: prep.name, ...p }),
      });
      s.prep = prep;
    }
  }

  /** Why the build steps do nothing this time. */
  #noBuild(s: LaunchState): Skip {
    return new Skip(
      s.current
        ? `the workload exists (${s.current.spec?.image?.digest ?? "its image"})`
        : "no features or Dockerfile: the host pulls the image",
    );
  }

  async #resolveImage(s: LaunchState): Promise<StepOutcome> {
    const prep = s.prep;
    if (!prep) return this.#noBuild(s);
    return { detail: await this.#buildStep(() => prep.resolve()) };
  }

  async #buildImage(s: LaunchState): Promise<StepOutcome> {
    const prep = s.prep;
    if (!prep) return this.#noBuild(s);
    const detail = await this.#buildStep(() => prep.build());
    return detail === undefined ? new Skip("the host has this image (same cache key)") : { detail };
  }

  async #exportImage(s: LaunchState): Promise<StepOutcome> {
    const prep = s.prep;
    if (!prep) return this.#noBuild(s);
    const detail = await this.#buildStep(() => prep.export());
    return detail === undefined ? new Skip("the host has this image") : { detail };
  }

  async #importImage(s: LaunchState): Promise<StepOutcome> {
    const prep = s.prep;
    if (!prep) return this.#noBuild(s);
    const delivered = await this.#buildStep(() => prep.deliver());
    s.prepared = delivered.image;
    return { detail: delivered.detail };
  }

  async #pullImage(s: LaunchState): Promise<StepOutcome> {
    const plan = this.#plan;
    if (s.current) {
      await this.#replanFromHost(s.current.spec?.image?.digest);
      return this.#noBuild(s);
    }
    if (s.prepared) return new Skip(`built on this machine: ${s.prepared.name}`);
    const image = plan.images.find((i) => i.role === "workload");
    if (!image) throw new LaunchError("pullFailed", "the plan names no workload image");
    const prepend = plan.compose?.devPrependImageEntrypoint ?? false;
    const pulled = await this.#pull("workload", image.reference, image.format, prepend);
    this.#replanWith(launchImageOf(pulled.config));
    s.image = {
      digest: pulled.digest,
      format: pulled.format,
      ...(pulled.entrypoint ? { entrypoint: pulled.entrypoint } : {}),
    };
    return { detail: `${image.reference} → ${pulled.digest}` };
  }

  /**
   * After the image steps: an image built here remakes the plan with its metadata, the build's
   * temporary files go, and the zone spec is made from the plan as it now is.
   */
  async #imageKnown(s: LaunchState): Promise<void> {
    const prepared = s.prepared;
    try {
      if (prepared) {
        this.#replanWith({ image: prepared.launch, problems: [] });
        s.image = {
          digest: prepared.digest,
          format: prepared.format,
          ...(prepared.launch.entrypoint.length ? { entrypoint: prepared.launch.entrypoint } : {}),
        };
      }
    } finally {
      await s.prep?.dispose();
      s.prep = undefined;
    }
    s.zoneSpec = clone(ZoneSpecSchema, this.#plan.zoneSpec);
  }

  async #pullKernel(s: LaunchState): Promise<StepOutcome> {
    const images = this.#plan.images.filter((i) => i.role !== "workload");
    if (s.reusable) return new Skip("the zone exists");
    if (!images.length) return new Skip("the host's default kernel");
    for (const image of images) {
      const pulled = await this.#pull(image.role, image.reference, image.format);
      const spec = { digest: pulled.digest, format: pulled.format };
      if (image.fills === "zoneSpec.kernel") s.zoneSpec.kernel = { ...s.zoneSpec.kernel!, ...spec };
      if (image.fills === "zoneSpec.initrd") s.zoneSpec.initrd = { ...s.zoneSpec.initrd!, ...spec };
    }
    return undefined;
  }

  async #createZone(s: LaunchState): Promise<StepOutcome> {
    const { plan, host, signal } = this.#ctx;
    const reusable = s.reusable;
    if (reusable) return new Skip(`reusing ${reusable.spec?.name ?? ""} (${reusable.id})`);
    await this.#resolveDevices(s.zoneSpec);
    s.zoneSpec.annotations.push(
      create(AnnotationSpecSchema, { key: launchAnnotationKeys.hostWorkspace, value: plan.sync.hostPath }),
    );
    try {
      s.zoneId = await host.createZone(s.zoneSpec, { signal });
    } catch (err) {
      // Cancelled mid-call: the daemon may have created it anyway. Find it by our annotation.
      const known = s.knownZoneIds;
      this.#undo.push({
        what: "a zone created while cancelling",
        run: (sig) => this.#destroyStrayZones(known, sig),
      });
      throw err;
    }
    const id = s.zoneId;
    this.#undo.push({ what: `zone ${plan.zoneName} (${id})`, run: (sig) => this.#destroyZone(id, sig) });
    return { detail: `${plan.zoneName} (${id})` };
  }

  async #waitZoneReady(s: LaunchState): Promise<StepOutcome> {
    const { plan, host, signal } = this.#ctx;
    const zoneId = s.zoneId;
    let last: number | undefined;
    const z = await host.waitForZone(
      zoneId,
      (z) =>
        z === undefined ||
        [ZoneState.READY, ZoneState.FAILED, ZoneState.EXITED].includes(z.status?.state ?? ZoneState.UNKNOWN),
      {
        timeoutMs: this.#zoneTimeout,
        signal,
        onChange: (z) => {
          const state = z?.status?.state ?? ZoneState.DESTROYED;
          if (state === last) return;
          last = state;
          this.#emit({ type: "zoneState", zoneId, state: zoneStateName(state) });
        },
      },
    );
    if (!z)
      throw new LaunchError(
        "zoneFailed",
        `zone ${plan.zoneName} (${zoneId}) disappeared from ${host.name} before it was ready`,
      );
    if (z.status?.state !== ZoneState.READY) {
      const why = z.status?.errorStatus?.message;
      throw new LaunchError(
        "zoneFailed",
        `zone ${plan.zoneName} (${zoneId}) ${zoneStateName(z.status?.state)} on ${host.name}${why ? `: ${why}` : ""}`,
      );
    }
    s.zone = z;
    const view = zoneView(z);
    return { detail: `ready${view.ipv4 ? ` at ${view.ipv4}` : ""}` };
  }

  async #syncWorkspace(s: LaunchState): Promise<StepOutcome> {
    const { plan, host, signal } = this.#ctx;
    const f = await host.openFiles();
    s.files = f;
    let result: SyncResult;
    try {
      for (const volume of plan.volumes) await ensureHostDirectory(f, volume.hostPath);
      // Known before the copy starts: a copy that breaks halfway must still be undone.
      if (!(await f.lstat(plan.sync.hostPath))) {
        // A fresh session for the undo: the one that copied may have died with the connection.
        this.#undo.push({
          what: `host folder ${plan.sync.hostPath}`,
          run: async () => {
            const files = await host.openFiles();
            try {
              await removeHostTree(files, plan.sync.hostPath);
            } finally {
              files.close();
            }
          },
        });
      }
      result = await pushWorkspace({
        files: f,
        sync: plan.sync,
        ...(signal ? { signal } : {}),
        onProgress: (progress) => this.#emit({ type: "sync", progress }),
      });
    } catch (err) {
      if (signal?.aborted || !(err instanceof Error) || ProtectError.is(err) || SshError.is(err)) throw err;
      const denied = /permission denied/i.test(err.message);
      throw new LaunchError(
        "syncFailed",
        `copying the workspace to ${f.description}:${plan.sync.hostPath} failed: ${err.message}${denied ? " (set customizations.styrolite.workspaceRoot, or zonectl up --workspace-root, to a folder the SSH user may write)" : ""}`,
        {},
        { cause: err },
      );
    }
    for (const path of result.conflicts)
      this.#emit({
        type: "warning",
        message: `${path} changed on the host after it was copied there; not overwritten (zonectl sync --pull brings it back)`,
      });
    s.sync = result;
    return {
      detail: `${result.filesCopied} of ${result.filesTotal} files copied (${formatBytes(result.bytesCopied)}) to ${f.description}:${plan.sync.hostPath}`,
    };
  }

  /** Compose: the other services of the project, as sibling workloads in the zone. */
  async #startServices(s: LaunchState): Promise<StepOutcome> {
    const compose = this.#plan.compose;
    if (!compose) return new Skip("not a Compose project");
    const f = await this.#host.openFiles();
    try {
      const run = this.#servicesRun(compose, s.zoneId, f);
      const started = await startServices(run);
      await waitDependencies(run, compose.devService, compose.devDependsOn, started);
      return {
        detail: compose.services.length
          ? `${compose.services.map((svc) => svc.name).join(", ")} running beside ${compose.devService}`
          : `${compose.devService} alone`,
      };
    } finally {
      f.close();
    }
  }

  /** The new workload's spec, from the plan the image's metadata made, in the zone now known. */
  #makeWorkloadSpec(s: LaunchState): void {
    const plan = this.#plan;
    const spec = clone(WorkloadSpecSchema, plan.workloadSpec);
    spec.zoneId = s.zoneId;
    if (s.image) spec.image = { ...spec.image!, digest: s.image.digest, format: s.image.format };
    if (plan.remote.user !== undefined)
      spec.annotations.push(
        create(AnnotationSpecSchema, { key: launchAnnotationKeys.remoteUser, value: plan.remote.user }),
      );
    // A Compose dev service that gave only `command:` runs it after the image's Entrypoint.
    if (plan.compose?.devPrependImageEntrypoint && spec.process && s.image?.entrypoint)
      spec.process.command = [...s.image.entrypoint, ...spec.process.command];
    s.workloadSpec = spec;
    s.workloadId = s.current?.id ?? "";
    s.firstLaunch = !s.current;
  }

  async #createWorkload(s: LaunchState): Promise<StepOutcome> {
    const { plan, host, signal } = this.#ctx;
    const current = s.current;
    if (current) return new Skip(`reusing ${current.spec?.name ?? ""} (${current.id})`);
    const known = new Set((await host.listWorkloads({ signal })).map((w) => w.id));
    try {
      s.workloadId = await host.createWorkload(s.workloadSpec, { signal });
    } catch (err) {
      const zoneId = s.zoneId;
      if (s.reusable)
        this.#undo.push({
          what: "a workload created while cancelling",
          run: (sig) => this.#destroyStrayWorkloads(zoneId, known, sig),
        });
      throw err;
    }
    const id = s.workloadId;
    // A zone this run created takes its workloads with it; destroy the workload first anyway so a half-failed zone destroy leaves nothing running.
    this.#undo.push({
      what: `workload ${plan.workloadName} (${id})`,
      run: (sig) => this.#destroyWorkload(id, sig),
    });
    return { detail: `${plan.workloadName} (${id})` };
  }

  async #waitWorkloadRunning(s: LaunchState): Promise<StepOutcome> {
    const { plan, host, signal } = this.#ctx;
    const { workloadId, firstLaunch } = s;
    let last: number | undefined;
    let started = false;
    const onChange = (w: Workload | undefined): void => {
      const state = w?.status?.state ?? WorkloadState.DESTROYED;
      if (state === last) return;
      last = state;
      this.#emit({ type: "workloadState", workloadId, state: workloadStateName(state) });
    };
    const settled = (w: Workload | undefined): boolean =>
      w === undefined ||
      [WorkloadState.RUNNING, WorkloadState.FAILED, WorkloadState.COMPLETED, WorkloadState.CREATED].includes(
        w.status?.state ?? WorkloadState.UNKNOWN,
      );
    const waitOptions = { timeoutMs: this.#workloadTimeout, signal, onChange };
    let w = await host.waitForWorkload(workloadId, settled, waitOptions);
    // A daemon that does not start workloads on create leaves them CREATED; a stopped one is COMPLETED.
    if (
      w &&
      (w.status?.state === WorkloadState.CREATED ||
        (!firstLaunch && w.status?.state === WorkloadState.COMPLETED))
    ) {
      try {
        await host.startWorkload(workloadId, { signal });
      } catch (err) {
        // A daemon that starts workloads by itself may get there first: then it is not ours to start.
        if (!ProtectError.is(err, "failedPrecondition") && !ProtectError.is(err, "alreadyExists")) throw err;
      }
      started = true;
      w = await host.waitForWorkload(
        workloadId,
        (x) =>
          x === undefined ||
          (settled(x) &&
            x.status?.state !== WorkloadState.CREATED &&
            (x.status?.state !== WorkloadState.COMPLETED || !started)),
        waitOptions,
      );
    }
    if (!w)
      throw new LaunchError(
        "workloadFailed",
        `workload ${plan.workloadName} (${workloadId}) disappeared before it ran`,
      );
    const state = w.status?.state;
    if (state !== WorkloadState.RUNNING) {
      const why = w.status?.errorStatus?.message;
      const exit = w.status?.exitStatus ? ` with exit code ${w.status.exitStatus.code}` : "";
      const hint =
        state === WorkloadState.COMPLETED
          ? " (its command ended: with overrideCommand false the image's command must keep running)"
          : "";
      throw new LaunchError(
        "workloadFailed",
        `workload ${plan.workloadName} (${workloadId}) ${workloadStateName(state)}${exit}${why ? `: ${why}` : ""}${hint}`,
      );
    }
    return { detail: started && !firstLaunch ? "started again" : "running" };
  }

  async #resolveRemoteEnv(s: LaunchState): Promise<StepOutcome> {
    const plan = this.#plan;
    const deferred = plan.remote.env.filter((e) => e.deferred);
    const containerEnv = deferred.length
      ? await this.#readContainerEnv(s.zoneId, s.workloadId, s.workloadSpec.process?.environment ?? [])
      : {};
    const { env, unset } = resolveRemoteEnv(plan.remote.env, containerEnv);
    if (unset.length)
      this.#emit({
        type: "warning",
        message: `remoteEnv: ${unset.join(", ")} set to null cannot be unset through the exec API; they keep the workload's value`,
      });
    s.remoteEnv = env;
    if (!plan.remote.env.length) return new Skip("no remoteEnv");
    return {
      detail: `${Object.keys(env).length} variable(s)${deferred.length ? `, ${deferred.length} from \${containerEnv:…}` : ""}`,
    };
  }

  async #workloadHook(name: WorkloadHookName, s: LaunchState): Promise<StepOutcome> {
    const { plan, host, signal } = this.#ctx;
    // Features' commands for this hook run first, in install order, then devcontainer.json's.
    const hooks = plan.hooks.filter((h) => h.hook === name && h.runsOn === "workload");
    const first = hooks[0];
    if (!first) return new Skip("not in devcontainer.json");
    if (first.when === "firstLaunch" && !s.firstLaunch)
      return new Skip("not the first launch of this workload");
    if (first.when === "everyAttach" && !this.#options.attach)
      return new Skip("runs when a terminal attaches (up --shell, up --forward)");
    for (const hook of hooks)
      await this.#runHook(hook, "hookFailed", (command, output) =>
        host.exec(
          {
            zoneId: s.zoneId,
            workloadId: s.workloadId,
            command: command.argv,
            env: s.remoteEnv,
            workingDirectory: hook.workingDirectory,
            ...(plan.remote.user !== undefined ? { user: plan.remote.user } : {}),
          },
          { ...output, signal },
        ),
      );
    return undefined;
  }

  async #forwardPorts(s: LaunchState): Promise<StepOutcome> {
    const { plan, host } = this.#ctx;
    if (!plan.forwards.length) return new Skip("no ports to forward");
    if (!this.#options.forwardPorts) return new Skip("not attached: zonectl forward ZONE PORT opens one");
    const set = new ForwardSet();
    this.#undo.push({ what: "port forwards", run: () => set.closeAll() });
    for (const f of plan.forwards) {
      const spec = {
        localAddress: f.localAddress ?? "127.0.0.1",
        localPort: f.localPort,
        remote: `${plan.zoneName}:${f.containerPort}`,
        ...(f.label !== undefined ? { label: f.label } : {}),
      };
      const dial = host.dialer(s.zone!, f.containerPort, this.#options.forwardRoute);
      try {
        set.add(await PortForward.open(spec, dial, { logger: this.#log }));
      } catch (err) {
        if (!ForwardError.is(err, "portInUse") || f.requireLocalPort) throw err;
        const forward = set.add(
          await PortForward.open({ ...spec, localPort: 0 }, dial, { logger: this.#log }),
        );
        this.#emit({
          type: "warning",
          message: `local port ${f.localPort} is in use; forwarding ${spec.remote} from ${forward.info.localAddress}:${forward.info.localPort} instead`,
        });
      }
    }
    s.forwards = set;
    return {
      detail: set
        .list()
        .map((f) => `${f.localAddress}:${f.localPort} → ${f.remote}`)
        .join(", "),
    };
  }

  /** The launch's fixed inputs, for the step bodies. */
  get #ctx(): { plan: LaunchPlan; host: LaunchHost; signal: AbortSignal | undefined } {
    return { plan: this.#plan, host: this.#host, signal: this.#options.signal };
  }

  /** Build failures become LaunchError `buildFailed` (the feature and output in the message). */
  async #buildStep<T>(body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (err) {
      if (BuildError.is(err, "cancelled") || this.#options.signal?.aborted) throw this.#cancelled();
      if (BuildError.is(err))
        throw new LaunchError(
          "buildFailed",
          err.message,
          err.details.feature !== undefined ? { feature: err.details.feature } : {},
          { cause: err },
        );
      if (ProtectError.is(err)) throw new LaunchError("pullFailed", err.message, {}, { cause: err });
      throw err;
    }
  }

  /** Remakes the plan with the image's metadata; a plan that can no longer launch stops here. */
  #replanWith(found: { image: LaunchImage; problems: readonly string[] }): void {
    for (const message of found.problems)
      this.#emit({ type: "warning", message: `image metadata: ${message}` });
    const replan = this.#options.replan;
    if (!replan) return;
    const plan = replan(found.image);
    if (!plan.launchable)
      throw new LaunchError(
        "notLaunchable",
        `with its image's metadata this devcontainer cannot be launched: ${plan.refusals.join("; ")}`,
      );
    for (const c of plan.imageContributions)
      this.#emit({ type: "warning", message: `from ${c.origin}: ${c.properties.join(", ")}` });
    this.#plan = plan;
  }

  /** The metadata of an image the host already has (a reused workload's), when it lists it. */
  async #replanFromHost(digest: string | undefined): Promise<void> {
    if (!digest || !this.#options.replan) return;
    const images = await this.#host.listImages({ signal: this.#options.signal });
    const found = images.find((i) => i.digest === digest);
    if (found?.config) this.#replanWith(launchImageOf(found.config));
  }

  /** How this launch builds images: the plan's workload image and Compose services' `build:`. */
  get #buildOptions(): PreparationOptions {
    return {
      env: this.#options.localEnv ?? process.env,
      ...this.#options.build,
      ...(this.#options.signal ? { signal: this.#options.signal } : {}),
      logger: this.#log,
      onOutput: (text) => this.#emit({ type: "buildOutput", text }),
      onWarning: (message) => this.#emit({ type: "warning", message }),
    };
  }

  get #zoneTimeout(): number {
    return this.#options.zoneTimeoutMs ?? 180_000;
  }

  get #workloadTimeout(): number {
    return this.#options.workloadTimeoutMs ?? 120_000;
  }

  #emit(event: LaunchEvent): void {
    this.#onEvent.fire(event);
  }

  /** Runs one step with its events and timing. */
  async #step(step: LaunchStep, body: () => Promise<StepOutcome>): Promise<void> {
    if (this.#options.signal?.aborted) throw this.#cancelled();
    const started = Date.now();
    this.#emit({ type: "stepStarted", step });
    try {
      const out = await body();
      const ms = Date.now() - started;
      if (out instanceof Skip) {
        this.#timings.push({ step, ms, outcome: "skipped" });
        this.#emit({ type: "stepFinished", step, ms, outcome: "skipped", detail: out.reason });
        return;
      }
      this.#timings.push({ step, ms, outcome: "done" });
      this.#emit({
        type: "stepFinished",
        step,
        ms,
        outcome: "done",
        ...(out?.detail !== undefined ? { detail: out.detail } : {}),
      });
    } catch (err) {
      const ms = Date.now() - started;
      const error = this.#classify(err);
      this.#timings.push({ step, ms, outcome: "failed" });
      this.#emit({ type: "stepFailed", step, ms, message: error.message });
      throw error;
    }
  }

  #cancelled(): LaunchError {
    return new LaunchError("cancelled", "the launch was cancelled");
  }

  /** Aborts become LaunchError `cancelled`; host-side timeouts become `timeout`; the rest passes through. */
  #classify(err: unknown): Error {
    if (LaunchError.is(err)) return err;
    if (
      this.#options.signal?.aborted &&
      (isAbortError(err) ||
        ProtectError.is(err, "cancelled") ||
        SshError.is(err, "cancelled") ||
        err === this.#options.signal.reason)
    ) {
      return this.#cancelled();
    }
    if (this.#options.signal?.aborted) return this.#cancelled();
    if (ProtectError.is(err, "deadline")) return new LaunchError("timeout", err.message, {}, { cause: err });
    return err instanceof Error ? err : new Error(messageOf(err));
  }

  /** What starting the Compose services needs of this launch. */
  #servicesRun(compose: ComposePlan, zoneId: string, files: HostFiles): ServicesRun {
    return {
      host: this.#host,
      compose,
      zoneId,
      files,
      signal: this.#options.signal,
      workloadTimeoutMs: this.#workloadTimeout,
      emit: (e) => this.#emit(e),
      onCreated: (what, run) => this.#undo.push({ what, run }),
      pull: (reference, format) => this.#pull("workload", reference, format, true),
      build: (service) => this.#buildService(service),
    };
  }

  /** A Compose service's `build:`, as the dev container's image is built: cached by content, sent with ImportImage. */
  async #buildService(
    service: ServicePlan,
  ): Promise<{ digest: string; format: OciImageFormat; entrypoint?: readonly string[] }> {
    const b = service.build!;
    const plan = this.#plan;
    this.#emit({
      type: "service",
      service: service.name,
      message: `building ${posix.join(b.context, b.dockerfile)}`,
    });
    const prepared = await this.#buildStep(() =>
      prepareImage(
        {
          build: {
            base: {
              kind: "dockerfile",
              dockerfile: posix.resolve(b.context, b.dockerfile),
              context: b.context,
              args: b.args,
              target: b.target,
              cacheFrom: b.cacheFrom,
              options: [],
            },
            features: [],
            overrideInstallOrder: [],
            lockfile: posix.join(posix.dirname(plan.configFile), ".zones-unused-lock.json"),
            repository: `localhost/zones-build/${plan.zoneName}-${service.name.toLowerCase().replace(/[^a-z0-9._-]/g, "-")}`,
            builder: plan.build?.builder,
            push: plan.build?.push,
            containerUser: undefined,
            remoteUser: undefined,
          },
          configFile: plan.configFile,
          localFolder: plan.localFolder,
          format: service.image.format,
        },
        this.#host,
        this.#buildOptions,
      ),
    );
    return {
      digest: prepared.digest,
      format: prepared.format,
      ...(prepared.launch.entrypoint.length ? { entrypoint: prepared.launch.entrypoint } : {}),
    };
  }

  async #pull(
    role: "workload" | "kernel" | "initrd",
    reference: string,
    format: Parameters<LaunchHost["pullImage"]>[1],
    wantEntrypoint = false,
  ): Promise<PulledImage> {
    try {
      return await this.#host.pullImage(
        reference,
        format,
        (p) => this.#emit({ type: "imagePull", role, reference, ...p }),
        { signal: this.#options.signal, ...(wantEntrypoint ? { wantEntrypoint } : {}) },
      );
    } catch (err) {
      if (this.#options.signal?.aborted) throw err;
      if (ProtectError.is(err)) throw new LaunchError("pullFailed", err.message, {}, { cause: err });
      throw err;
    }
  }

  async #resolveDevices(zoneSpec: ZoneSpec): Promise<void> {
    const requests = this.#plan.deviceRequests;
    if (!requests.length) return;
    const devices = await this.#host.listDevices({ signal: this.#options.signal });
    const free = devices.filter(
      (d) =>
        !d.claimed &&
        /gpu|nvidia|amdgpu|render|dri/i.test(d.name) &&
        !zoneSpec.devices.some((x) => x.name === d.name),
    );
    for (const request of requests) {
      const device = free.shift();
      if (device) {
        zoneSpec.devices.push(create(DeviceReferenceSpecSchema, { name: device.name }));
      } else if (request.optional) {
        this.#emit({
          type: "warning",
          message: `${request.source}: no free GPU on ${this.#host.name}; launching without one (it was optional)`,
        });
      } else {
        throw new LaunchError(
          "device",
          `${request.source}: ${this.#host.name} has no free GPU device (ListDevices shows ${devices.length ? devices.map((d) => `${d.name}${d.claimed ? " (claimed)" : ""}`).join(", ") : "none"})`,
        );
      }
    }
  }

  async #runLocal(
    command: HookCommand,
    hook: HookStep,
    output: { onStdout(d: Uint8Array): void; onStderr(d: Uint8Array): void },
  ): Promise<number> {
    const run = this.#options.runLocal ?? spawnLocal;
    return run(command.argv, {
      cwd: hook.workingDirectory,
      env: this.#options.localEnv ?? process.env,
      ...(this.#options.signal ? { signal: this.#options.signal } : {}),
      ...output,
    });
  }

  /** Runs a hook's commands (all at once for the object form), streaming output; the first non-zero exit fails it. */
  async #runHook(
    hook: HookStep,
    reason: LaunchErrorReason,
    exec: (
      command: HookCommand,
      output: { onStdout(d: Uint8Array): void; onStderr(d: Uint8Array): void },
    ) => Promise<number>,
  ): Promise<void> {
    const one = async (command: HookCommand): Promise<{ command: HookCommand; exitCode: number }> => {
      const started = Date.now();
      this.#emit({
        type: "hookStarted",
        hook: hook.hook,
        label: command.label,
        command: displayCommand(command),
        ...(hook.origin ? { origin: hook.origin } : {}),
      });
      const exitCode = await exec(command, {
        onStdout: (data) =>
          this.#emit({ type: "hookOutput", hook: hook.hook, label: command.label, stream: "stdout", data }),
        onStderr: (data) =>
          this.#emit({ type: "hookOutput", hook: hook.hook, label: command.label, stream: "stderr", data }),
      });
      this.#emit({
        type: "hookExited",
        hook: hook.hook,
        label: command.label,
        exitCode,
        ms: Date.now() - started,
      });
      return { command, exitCode };
    };
    let results: { command: HookCommand; exitCode: number }[];
    if (hook.parallel) {
      // Every command of the object form runs to its end; then the first failure is reported.
      const settled = await Promise.allSettled(hook.commands.map(one));
      const rejected = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
      if (rejected) throw rejected.reason;
      results = settled.map(
        (s) => (s as PromiseFulfilledResult<{ command: HookCommand; exitCode: number }>).value,
      );
    } else {
      results = [];
      for (const command of hook.commands) {
        const r = await one(command);
        results.push(r);
        if (r.exitCode !== 0) break;
      }
    }
    const failed = results.find((r) => r.exitCode !== 0);
    if (failed) {
      const label = failed.command.label;
      throw new LaunchError(
        reason,
        `${hook.hook}${hook.origin ? ` of ${hook.origin}` : ""}${label ? ` (${label})` : ""} failed with exit code ${failed.exitCode}: ${displayCommand(failed.command)}${reason === "hookFailed" ? "; later hooks were not run" : ""}`,
        {
          hook: hook.hook,
          ...(label !== undefined ? { label } : {}),
          exitCode: failed.exitCode,
        },
      );
    }
  }

  /** The workload's environment as its processes see it (for `${containerEnv:…}`). */
  async #readContainerEnv(
    zoneId: string,
    workloadId: string,
    specEnv: readonly { key: string; value: string }[],
  ): Promise<Record<string, string>> {
    try {
      const env = await readWorkloadEnv(
        (req, out) => this.#host.exec(req, { ...out, signal: this.#options.signal }),
        {
          zoneId,
          workloadId,
        },
      );
      if (env) return env;
    } catch (err) {
      if (this.#options.signal?.aborted) throw err;
      this.#log.debug(`reading the workload environment failed: ${messageOf(err)}`);
    }
    this.#emit({
      type: "warning",
      message: "could not read the workload's environment; ${containerEnv:…} resolves from containerEnv only",
    });
    return Object.fromEntries(specEnv.map((e) => [e.key, e.value]));
  }

  async #destroyZone(id: string, signal: AbortSignal): Promise<void> {
    try {
      await this.#host.destroyZone(id, { signal: signal });
    } catch (err) {
      if (ProtectError.is(err, "notFound")) return;
      throw err;
    }
    await this.#host.waitForZone(id, (z) => z === undefined, { timeoutMs: rollbackTimeoutMs, signal });
  }

  async #destroyWorkload(id: string, signal: AbortSignal): Promise<void> {
    try {
      await this.#host.destroyWorkload(id, { signal: signal });
    } catch (err) {
      if (ProtectError.is(err, "notFound")) return;
      throw err;
    }
    await this.#host.waitForWorkload(id, (w) => w === undefined, { timeoutMs: rollbackTimeoutMs, signal });
  }

  async #destroyStrayZones(known: ReadonlySet<string>, signal: AbortSignal): Promise<void> {
    const stray = zonesOfDevcontainer(
      await this.#host.listZones({ signal: signal }),
      this.#plan.devcontainerId,
    ).filter((z) => !known.has(z.id));
    for (const z of stray) await this.#destroyZone(z.id, signal);
  }

  async #destroyStrayWorkloads(
    zoneId: string,
    known: ReadonlySet<string>,
    signal: AbortSignal,
  ): Promise<void> {
    const stray = workloadsOfDevcontainer(
      await this.#host.listWorkloads({ signal: signal }),
      zoneId,
      this.#plan.devcontainerId,
    ).filter((w) => !known.has(w.id));
    for (const w of stray) await this.#destroyWorkload(w.id, signal);
  }

  /** Undoes what this run created, newest first. Every undo is tried; failures are reported, not thrown. */
  async #rollback(): Promise<void> {
    const signal = AbortSignal.timeout(rollbackTimeoutMs);
    while (this.#undo.length) {
      const undo = this.#undo.pop()!;
      try {
        await undo.run(signal);
        this.#emit({ type: "rollback", action: `removed ${undo.what}`, ok: true });
      } catch (err) {
        this.#emit({ type: "rollback", action: `removing ${undo.what}`, ok: false, message: messageOf(err) });
      }
    }
  }
}
