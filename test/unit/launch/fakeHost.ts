// An in-memory LaunchHost for the executor's unit tests: zones and workloads that walk their
// states on timers, a call log, scripted exec results, and steps that can be made to hang
// until the caller aborts. Files go to a real temporary folder through LocalHostFiles.
import { create } from "@bufbuild/protobuf";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildLaunchPlan } from "../../../extension/core/devcontainer/buildPlan";
import { parseDevcontainerText } from "../../../extension/core/devcontainer/jsonc";
import type { LaunchPlan } from "../../../extension/core/devcontainer/plan";
import { validateDevcontainer } from "../../../extension/core/devcontainer/validate";
import type { Dialer } from "../../../extension/core/forward/dialers";
import { LocalHostFiles } from "../../../extension/core/launch/hostFiles";
import type { HostFiles } from "../../../extension/core/launch/hostFiles";
import type {
  HostImage,
  ImageUpload,
  ImportProgress,
  LaunchHost,
  PullProgress,
  WaitOptions,
} from "../../../extension/core/launch/launchHost";
import { ProtectError } from "../../../extension/core/protect/errors";
import type { CallOpts } from "../../../extension/core/protect/callOptions";
import type { ExecOptions, ExecRequest } from "../../../extension/core/terminal/execSession";
import {
  OciImageFormat,
  WorkloadSchema,
  WorkloadState,
  ZoneSchema,
  ZoneState,
} from "../../../extension/proto/gen/protect/control/v1/common_pb";
import type {
  Workload,
  WorkloadSpec,
  Zone,
  ZoneSpec,
} from "../../../extension/proto/gen/protect/control/v1/common_pb";

export type FakeStep = "createZone" | "pullImage" | "createWorkload" | "exec" | "listZones";

const made: string[] = [];

/** Removes every folder projectPlan made (call from `after`). */
export function removeProjects(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** A project folder on disk and a plan for it. */
export function projectPlan(
  config: Record<string, unknown>,
  files: Record<string, string> = { "README.md": "hello\n" },
): { plan: LaunchPlan; folder: string; workspaceRoot: string } {
  const base = mkdtempSync(join(tmpdir(), "launch-unit-"));
  made.push(base);
  const folder = join(base, "project");
  const workspaceRoot = join(base, "host", "workspaces");
  mkdirSync(join(folder, ".devcontainer"), { recursive: true });
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(folder, path, ".."), { recursive: true });
    writeFileSync(join(folder, path), text);
  }
  const configFile = join(folder, ".devcontainer", "devcontainer.json");
  const text = JSON.stringify(config, null, 2);
  writeFileSync(configFile, text);
  const doc = parseDevcontainerText(text, configFile);
  const validation = validateDevcontainer(doc);
  if (!validation.config) throw new Error("test config must be valid");
  const plan = buildLaunchPlan({
    doc,
    config: validation.config,
    localFolder: folder,
    configFile,
    env: {},
    options: { workspaceRoot },
  });
  return { plan, folder, workspaceRoot };
}

export class FakeHost implements LaunchHost {
  readonly name = "fake-host";
  readonly calls: string[] = [];
  readonly zones = new Map<string, Zone>();
  readonly workloads = new Map<string, Workload>();
  readonly execs: ExecRequest[] = [];
  /** Exit code (and output) per exec; default 0. */
  execResult: (req: ExecRequest) => { code: number; stdout?: string; ms?: number } = () => ({ code: 0 });
  /** What a new zone becomes. */
  zoneOutcome: { state: "ready" } | { state: "failed"; message: string } = { state: "ready" };
  /** What a started workload becomes. */
  workloadOutcome: { state: "running" } | { state: "failed"; message: string } = { state: "running" };
  /** Steps that never finish on their own (they end when the caller aborts). */
  readonly hang = new Set<FakeStep>();
  /** Called when a hanging step starts waiting (tests abort from here). */
  onHang: (step: FakeStep) => void = () => undefined;
  /** createZone makes the zone before it hangs (a daemon that got the call, a reply that never came). */
  createBeforeHang = false;
  #next = 1;

  /** A zone as `up` would have left it, with its workload. */
  addLaunched(
    plan: LaunchPlan,
    state: ZoneState = ZoneState.READY,
    workloadState: WorkloadState | null = WorkloadState.RUNNING,
  ): { zoneId: string; workloadId: string | undefined } {
    const zoneId = `zone-${this.#next++}`;
    this.zones.set(
      zoneId,
      create(ZoneSchema, {
        id: zoneId,
        spec: plan.zoneSpec,
        status: {
          state,
          ...(state === ZoneState.FAILED ? { errorStatus: { message: "kernel panic" } } : {}),
        },
      }),
    );
    if (workloadState === null) return { zoneId, workloadId: undefined };
    const workloadId = `workload-${this.#next++}`;
    this.workloads.set(
      workloadId,
      create(WorkloadSchema, {
        id: workloadId,
        spec: { ...plan.workloadSpec, zoneId, image: { ...plan.workloadSpec.image!, digest: "sha256:old" } },
        status: { state: workloadState },
      }),
    );
    return { zoneId, workloadId };
  }

  async #maybeHang(step: FakeStep, signal: AbortSignal | undefined): Promise<void> {
    if (!this.hang.has(step)) return;
    this.onHang(step);
    await new Promise<void>((_, reject) => {
      const fail = (): void => reject(new ProtectError("cancelled", `${step}: cancelled`));
      if (signal?.aborted) fail();
      signal?.addEventListener("abort", fail, { once: true });
    });
  }

  async listZones(opts: CallOpts = {}): Promise<Zone[]> {
    this.calls.push("listZones");
    await this.#maybeHang("listZones", opts.signal);
    return [...this.zones.values()];
  }

  async listWorkloads(): Promise<Workload[]> {
    return [...this.workloads.values()];
  }

  async createZone(spec: ZoneSpec, opts: CallOpts = {}): Promise<string> {
    this.calls.push(`createZone ${spec.name}`);
    const id = `zone-${this.#next++}`;
    const make = (): void => {
      this.zones.set(id, create(ZoneSchema, { id, spec, status: { state: ZoneState.CREATING } }));
      setTimeout(() => {
        const zone = this.zones.get(id);
        if (!zone || zone.status?.state !== ZoneState.CREATING) return;
        if (this.zoneOutcome.state === "ready") zone.status.state = ZoneState.READY;
        else {
          zone.status.state = ZoneState.FAILED;
          zone.status.errorStatus = {
            $typeName: "protect.control.v1.ZoneErrorStatus",
            message: this.zoneOutcome.message,
          };
        }
      }, 5);
    };
    if (this.createBeforeHang) make();
    await this.#maybeHang("createZone", opts.signal);
    make();
    return id;
  }

  async destroyZone(id: string): Promise<void> {
    this.calls.push(`destroyZone ${id}`);
    if (!this.zones.has(id)) throw new ProtectError("notFound", `no zone ${id}`);
    for (const [wid, w] of this.workloads) if (w.spec?.zoneId === id) this.workloads.delete(wid);
    setTimeout(() => this.zones.delete(id), 5);
  }

  async waitForZone(
    id: string,
    until: (zone: Zone | undefined) => boolean,
    options: WaitOptions<Zone> = {},
  ): Promise<Zone | undefined> {
    return this.#poll(() => this.zones.get(id), until, options);
  }

  async createWorkload(spec: WorkloadSpec, opts: CallOpts = {}): Promise<string> {
    this.calls.push(`createWorkload ${spec.name} in ${spec.zoneId} image ${spec.image?.digest ?? ""}`);
    await this.#maybeHang("createWorkload", opts.signal);
    const id = `workload-${this.#next++}`;
    this.workloads.set(id, create(WorkloadSchema, { id, spec, status: { state: WorkloadState.CREATING } }));
    setTimeout(() => {
      const w = this.workloads.get(id);
      if (w?.status?.state === WorkloadState.CREATING) w.status.state = WorkloadState.CREATED;
    }, 5);
    return id;
  }

  async startWorkload(id: string): Promise<void> {
    this.calls.push(`startWorkload ${id}`);
    const w = this.workloads.get(id);
    if (!w?.status) throw new ProtectError("notFound", `no workload ${id}`);
    if (this.workloadOutcome.state === "running") w.status.state = WorkloadState.RUNNING;
    else {
      w.status.state = WorkloadState.FAILED;
      w.status.errorStatus = {
        $typeName: "protect.control.v1.WorkloadErrorStatus",
        message: this.workloadOutcome.message,
      };
    }
  }

  async stopWorkload(id: string): Promise<void> {
    this.calls.push(`stopWorkload ${id}`);
    const w = this.workloads.get(id);
    if (w?.status) w.status.state = WorkloadState.COMPLETED;
  }

  async destroyWorkload(id: string): Promise<void> {
    this.calls.push(`destroyWorkload ${id}`);
    if (!this.workloads.has(id)) throw new ProtectError("notFound", `no workload ${id}`);
    setTimeout(() => this.workloads.delete(id), 5);
  }

  async waitForWorkload(
    id: string,
    until: (w: Workload | undefined) => boolean,
    options: WaitOptions<Workload> = {},
  ): Promise<Workload | undefined> {
    return this.#poll(() => this.workloads.get(id), until, options);
  }

  /** Images "on the host": what listImages answers, and where importImage files uploads. */
  readonly images: HostImage[] = [];

  async listImages(): Promise<HostImage[]> {
    this.calls.push("listImages");
    return [...this.images];
  }

  async importImage(
    upload: ImageUpload,
    onProgress: (p: ImportProgress) => void,
    opts: CallOpts = {},
  ): Promise<HostImage> {
    this.calls.push(`importImage ${upload.name}`);
    let sent = 0;
    for await (const chunk of upload.chunks) {
      if (opts.signal?.aborted) throw new Error("cancelled");
      sent += chunk.length;
      onProgress({ sentBytes: sent, totalBytes: upload.size, phase: "sending" });
    }
    const image: HostImage = {
      digest: `sha256:${sent.toString(16).padStart(64, "0")}`,
      format: upload.format,
      names: [upload.name],
    };
    this.images.push(image);
    return image;
  }

  async pullImage(
    reference: string,
    format: OciImageFormat,
    onProgress: (p: PullProgress) => void,
    opts: CallOpts = {},
  ): Promise<{ digest: string; format: OciImageFormat }> {
    this.calls.push(`pullImage ${reference}`);
    onProgress({ phase: "started", layers: [] });
    await this.#maybeHang("pullImage", opts.signal);
    onProgress({
      phase: "layer_download",
      layers: [{ id: "l1", phase: "downloading", current: 10, total: 20 }],
      current: 10,
      total: 20,
      isBytes: true,
    });
    onProgress({ phase: "complete", layers: [{ id: "l1", phase: "extracted" }] });
    return {
      digest: `sha256:${reference.length.toString(16).padStart(4, "0")}`,
      format: format === OciImageFormat.UNKNOWN ? OciImageFormat.SQUASHFS : format,
    };
  }

  async listDevices(): Promise<{ name: string; claimed: boolean }[]> {
    return [];
  }

  async exec(request: ExecRequest, output: ExecOptions = {}): Promise<number> {
    this.execs.push(request);
    this.calls.push(`exec ${request.command.join(" ")}`);
    await this.#maybeHang("exec", output.signal);
    if (request.command[0] === "cat" && request.command[1] === "/proc/self/environ") {
      const env = [...(this.workloads.get(request.workloadId ?? "")?.spec?.process?.environment ?? [])].map(
        (e) => `${e.key}=${e.value}`,
      );
      output.onStdout?.(Buffer.from(`PATH=/bin\0${env.join("\0")}\0`));
      return 0;
    }
    const r = this.execResult(request);
    if (r.ms) await new Promise((resolve) => setTimeout(resolve, r.ms));
    if (r.stdout) output.onStdout?.(Buffer.from(r.stdout));
    return r.code;
  }

  async openFiles(): Promise<HostFiles> {
    return new LocalHostFiles();
  }

  dialer(_zone: Zone, _port: number): Dialer {
    return async () => {
      throw new Error("no network in the fake host");
    };
  }

  async #poll<T>(
    get: () => T | undefined,
    until: (v: T | undefined) => boolean,
    options: WaitOptions<T>,
  ): Promise<T | undefined> {
    const deadline = Date.now() + (options.timeoutMs ?? 120_000);
    for (;;) {
      const v = get();
      options.onChange?.(v);
      if (until(v)) return v;
      if (options.signal?.aborted) throw new ProtectError("cancelled", "wait cancelled");
      if (Date.now() > deadline) throw new ProtectError("deadline", "wait timed out");
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }
}
