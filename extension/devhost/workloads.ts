import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { create, fromJson, toJson } from "@bufbuild/protobuf";
import type { JsonValue } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { delay } from "../core/abort";
import { messageOf } from "../core/errors";
import { Emitter } from "../core/events";
import type { Event } from "../core/events";
import type { Logger } from "../core/log";
import { WorkloadSchema, WorkloadSpecSchema, WorkloadState } from "../proto/gen/protect/control/v1/common_pb";
import type { Workload, WorkloadSpec } from "../proto/gen/protect/control/v1/common_pb";
import { resolveBindSource } from "./bindSource";
import { ConsoleBuffer } from "./consoleBuffer";
import { DevHostError } from "./errors";
import { removeEmptyGroupsEverywhere } from "./sandbox/cgroups";
import type { CgroupNode } from "./sandbox/cgroups";
import { withMountSetup } from "./sandbox/launch";
import type { Tools } from "./sandbox/launch";
import type { ContainerProcess } from "./oci/ociConfig";
import { Runc } from "./oci/runc";
import { containerId, workloadContainerConfig, workloadExecProcess } from "./workloadContainer";
import type { ContainerRuntime } from "./workloadContainer";
import { run } from "./sandbox/exec";
import { exitCodeOf } from "./sandbox/processes";
import type { ProcessExit, SandboxProcess } from "./sandbox/processes";
import { signalOfCode } from "./sandbox/processes";
import type { SandboxMode, ZoneSandbox } from "./sandbox/zoneSandbox";
import { VmZone } from "./vm/vmZone";
import {
  execInVmWorkload,
  finishVmWorkload,
  removeVmWorkload,
  signalVmWorkload,
  startVmWorkload,
} from "./vm/vmWorkloads";
import type { ZoneRuntime } from "./zoneRuntime";
import type { StateStore } from "./stateStore";
import { assertNoSymlinks, planWorkload, workloadPaths } from "./workloadPlan";
import type { WorkloadImage, WorkloadPaths, WorkloadPlan } from "./workloadPlan";
import type { ZoneManager } from "./zones";
import { withTimeout } from "./timeout";

/** Where workload images come from (the dev host's ImageStore). */
export interface ImageLookup {
  get(digest: string): WorkloadImage | undefined;
}

interface WorkloadRecord {
  id: string;
  spec: WorkloadSpec;
  state: WorkloadState;
  errorMessage?: string | undefined;
  exitCode?: number | undefined;
  createdAt: Date;
}

interface Run {
  process: SandboxProcess;
  /** Host pid of the workload's main process (inside the zone's pid namespace). */
  mainPid: number | undefined;
  group: CgroupNode | undefined;
  oomBaseline: number;
  stopRequested: boolean;
  /** Resolves once the exit has been recorded. */
  finished: Promise<void>;
}

interface WorkloadEntry {
  record: WorkloadRecord;
  paths: WorkloadPaths;
  output: ConsoleBuffer;
  plan?: WorkloadPlan | undefined;
  image?: WorkloadImage | undefined;
  preparing?: Promise<void> | undefined;
  starting?: Promise<void> | undefined;
  run?: Run | undefined;
  destroying?: Promise<void> | undefined;
  /** The zone's name: the workload's hostname. */
  hostname?: string | undefined;
}

/** What an exec into a running workload needs. */
export interface WorkloadExecContext {
  sandbox: ZoneRuntime;
  mainPid: number;
  root: string;
  plan: WorkloadPlan;
  image: WorkloadImage;
  group: CgroupNode | undefined;
}

export interface WorkloadManagerOptions {
  store: StateStore;
  zones: ZoneManager;
  images: ImageLookup;
  mode: SandboxMode;
  /** Whether overlayfs works for workload roots; otherwise the image root is copied. */
  overlay: boolean;
  /** runc and its profile: how namespace-mode workloads run (undefined in process mode). */
  containers: ContainerRuntime | undefined;
  /** Host tools (the overlay's mount namespace is made with unshare). */
  tools: Tools;
  /** Folders bind mounts may come from (see resolveBindSource). */
  mountRoots: readonly string[];
  log: Logger;
}

/** The annotation that says how a dev host workload gets its root filesystem. */
export const rootAnnotation = "dev.styrolite.devhost/root";

/** How long a workload's main process gets after SIGTERM when no timeout is given. */
export const defaultStopTimeoutSeconds = 10;

/**
 * Workloads: OCI images run as processes inside their zone's sandbox, with the real state
 * sequence CREATING → CREATED → RUNNING → COMPLETED (exit 0, or stopped on request) or FAILED
 * (non-zero exit, setup failure, OOM kill). Records persist; output is kept for replay.
 */
export class WorkloadManager {
  readonly #workloads = new Map<string, WorkloadEntry>();
  readonly #onDidChange = new Emitter<Workload>();
  readonly onDidChange: Event<Workload> = this.#onDidChange.event;
  #shuttingDown = false;

  constructor(private readonly o: WorkloadManagerOptions) {}

  restore(): void {
    for (const { id, data } of this.o.store.loadAll("workloads")) {
      let record: WorkloadRecord;
      try {
        record = parseRecord(data);
      } catch (err) {
        this.o.log.warn(`workloads: cannot parse record ${id}; left on disk untouched`, err);
        continue;
      }
      if (record.state === WorkloadState.DESTROYING || record.state === WorkloadState.DESTROYED) {
        rmSync(workloadPaths(this.o.store.runDir, record.id).dir, { recursive: true, force: true });
        this.o.store.remove("workloads", record.id);
        continue;
      }
      if (record.state !== WorkloadState.COMPLETED && record.state !== WorkloadState.FAILED) {
        record.state = WorkloadState.FAILED;
        record.errorMessage =
          "the dev host restarted; this workload's processes are gone. Destroy it and create it again.";
      }
      this.#workloads.set(record.id, {
        record,
        paths: workloadPaths(this.o.store.runDir, record.id),
        output: new ConsoleBuffer(),
      });
      this.#save(record);
    }
  }

  list(): Workload[] {
    return [...this.#workloads.values()].map((e) => this.#toProto(e));
  }

  get(id: string): Workload {
    return this.#toProto(this.#entry(id));
  }

  resolve(name: string): string[] {
    return [...this.#workloads.values()]
      .filter((e) => e.record.spec.name === name || e.record.id === name)
      .sort((a, b) => a.record.createdAt.getTime() - b.record.createdAt.getTime())
      .map((e) => e.record.id);
  }

  inZone(zoneId: string): string[] {
    return [...this.#workloads.values()]
      .filter((e) => e.record.spec.zoneId === zoneId)
      .map((e) => e.record.id);
  }

  /** Why an image cannot be removed (workloads still use it as their root), or undefined. */
  imageInUse(digest: string): string | undefined {
    const users = [...this.#workloads.values()].filter((e) => e.record.spec.image?.digest === digest);
    if (users.length === 0) return undefined;
    const names = users.slice(0, 3).map((e) => e.record.spec.name || e.record.id);
    return `${users.length} workload${users.length === 1 ? "" : "s"} use${users.length === 1 ? "s" : ""} it as root (${names.join(", ")}${users.length > 3 ? ", …" : ""}); destroy them first`;
  }

  output(id: string): ConsoleBuffer {
    return this.#entry(id).output;
  }

  /** The running process, for console attach (stdin, resize). */
  process(id: string): SandboxProcess | undefined {
    return this.#entry(id).run?.process;
  }

  create(specIn: WorkloadSpec): string {
    if (this.#shuttingDown) throw new DevHostError("unavailable", "the dev host is shutting down");
    const spec = create(WorkloadSpecSchema, specIn);
    this.o.zones.sandbox(spec.zoneId); // the zone must exist and be READY
    const digest = spec.image?.digest ?? "";
    if (!digest) throw new DevHostError("invalidArgument", "CreateWorkload needs spec.image.digest");
    const image = this.o.images.get(digest);
    if (!image)
      throw new DevHostError(
        "notFound",
        `image ${digest} is not in the dev host's image store (PullImage or ImportImage it first)`,
      );
    const plan = planWorkload(spec, image, { mountRoots: this.o.mountRoots });
    const id = randomUUID();
    const entry: WorkloadEntry = {
      record: { id, spec, state: WorkloadState.CREATING, createdAt: new Date() },
      paths: workloadPaths(this.o.store.runDir, id),
      output: new ConsoleBuffer(),
      plan,
      image,
    };
    this.#workloads.set(id, entry);
    this.#changed(entry);
    entry.preparing = this.#prepare(entry);
    this.o.log.info(
      `workloads: creating ${id} (${spec.name || "unnamed"}) in zone ${spec.zoneId}: ${plan.command.length} argv words`,
    );
    return id;
  }

  async #prepare(entry: WorkloadEntry): Promise<void> {
    const { paths } = entry;
    try {
      mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
      mkdirSync(paths.root, { recursive: true });
      if (this.o.overlay) {
        mkdirSync(paths.upper, { recursive: true });
        mkdirSync(paths.work, { recursive: true });
      } else if (this.o.mode !== "process") {
        // No overlay here: the workload gets its own copy of the image root.
        await run("cp", ["-a", "--", `${entry.image!.rootfsDir}/.`, paths.root], { timeoutMs: 300_000 });
      }
      const zone = this.o.zones.get(entry.record.spec.zoneId);
      const ip = zone.status?.networkStatus?.interfaces[0]?.ips[0]?.address.split("/")[0];
      const hostname = zone.spec?.name || "zone";
      entry.hostname = hostname;
      writeFileSync(
        paths.hosts,
        `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n${ip ? `${ip}\t${hostname}\n` : ""}`,
      );
      if (entry.record.state === WorkloadState.CREATING) this.#setState(entry, WorkloadState.CREATED);
    } catch (err) {
      if (entry.record.state !== WorkloadState.CREATING) return;
      entry.record.errorMessage = `preparing the workload's root failed: ${messageOf(err)}`;
      this.#setState(entry, WorkloadState.FAILED);
    }
  }

  /** Starts the workload's process; resolves once it is RUNNING (its root is in place). */
  async start(id: string): Promise<void> {
    const entry = this.#entry(id);
    await entry.preparing;
    if (entry.starting) return entry.starting;
    const state = entry.record.state;
    if (state === WorkloadState.RUNNING) return;
    if (state === WorkloadState.DESTROYING || state === WorkloadState.DESTROYED)
      throw new DevHostError("failedPrecondition", `workload ${id} is being destroyed`);
    if (!entry.plan || !entry.image) {
      throw new DevHostError(
        "failedPrecondition",
        `workload ${id} was created by an earlier dev host run and cannot be started again; create a new one`,
      );
    }
    if (state === WorkloadState.FAILED && entry.record.errorMessage?.startsWith("preparing")) {
      throw new DevHostError(
        "failedPrecondition",
        `workload ${id} could not be prepared: ${entry.record.errorMessage}`,
      );
    }
    entry.starting = this.#start(entry).finally(() => (entry.starting = undefined));
    return entry.starting;
  }

  async #start(entry: WorkloadEntry): Promise<void> {
    const { record, plan, image, paths } = entry;
    if (!plan || !image)
      throw new DevHostError("failedPrecondition", `workload ${record.id} has no launch plan`);
    const zone = this.o.zones.sandbox(record.spec.zoneId);
    const vm = zone instanceof VmZone ? zone : undefined;
    const sandbox = zone as ZoneSandbox;
    // Checked again at start: a zone may have swapped a folder for a link since the create.
    for (const m of plan.mounts)
      if (resolveBindSource(m.requested, this.o.mountRoots) !== m.hostPath)
        throw new DevHostError(
          "failedPrecondition",
          `mount host_path ${m.requested} changed since the create`,
        );
    const started = Date.now();
    const group = vm ? undefined : sandbox.workloadGroup(record.id);
    const oomBaseline = zone.cgroup?.oomKills() ?? 0;
    const output = entry.output.closed ? (entry.output = new ConsoleBuffer()) : entry.output;
    const tty = plan.tty ? (plan.terminal ?? { columns: 80, rows: 24 }) : undefined;
    const runtime = this.o.containers;
    let pidFile = join(paths.dir, "container.pid");
    let vmStart: { proc: SandboxProcess; pidFile: string } | undefined;
    if (vm) {
      vmStart = await startVmWorkload(vm, {
        workloadId: record.id,
        plan,
        image,
        paths,
        overlay: this.o.overlay,
        hostname: entry.hostname ?? "zone",
        tools: this.o.tools,
        tty,
      });
      pidFile = vmStart.pidFile;
    }
    const proc = vmStart
      ? vmStart.proc
      : runtime
        ? await this.#startContainer(entry, sandbox, group, runtime, pidFile, tty)
        : sandbox.launch({
            target: { kind: "newWorkload", steps: [] },
            group,
            final: {
              root: paths.root,
              cwd: plan.cwd,
              uid: plan.uid,
              gid: plan.gid,
              env: plan.env,
              command: plan.command,
            },
            tty,
            stdin: plan.stdin,
          });
    proc.onStdout((d) => output.append(d, 1));
    proc.onStderr((d) => output.append(d, 2));
    let exit: ProcessExit | undefined;
    void proc.exited.then((e) => (exit = e)); // polled while waiting for the root switch

    const runState: Run = {
      process: proc,
      mainPid: undefined,
      group,
      oomBaseline,
      stopRequested: false,
      finished: Promise.resolve(),
    };
    entry.run = runState;
    if (runtime || vm) {
      // RUNNING means the container exists and its command starts: runc writes the pid file
      // once the process is in its namespaces, cgroup and root, just before it starts it. (In
      // a VM zone the file comes through the share; the pid is the guest's.)
      const deadline = Date.now() + (vm ? 120_000 : 15_000);
      for (;;) {
        if (exit) break;
        runState.mainPid = Runc.readPid(pidFile);
        if (runState.mainPid !== undefined) break;
        if (Date.now() > deadline) {
          proc.kill("SIGKILL");
          group?.signalAll("SIGKILL");
          break;
        }
        await delay(3);
      }
    } else {
      runState.mainPid = proc.pid;
    }
    runState.finished = proc.exited.then((e) =>
      this.#exited(entry, runState, runtime || vm ? fromRunc(e) : e, output, existsSync(pidFile), vm),
    );
    if (exit) {
      await runState.finished;
      return;
    }
    record.exitCode = undefined;
    record.errorMessage = undefined;
    this.#setState(entry, WorkloadState.RUNNING);
    this.o.log.info(
      `workloads: ${record.id} RUNNING in ${Date.now() - started} ms (pid ${runState.mainPid})`,
    );
  }

  /** Writes the bundle and starts `runc run` (inside a mount namespace holding the overlay root). */
  async #startContainer(
    entry: WorkloadEntry,
    sandbox: ZoneSandbox,
    group: CgroupNode | undefined,
    runtime: ContainerRuntime,
    pidFile: string,
    tty: { columns: number; rows: number } | undefined,
  ): Promise<SandboxProcess> {
    const { record, plan, image, paths } = entry;
    const id = containerId(record.id);
    await runtime.runc.delete(id); // a previous start's container, if its runc was killed
    rmSync(pidFile, { force: true });
    for (const m of plan!.mounts) assertNoSymlinks(this.#layers(entry), m.targetPath, "mount target");
    const bundle = join(paths.dir, "bundle");
    Runc.writeBundle(
      bundle,
      workloadContainerConfig({
        plan: plan!,
        rootfs: paths.root,
        hostsFile: paths.hosts,
        hostname: entry.hostname ?? "zone",
        zoneInitPid: sandbox.initPid,
        cgroupsPath: group?.relativePath ?? `styrolite-devhost-${process.pid}/${id}`,
        runtime,
      }),
    );
    const run = runtime.runc.runArgv(id, bundle, pidFile);
    // The overlay is mounted in a private mount namespace that runc starts from: the host's
    // mount table never holds it, and it goes when the container does.
    const argv = this.o.overlay
      ? withMountSetup(
          this.o.tools,
          [
            {
              op: "overlay",
              lower: image!.rootfsDir,
              upper: paths.upper,
              work: paths.work,
              target: paths.root,
            },
          ],
          run,
        )
      : run;
    return sandbox.startContainer(argv, { tty, stdin: plan!.stdin });
  }

  #layers(entry: WorkloadEntry): string[] {
    return this.o.overlay ? [entry.paths.upper, entry.image!.rootfsDir] : [entry.paths.root];
  }

  async #exited(
    entry: WorkloadEntry,
    run: Run,
    exit: ProcessExit,
    output: ConsoleBuffer,
    started: boolean,
    vm: VmZone | undefined,
  ): Promise<void> {
    // The zone's pid namespace outlives the workload: whatever the workload left running goes too.
    run.group?.signalAll("SIGKILL");
    const sandbox = this.o.zones.maybeSandbox(entry.record.spec.zoneId);
    // Read before the container goes: the kill is counted in the container's own memory cgroup.
    const oom = vm
      ? await finishVmWorkload(vm, entry.record.id, this.o.tools)
      : (sandbox?.cgroup?.oomKills() ?? 0) > run.oomBaseline || (run.group?.oomKills() ?? 0) > 0;
    if (this.o.containers && !vm) {
      await this.o.containers.runc
        .delete(containerId(entry.record.id))
        .catch((err: unknown) => this.o.log.warn(`workloads: runc delete of ${entry.record.id}`, err));
      if (run.group) await removeEmptyGroupsEverywhere([run.group.relativePath]);
    }
    await run.group
      ?.destroy()
      .catch((err: unknown) => this.o.log.warn(`workloads: cgroup of ${entry.record.id}`, err));
    if (entry.run === run) entry.run = undefined;
    output.close();
    if (entry.destroying || this.#shuttingDown) return;
    const { record } = entry;
    record.exitCode = exitCodeOf(exit);
    let wasRunning = record.state === WorkloadState.RUNNING;
    if (!wasRunning && (this.o.containers || vm ? started : ranBeforeSeen(exit, tail(output)))) {
      // The command ran and ended between two looks for its root switch (a short `sh -c`
      // takes a few ms): it did start, so watchers see RUNNING before its end.
      this.#setState(entry, WorkloadState.RUNNING);
      wasRunning = true;
    }
    if (exit.signal === "SIGKILL" && oom) {
      const own = entry.plan?.memoryLimitBytes;
      const limit = this.o.zones.get(record.spec.zoneId).status?.resourceStatus?.activeResources
        ?.targetMemory;
      const which = own
        ? `the workload's memory limit (${own / 1024 / 1024} MiB)`
        : `the zone's memory limit${limit ? ` (${limit} MiB)` : ""}`;
      const killer = vm ? "the OOM killer of the VM's own kernel" : "the kernel OOM killer";
      record.errorMessage = `out of memory: ${which} was exceeded and ${killer} killed the workload`;
      this.#setState(entry, WorkloadState.FAILED);
    } else if (!wasRunning) {
      record.errorMessage = `the workload did not start (exit ${record.exitCode}): ${tail(output)}`;
      this.#setState(entry, WorkloadState.FAILED);
    } else if (record.exitCode === 0 || run.stopRequested) {
      record.errorMessage = undefined;
      this.#setState(entry, WorkloadState.COMPLETED);
    } else {
      record.errorMessage = exit.signal ? `killed by ${exit.signal}` : `exited with code ${record.exitCode}`;
      this.#setState(entry, WorkloadState.FAILED);
    }
    this.o.log.info(
      `workloads: ${record.id} ${WorkloadState[record.state]} (exit ${record.exitCode}${record.errorMessage ? `: ${record.errorMessage}` : ""})`,
    );
  }

  /** SIGTERM to the main process, SIGKILL to the whole workload after `timeoutSeconds`. */
  async stop(id: string, timeoutSeconds: number): Promise<void> {
    const entry = this.#entry(id);
    await entry.starting?.catch(() => undefined);
    const run = entry.run;
    if (!run) return;
    run.stopRequested = true;
    const zone = this.o.zones.maybeSandbox(entry.record.spec.zoneId);
    if (zone instanceof VmZone) {
      // The pid is the guest's: the signal goes through runc in the guest.
      await signalVmWorkload(zone, id, "TERM");
    } else {
      const target = run.mainPid ?? run.process.pid;
      try {
        process.kill(this.o.mode === "process" ? -target : target, "SIGTERM");
      } catch {
        // already gone
      }
    }
    const seconds = timeoutSeconds > 0 ? timeoutSeconds : defaultStopTimeoutSeconds;
    const done = (await withTimeout(run.process.exited, seconds * 1000)) !== "timeout";
    if (!done) {
      run.group?.signalAll("SIGKILL");
      run.process.kill("SIGKILL");
      if (this.o.mode === "process") killGroup(run.process.pid);
    }
    await run.finished;
  }

  destroy(id: string): { done: Promise<void> } {
    const entry = this.#entry(id);
    if (entry.destroying) return { done: entry.destroying };
    this.#setState(entry, WorkloadState.DESTROYING);
    entry.destroying = this.#destroy(entry);
    return { done: entry.destroying };
  }

  async #destroy(entry: WorkloadEntry): Promise<void> {
    try {
      await entry.preparing?.catch(() => undefined);
      await entry.starting?.catch(() => undefined);
      const run = entry.run;
      if (run) {
        run.stopRequested = true;
        run.group?.signalAll("SIGKILL");
        run.process.kill("SIGKILL");
        if (this.o.mode === "process") killGroup(run.process.pid);
        await run.finished;
      }
      const zone = this.o.zones.maybeSandbox(entry.record.spec.zoneId);
      if (zone instanceof VmZone) removeVmWorkload(zone, entry.record.id);
      rmSync(entry.paths.dir, { recursive: true, force: true });
    } catch (err) {
      this.o.log.warn(`workloads: teardown of ${entry.record.id} was incomplete`, err);
    }
    entry.output.close();
    this.#setState(entry, WorkloadState.DESTROYED);
    this.#workloads.delete(entry.record.id);
    this.o.store.remove("workloads", entry.record.id);
  }

  /** Destroys every workload of a zone (before the zone goes). */
  async destroyAllIn(zoneId: string): Promise<void> {
    await Promise.all(this.inZone(zoneId).map((id) => this.destroy(id).done));
  }

  /** What an exec into this workload needs; refuses unless it is RUNNING. */
  execContext(id: string): WorkloadExecContext {
    const entry = this.#entry(id);
    const run = entry.run;
    if (
      entry.record.state !== WorkloadState.RUNNING ||
      !run ||
      run.mainPid === undefined ||
      !entry.plan ||
      !entry.image
    ) {
      throw new DevHostError(
        "failedPrecondition",
        `workload ${id} is ${WorkloadState[entry.record.state]}, not RUNNING`,
      );
    }
    return {
      sandbox: this.o.zones.sandbox(entry.record.spec.zoneId),
      mainPid: run.mainPid,
      root: entry.paths.root,
      plan: entry.plan,
      image: entry.image,
      group: run.group,
    };
  }

  /**
   * Runs a process in a running workload's container (`runc exec`): its namespaces, root,
   * cgroup, capabilities, seccomp filter and no_new_privs. Undefined in process mode.
   */
  execInContainer(
    id: string,
    p: ContainerProcess,
    tty: { columns: number; rows: number } | undefined,
  ): SandboxProcess | undefined {
    const runtime = this.o.containers;
    const ctx = this.execContext(id);
    if (ctx.sandbox instanceof VmZone) return execInVmWorkload(ctx.sandbox, id, ctx.plan, p, tty);
    if (!runtime) return undefined;
    const entry = this.#entry(id);
    const file = join(entry.paths.dir, `exec-${randomUUID()}.json`);
    Runc.writeProcess(file, workloadExecProcess(ctx.plan, p, runtime));
    try {
      const proc = (ctx.sandbox as ZoneSandbox).startContainer(
        runtime.runc.execArgv(containerId(id), file, tty !== undefined),
        {
          tty,
          stdin: true,
        },
      );
      void proc.exited.then(() => rmSync(file, { force: true })); // runc read it at the start
      return proc;
    } catch (err) {
      rmSync(file, { force: true });
      throw err;
    }
  }

  /** Ends every workload process; records stay as they are (they come back FAILED). */
  async shutdown(): Promise<void> {
    this.#shuttingDown = true;
    await Promise.all(
      [...this.#workloads.values()].map(async (entry) => {
        await entry.starting?.catch(() => undefined);
        const run = entry.run;
        if (run) {
          run.group?.signalAll("SIGKILL");
          run.process.kill("SIGKILL");
          if (this.o.mode === "process") killGroup(run.process.pid);
          await run.finished;
        }
        entry.output.close();
      }),
    );
    this.#onDidChange.dispose();
  }

  #entry(id: string): WorkloadEntry {
    const entry = this.#workloads.get(id);
    if (!entry) throw new DevHostError("notFound", `workload ${id} not found`);
    return entry;
  }

  #setState(entry: WorkloadEntry, state: WorkloadState): void {
    entry.record.state = state;
    if (state !== WorkloadState.DESTROYED) this.#save(entry.record);
    this.#onDidChange.fire(this.#toProto(entry));
  }

  #changed(entry: WorkloadEntry): void {
    this.#save(entry.record);
    this.#onDidChange.fire(this.#toProto(entry));
  }

  #save(record: WorkloadRecord): void {
    this.o.store.save("workloads", record.id, {
      id: record.id,
      spec: toJson(WorkloadSpecSchema, record.spec),
      state: WorkloadState[record.state],
      errorMessage: record.errorMessage,
      exitCode: record.exitCode,
      createdAt: record.createdAt.toISOString(),
    });
  }

  #toProto(entry: WorkloadEntry): Workload {
    const r = entry.record;
    const spec = create(WorkloadSpecSchema, r.spec);
    spec.annotations = [
      ...r.spec.annotations.filter((a) => a.key !== rootAnnotation),
      {
        $typeName: "protect.control.v1.AnnotationSpec",
        key: rootAnnotation,
        value:
          this.o.mode === "process"
            ? "process mode: runs on the host filesystem as the dev host's user, not in the image's root"
            : `image ${r.spec.image?.digest ?? "?"} as root filesystem (${this.o.overlay ? "overlayfs, writable upper layer" : "private copy"})`,
      },
    ];
    return create(WorkloadSchema, {
      id: r.id,
      spec,
      status: {
        state: r.state,
        createdAt: timestampFromDate(r.createdAt),
        ...(r.exitCode !== undefined ? { exitStatus: { code: r.exitCode } } : {}),
        ...(r.errorMessage !== undefined ? { errorStatus: { message: r.errorMessage } } : {}),
        mountStatus: {
          mounts: (entry.plan?.mounts ?? []).map((m) => ({
            tag: "bind",
            hostPath: m.requested,
            targetPath: m.targetPath,
          })),
        },
      },
    });
  }
}

/** runc reports a process killed by signal n as exit 128 + n; the exit then says the signal. */
function fromRunc(exit: ProcessExit): ProcessExit {
  const signal = exit.code !== undefined && exit.code > 128 ? signalOfCode(exit.code - 128) : undefined;
  return signal ? { code: undefined, signal } : exit;
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // group already empty
  }
}

function tail(output: ConsoleBuffer): string {
  return (
    output.history().subarray(-600).toString("utf8").trim().split("\n").slice(-4).join(" | ") || "no output"
  );
}

function parseRecord(data: unknown): WorkloadRecord {
  const d = data as Record<string, unknown>;
  if (typeof d["id"] !== "string") throw new Error("record has no id");
  const state = (WorkloadState as unknown as Record<string, WorkloadState>)[String(d["state"])];
  if (state === undefined) throw new Error(`unknown state ${String(d["state"])}`);
  return {
    id: d["id"],
    spec: fromJson(WorkloadSpecSchema, (d["spec"] ?? {}) as JsonValue),
    state,
    errorMessage: typeof d["errorMessage"] === "string" ? d["errorMessage"] : undefined,
    exitCode: typeof d["exitCode"] === "number" ? d["exitCode"] : undefined,
    createdAt: new Date(String(d["createdAt"])),
  };
}

/**
 * Whether a process that exited before the dev host saw it enter the workload's root had
 * started its command: the setup and exec steps fail with 125 (setup, with its message), 126 or
 * 127 (cannot execute, not found), or die by the dev host's SIGKILL at the start deadline.
 */
function ranBeforeSeen(exit: ProcessExit, output: string): boolean {
  if (exit.signal) return false;
  const code = exitCodeOf(exit);
  return code !== 125 && code !== 126 && code !== 127 && !output.includes("workload setup failed");
}
