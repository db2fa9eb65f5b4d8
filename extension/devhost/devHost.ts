import { randomUUID } from "node:crypto";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { messageOf } from "../core/errors";
import type { Logger } from "../core/log";
import { ControlService } from "../proto/gen/protect/control/v1/control_pb";
import { DevHostError } from "./errors";
import { HostLog } from "./hostLog";
import { wrapService } from "./rpc/wrap";
import { zonesRpc } from "./rpc/zonesRpc";
import { CgroupSystem, removeEmptyGroupsEverywhere } from "./sandbox/cgroups";
import type { CgroupNode } from "./sandbox/cgroups";
import { succeeds } from "./sandbox/exec";
import type { Tools } from "./sandbox/launch";
import { BridgeNetwork } from "./sandbox/network";
import type { SandboxHost, SandboxMode } from "./sandbox/zoneSandbox";
import { isSameProcess, processStartTime } from "./sandbox/procfs";
import { GrpcServer } from "./server";
import { StateStore } from "./stateStore";
import { ZoneManager } from "./zones";
import { WorkloadManager } from "./workloads";
import { workloadsRpc } from "./rpc/workloadsRpc";
import { execRpc } from "./rpc/execRpc";
import { ImageStore } from "./images/imageStore";
import { importImage, listImages, pullImage, removeImage } from "./images/imageService";
import { overlayWorks } from "./sandbox/overlay";
import { MetricsSampler, prometheusText, startPrometheus } from "./metrics";
import { metricsRpc } from "./rpc/metricsRpc";
import { hostRpc } from "./rpc/hostRpc";
import type { Server } from "node:http";
import { startEmbeddedSsh } from "./ssh/sshServer";
import type { EmbeddedSsh } from "./ssh/sshServer";
import { ZoneState } from "../proto/gen/protect/control/v1/common_pb";
import { devHostVersion } from "./version";
import { VmHost } from "./vm/vmHost";
import type { AcceleratorChoice } from "./vm/accel";
import { findContainerRuntime } from "./workloadContainer";
import type { ContainerRuntime } from "./workloadContainer";

/** Where `zonectl up` puts workspace copies and named volumes by default. */
const defaultMountRoots = ["/var/lib/styrolite-zones"];

/** Everything `zonectl dev-host` and the standalone entry accept. */
export interface DevHostOptions {
  /** Unix socket to serve ControlService on. Default: <stateDir>/daemon.socket. */
  socketPath?: string | undefined;
  /** Where zones, workloads and images are kept. */
  stateDir: string;
  /**
   * "auto" (default): namespaces when root and the tools work, else plain process groups.
   * "vm": every zone a QEMU virtual machine with its own kernel (root, QEMU and a kernel needed).
   */
  sandbox?: "auto" | SandboxMode | undefined;
  /** How VM zones run: "auto" (KVM when a probe boot works, else TCG), "kvm" or "tcg". */
  vmAccelerator?: AcceleratorChoice | undefined;
  /** "127.0.0.1:PORT": Prometheus text at /metrics/resource. */
  prometheus?: string | undefined;
  /** "127.0.0.1:PORT": the embedded SSH server. */
  ssh?: string | undefined;
  /**
   * Folders workload bind mounts may come from, besides the defaults (the launch workspace and
   * volume roots, the state folder, the temp folder).
   */
  mountRoots?: string[] | undefined;
  /** authorized_keys files for the embedded SSH server (default: the user's). */
  authorizedKeys?: string[] | undefined;
  log: Logger;
}

interface HostFile {
  hostUuid: string;
  nextDomid: number;
  lastStart?: string;
  lastStop?: { at: string; clean: boolean } | undefined;
}

/**
 * The dev host: one object owning the state store, the sandbox facilities, the zone and
 * workload managers and the gRPC server, started and stopped as a unit.
 */
export class DevHost {
  #server: GrpcServer | undefined;
  #stopped = false;
  #hostFile!: HostFile;
  #cgroupBase: CgroupNode | undefined;
  #containers: ContainerRuntime | undefined;
  #network: BridgeNetwork | undefined;
  #zones: ZoneManager | undefined;
  #workloads: WorkloadManager | undefined;
  #prometheus: Server | undefined;
  #ssh: EmbeddedSsh | undefined;
  readonly #sampler = new MetricsSampler();
  readonly hostLog: HostLog;
  readonly log: Logger;
  readonly socketPath: string;
  readonly stateDir: string;
  #store!: StateStore;
  #sandbox!: SandboxHost;

  private constructor(private readonly options: DevHostOptions) {
    this.hostLog = new HostLog(options.log);
    this.log = this.hostLog.logger;
    this.stateDir = resolve(options.stateDir);
    this.socketPath = resolve(options.socketPath ?? join(this.stateDir, "daemon.socket"));
  }

  static async start(options: DevHostOptions): Promise<DevHost> {
    const host = new DevHost(options);
    try {
      await host.#start();
    } catch (err) {
      await host.stop().catch(() => undefined);
      throw err;
    }
    return host;
  }

  get sandboxMode(): SandboxMode {
    return this.#sandbox.mode;
  }

  get zones(): ZoneManager {
    if (!this.#zones) throw new DevHostError("unavailable", "the dev host is not running");
    return this.#zones;
  }

  async #start(): Promise<void> {
    this.#store = new StateStore(this.stateDir, this.log);
    this.#lock();
    this.#hostFile = this.#readHostFile();
    const previousStop = describePreviousStop(this.#hostFile);
    this.#hostFile.lastStart = new Date().toISOString();
    this.#hostFile.lastStop = undefined;
    this.#writeHostFile();

    this.#sandbox = await this.#sandboxHost();
    this.log.info(
      `dev host ${devHostVersion}: state ${this.stateDir}, sandbox ${this.#sandbox.mode}, ${this.#sandbox.cgroups.note}`,
    );

    const zones = new ZoneManager(
      this.#store,
      this.#sandbox,
      {
        hostUuid: this.#hostFile.hostUuid,
        nextDomid: () => {
          const id = this.#hostFile.nextDomid++;
          this.#writeHostFile();
          return id;
        },
      },
      this.log,
    );
    this.#zones = zones;
    await zones.restore(previousStop);

    const images = await ImageStore.open(join(this.stateDir, "images"), this.log);
    const overlay =
      this.#sandbox.mode !== "process" && (await overlayWorks(this.#sandbox.tools, this.#store.runDir));
    if (this.#sandbox.mode !== "process" && !overlay)
      this.log.warn("dev host: overlayfs is unavailable here; each workload gets a copy of its image root");
    if (this.#containers) await removeStaleContainers(this.#containers, this.log);
    const workloads = new WorkloadManager({
      containers: this.#containers,
      tools: this.#sandbox.tools,
      store: this.#store,
      zones,
      images,
      mode: this.#sandbox.mode,
      overlay,
      mountRoots: [
        ...defaultMountRoots,
        this.stateDir,
        tmpdir(),
        ...(this.options.mountRoots ?? []).map((r) => resolve(r)),
      ],
      log: this.log,
    });
    this.#workloads = workloads;
    workloads.restore();
    images.setRemovalGuard((digest) => workloads.imageInUse(digest));
    zones.beforeDestroy = (zoneId) => workloads.destroyAllIn(zoneId);

    const impl = wrapService(
      ControlService,
      {
        ...zonesRpc({
          zones,
          hostLog: this.hostLog,
          hostStatus: () => ({
            hostUuid: this.#hostFile.hostUuid,
            version: devHostVersion,
            ipv4: this.#network?.gateway ?? "127.0.0.1",
            mac: "",
          }),
          workloadEvents: workloads.onDidChange,
        }),
        ...workloadsRpc(workloads),
        ...execRpc(zones, workloads),
        ...metricsRpc(zones, this.#sampler),
        ...hostRpc(),
        pullImage: (req, ctx) => pullImage(images, req, ctx.signal),
        importImage: (reqs, ctx) => importImage(images, reqs, ctx.signal),
        listImages: () => listImages(images),
        removeImage: (req) => removeImage(images, req),
      },
      this.log,
    );
    this.#server = new GrpcServer(impl);
    await this.#server.listen(this.socketPath);
    this.log.info(`dev host: serving protect.control.v1.ControlService on ${this.socketPath}`);
    zones.onDidChange((z) => {
      if (z.status?.state !== ZoneState.READY) this.#sampler.forget(z.id);
    });

    if (this.options.prometheus) {
      this.#prometheus = await startPrometheus(this.options.prometheus, () => this.#scrape(), this.log);
      const a = this.#prometheus.address();
      this.prometheusUrl =
        a && typeof a === "object"
          ? `http://${a.family === "IPv6" ? `[${a.address}]` : a.address}:${a.port}/metrics/resource`
          : undefined;
      this.log.info(`dev host: Prometheus text at ${this.prometheusUrl}`);
    }
    if (this.options.ssh) {
      this.#ssh = await startEmbeddedSsh({
        address: this.options.ssh,
        stateDir: this.stateDir,
        socketPath: this.socketPath,
        authorizedKeyFiles: this.options.authorizedKeys,
        log: this.log,
      });
    }
  }

  /** The embedded SSH server, when --ssh was given. */
  get ssh(): EmbeddedSsh | undefined {
    return this.#ssh;
  }

  /** Where Prometheus text is served, when --prometheus was given. */
  prometheusUrl: string | undefined;

  async #scrape(): Promise<string> {
    const zones = this.zones
      .list()
      .filter((z) => z.status?.state === ZoneState.READY)
      .flatMap((z) => {
        const sandbox = this.zones.maybeSandbox(z.id);
        return sandbox
          ? [{ zoneId: z.id, sandbox, cpus: z.status?.resourceStatus?.activeResources?.targetCpus ?? 1 }]
          : [];
      });
    return prometheusText(this.#sampler, zones);
  }

  async #sandboxHost(): Promise<SandboxHost> {
    const tools = findTools();
    const wanted = this.options.sandbox ?? "auto";
    if (wanted === "vm") return this.#vmSandboxHost(tools);
    let mode: SandboxMode = "process";
    let why = "";
    if (wanted !== "process") {
      if (process.getuid?.() !== 0) why = "not running as root";
      else if (!tools) why = "nsenter/unshare/setsid not found";
      else if (
        !(await succeeds(tools.unshare, [
          "--pid",
          "--fork",
          "--mount",
          "--uts",
          "--ipc",
          "--net",
          "--mount-proc",
          "true",
        ]))
      )
        why = "unshare of pid/mount/net namespaces fails here";
      else {
        const found = findContainerRuntime(join(this.stateDir, "runc"), this.log);
        if (typeof found === "string") why = found;
        else {
          mode = "namespaces";
          this.#containers = found;
        }
      }
      if (wanted === "namespaces" && mode !== "namespaces")
        throw new DevHostError("failedPrecondition", `namespace sandboxes are unavailable: ${why}`);
      if (why) this.log.warn(`dev host: zones run as plain process groups (${why})`);
    }
    const cgroups =
      mode === "namespaces"
        ? CgroupSystem.detect(this.log)
        : CgroupSystem.none("process mode: zones run unlimited");
    this.#cgroupBase =
      cgroups.version === "none" ? undefined : cgroups.group(`styrolite-devhost-${process.pid}`);
    this.#network = mode === "namespaces" ? await BridgeNetwork.plan(this.stateDir, this.log) : undefined;
    return {
      mode,
      tools: tools ?? { sh: "/bin/sh", nsenter: "nsenter", unshare: "unshare", env: "env", setsid: "setsid" },
      cgroups,
      cgroupBase: this.#cgroupBase,
      network: this.#network,
      log: this.log,
    };
  }

  /** VM zones: QEMU, a guest kernel and its initramfs, the bridge for their tap devices. */
  async #vmSandboxHost(tools: Tools | undefined): Promise<SandboxHost> {
    if (process.getuid?.() !== 0)
      throw new DevHostError("failedPrecondition", "VM zones are unavailable: not running as root");
    if (!tools)
      throw new DevHostError(
        "failedPrecondition",
        "VM zones are unavailable: nsenter/unshare/setsid not found",
      );
    this.#network = await BridgeNetwork.plan(this.stateDir, this.log);
    const vm = await VmHost.prepare({
      stateDir: this.stateDir,
      runDir: this.#store.runDir,
      network: this.#network,
      accelerator: this.options.vmAccelerator ?? "auto",
      log: this.log,
    });
    return {
      mode: "vm",
      tools,
      cgroups: CgroupSystem.none("VM zones: each VM's own vCPUs and memory are its limits"),
      cgroupBase: undefined,
      network: this.#network,
      vm,
      log: this.log,
    };
  }

  /** Stops everything this dev host started: zones, cgroups, bridge, socket. Idempotent. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    const problems: string[] = [];
    const timings: string[] = [];
    const step = async (what: string, fn: () => Promise<void> | void): Promise<void> => {
      const started = Date.now();
      try {
        await fn();
      } catch (err) {
        problems.push(`${what}: ${messageOf(err)}`);
      }
      timings.push(`${what} ${Date.now() - started} ms`);
    };
    await step("ssh", () => this.#ssh?.close());
    await step("server", () => this.#server?.close(this.socketPath));
    await step(
      "prometheus",
      () =>
        new Promise<void>((resolve) => {
          if (!this.#prometheus) return resolve();
          this.#prometheus.close(() => resolve());
          this.#prometheus.closeAllConnections();
        }),
    );
    await step("workloads", () => this.#workloads?.shutdown());
    await step("zones", () => this.#zones?.shutdown());
    await step("network", () => this.#network?.down());
    await step("cgroups", async () => {
      await this.#cgroupBase?.destroy();
      if (this.#cgroupBase) await removeEmptyGroupsEverywhere([this.#cgroupBase.relativePath]);
    });
    if (this.#hostFile) {
      this.#hostFile.lastStop = { at: new Date().toISOString(), clean: problems.length === 0 };
      await step("state", () => this.#writeHostFile());
    }
    await step("lock", () => this.#unlock());
    if (problems.length) this.log.warn(`dev host: stopped with problems: ${problems.join("; ")}`);
    else this.log.info(`dev host: stopped cleanly (${timings.join(", ")})`);
  }

  #lock(): void {
    const file = join(this.stateDir, "devhost.pid");
    if (existsSync(file)) {
      const [pidText, start] = readFileSync(file, "utf8").trim().split(" ");
      const pid = Number(pidText);
      if (pid > 0 && pid !== process.pid && isSameProcess(pid, start)) {
        throw new DevHostError("alreadyExists", `another dev host (pid ${pid}) is using ${this.stateDir}`);
      }
    }
    writeFileSync(file, `${process.pid} ${processStartTime(process.pid) ?? ""}\n`, { mode: 0o600 });
  }

  #unlock(): void {
    rmSync(join(this.stateDir, "devhost.pid"), { force: true });
  }

  #readHostFile(): HostFile {
    const data = this.#store.readFile("host.json") as Partial<HostFile> | undefined;
    return {
      hostUuid: typeof data?.hostUuid === "string" ? data.hostUuid : randomUUID(),
      nextDomid: typeof data?.nextDomid === "number" ? data.nextDomid : 1,
      ...(data?.lastStart ? { lastStart: data.lastStart } : {}),
      lastStop: data?.lastStop,
    };
  }

  #writeHostFile(): void {
    this.#store.writeFile("host.json", this.#hostFile);
  }
}

function describePreviousStop(file: HostFile): string {
  if (file.lastStop)
    return `it stopped ${file.lastStop.clean ? "cleanly" : "with problems"} at ${file.lastStop.at}`;
  if (file.lastStart) return `the run started at ${file.lastStart} ended without shutting down`;
  return "no record of the previous run";
}

/** Finds the host tools the sandboxes use; undefined when any is missing. */
function findTools(): Tools | undefined {
  const dirs = ["/usr/bin", "/bin", "/usr/sbin", "/sbin"];
  const find = (name: string): string | undefined =>
    dirs.map((d) => join(d, name)).find((p) => existsSync(p));
  const sh = find("sh");
  const nsenter = find("nsenter");
  const unshare = find("unshare");
  const env = find("env");
  const setsid = find("setsid");
  if (!sh || !nsenter || !unshare || !env || !setsid) return undefined;
  return { sh, nsenter, unshare, env, setsid };
}

/** Containers an earlier run of this state folder left (it was killed): nothing of them may stay. */
async function removeStaleContainers(runtime: ContainerRuntime, log: Logger): Promise<void> {
  try {
    for (const c of await runtime.runc.list()) {
      log.info(`leftovers: removing container ${c.id} (${c.status}) from an earlier run`);
      await runtime.runc
        .delete(c.id)
        .catch((err: unknown) => log.warn(`leftovers: runc delete ${c.id}`, err));
    }
  } catch (err) {
    log.warn("leftovers: runc list failed", err);
  }
}
