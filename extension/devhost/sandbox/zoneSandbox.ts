import { existsSync } from "node:fs";
import { delay } from "../../core/abort";
import type { Logger } from "../../core/log";
import type { ConsoleBuffer } from "../consoleBuffer";
import { DevHostError } from "../errors";
import { removeEmptyGroupsEverywhere } from "./cgroups";
import type { CgroupLimits, CgroupNode, CgroupSystem } from "./cgroups";
import {
  enterNamespaces,
  finalExec,
  initReadyMarker,
  withCgroups,
  withMountSetup,
  zoneInitArgv,
} from "./launch";
import type { FinalProcess, SetupStep, Tools } from "./launch";
import { socatTcpAddress } from "./network";
import type { BridgeNetwork, ZoneAddress } from "./network";
import { childrenOf, processStartTime } from "./procfs";
import { exitCodeOf, startProcess } from "./processes";
import type { ProcessExit, SandboxProcess } from "./processes";
import { toolEnv } from "./exec";
import { withTimeout } from "../timeout";
import type { ZoneResourcesSpec } from "../../proto/gen/protect/control/v1/common_pb";
import type { ZoneKind, ZoneRuntime } from "../zoneRuntime";
import type { VmHost } from "../vm/vmHost";

/**
 * How the dev host isolates its zones. "namespaces": own pid/mount/uts/ipc/net namespaces, a
 * cgroup with the zone's limits, a veth on the dev host bridge (needs root). "process": a plain
 * process group on the host, no limits, no own network — what is possible without root. "vm":
 * each zone a QEMU virtual machine (vm/vmZone.ts) with its own kernel.
 */
export type SandboxMode = ZoneKind;

/** Host-wide facilities every zone sandbox uses. */
export interface SandboxHost {
  readonly mode: SandboxMode;
  readonly tools: Tools;
  readonly cgroups: CgroupSystem;
  /** The group all of this dev host's zones live under; undefined without cgroups. */
  readonly cgroupBase: CgroupNode | undefined;
  readonly network: BridgeNetwork | undefined;
  /** QEMU, the guest kernel and agent: set when zones are VMs. */
  readonly vm?: VmHost | undefined;
  readonly log: Logger;
}

/** What a previous dev host run needs to find and remove a zone's leftovers after a crash. */
export interface ZoneRuntimeRecord {
  mode: SandboxMode;
  wrapperPid: number;
  wrapperStartTime?: string | undefined;
  initPid: number;
  cgroupDirs: { controllers: string[]; dir: string }[];
  hostInterface?: string | undefined;
}

/** Where a process is started: the zone itself, a running workload, or a new workload root. */
export type LaunchTarget =
  { kind: "zone" } | { kind: "workload"; mainPid: number } | { kind: "newWorkload"; steps: SetupStep[] };

export interface LaunchRequest {
  target: LaunchTarget;
  group: CgroupNode | undefined;
  final: FinalProcess;
  tty?: { columns: number; rows: number } | undefined;
  stdin: boolean;
}

/**
 * One zone's sandbox: its init process (whose output is the zone console), cgroup and network,
 * and the means to start processes inside it.
 */
export class ZoneSandbox implements ZoneRuntime {
  #stopped = false;

  private constructor(
    private readonly host: SandboxHost,
    readonly zoneId: string,
    readonly init: SandboxProcess,
    /** Host pid of the zone's init (pid 1 inside the zone in namespace mode). */
    readonly initPid: number,
    readonly cgroup: CgroupNode | undefined,
    private readonly initGroup: CgroupNode | undefined,
    readonly address: ZoneAddress | undefined,
    /** Resolves when the init has exited. */
    readonly exited: Promise<ProcessExit>,
  ) {}

  get mode(): SandboxMode {
    return this.host.mode;
  }

  get kind(): ZoneKind {
    return this.host.mode;
  }

  /** Console input goes to the init, which echoes it. */
  writeConsole(data: Buffer): void {
    this.init.write(data);
  }

  /** The zone's cgroup takes the new limits at once. */
  async applyResources(next: ZoneResourcesSpec): Promise<string> {
    this.setLimits({ cpus: next.targetCpus, memoryBytes: Number(next.targetMemory) * 1024 * 1024 });
    return `cgroup limits ${next.targetCpus} cpu, ${next.targetMemory} MiB`;
  }

  /**
   * Starts the zone's init and waits until it reports ready. `onCreated` runs once the
   * sandbox exists (processes, namespaces, cgroup) and before the network and readiness.
   */
  static async boot(
    host: SandboxHost,
    options: {
      zoneId: string;
      hostname: string;
      banner: string[];
      limits: CgroupLimits;
      console: ConsoleBuffer;
      onCreated: (runtime: ZoneRuntimeRecord) => void;
      readyTimeoutMs?: number;
    },
  ): Promise<ZoneSandbox> {
    const namespaces = host.mode === "namespaces";
    const short = options.zoneId.replace(/-/g, "").slice(0, 12);
    let cgroup: CgroupNode | undefined;
    let initGroup: CgroupNode | undefined;
    let init: SandboxProcess | undefined;
    let address: ZoneAddress | undefined;
    try {
      if (host.cgroupBase) {
        cgroup = host.cgroupBase.child(`zone-${short}`);
        cgroup.setLimits(options.limits);
        initGroup = cgroup.child("init");
      }
      const argv = withCgroups(
        host.tools,
        initGroup?.procsFiles() ?? [],
        zoneInitArgv(host.tools, { namespaces, hostname: options.hostname, banner: options.banner }),
      );
      init = startProcess(argv, { stdin: true, env: toolEnv(), cwd: "/", detached: !namespaces });
      const started = init;
      started.onStdout((d) => options.console.append(d));
      started.onStderr((d) => options.console.append(d));
      const exited = started.exited;
      let gone = false;
      void exited.then(() => (gone = true)); // polled below while waiting for the init's pid

      const initPid = namespaces ? await findChild(started.pid, () => gone) : started.pid;
      options.onCreated({
        mode: host.mode,
        wrapperPid: started.pid,
        wrapperStartTime: processStartTime(started.pid),
        initPid,
        cgroupDirs: cgroup?.dirs ?? [],
        hostInterface: undefined,
      });
      if (namespaces && host.network) address = await host.network.attach(options.zoneId, initPid);

      const ready = waitForMarker(options.console, initReadyMarker);
      started.write(Buffer.from("go\n"));
      const timeout = options.readyTimeoutMs ?? 15_000;
      const outcome = await withTimeout(
        Promise.race([ready.promise.then(() => "ready" as const), exited]),
        timeout,
      );
      ready.dispose();
      if (outcome === "timeout")
        throw new DevHostError("unavailable", `zone init did not report ready within ${timeout / 1000}s`);
      if (outcome !== "ready")
        throw new DevHostError(
          "internal",
          `zone init exited during boot (exit ${exitCodeOf(outcome)}): ${lastLines(options.console)}`,
        );
      return new ZoneSandbox(host, options.zoneId, started, initPid, cgroup, initGroup, address, exited);
    } catch (err) {
      await teardown(host, { init, cgroup, address }).catch((e: unknown) =>
        host.log.warn(`zone ${options.zoneId}: cleanup after failed boot`, e),
      );
      throw err;
    }
  }

  runtimeRecord(): ZoneRuntimeRecord {
    return {
      mode: this.host.mode,
      wrapperPid: this.init.pid,
      wrapperStartTime: processStartTime(this.init.pid),
      initPid: this.initPid,
      cgroupDirs: this.cgroup?.dirs ?? [],
      hostInterface: this.address?.hostInterface,
    };
  }

  /** A child cgroup for one workload (its processes and execs), or undefined without cgroups. */
  workloadGroup(workloadId: string): CgroupNode | undefined {
    return this.cgroup?.child(`w-${workloadId.replace(/-/g, "").slice(0, 12)}`);
  }

  /** The group zone-level execs join. */
  get execGroup(): CgroupNode | undefined {
    return this.initGroup;
  }

  setLimits(limits: CgroupLimits): void {
    if (!this.cgroup)
      throw new DevHostError(
        "failedPrecondition",
        `zone ${this.zoneId} has no cgroup (${this.host.cgroups.note})`,
      );
    try {
      this.cgroup.setLimits(limits);
    } catch (err) {
      throw new DevHostError(
        "failedPrecondition",
        `cannot apply the new limits: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
        { cause: err },
      );
    }
  }

  /** Starts a process in this zone (or in one of its workloads). */
  launch(request: LaunchRequest): SandboxProcess {
    if (this.#stopped) throw new DevHostError("failedPrecondition", `zone ${this.zoneId} is shutting down`);
    const tools = this.host.tools;
    if (this.host.mode === "process") {
      // No root: no chroot, no identity change, no namespaces. The process runs on the host as
      // the dev host's user, which the zone's annotations say.
      // The environment goes to execve as it is: no tool runs before the command here.
      const cwd = existsSync(request.final.cwd) ? request.final.cwd : "/";
      const env = Object.fromEntries(request.final.env);
      return this.#track(
        startProcess(request.final.command, {
          tty: request.tty,
          stdin: request.stdin,
          env,
          cwd,
          detached: true,
        }),
      );
    }
    const final = finalExec(tools, request.final, { controllingTerminal: request.tty !== undefined });
    const t = request.target;
    const inner =
      t.kind === "newWorkload"
        ? enterNamespaces(tools, this.initPid, { mount: false }, withMountSetup(tools, t.steps, final))
        : enterNamespaces(tools, t.kind === "workload" ? t.mainPid : this.initPid, { mount: true }, final);
    const argv = withCgroups(tools, request.group?.procsFiles() ?? [], inner);
    this.host.log.debug(
      `zone ${this.zoneId}: launch ${request.target.kind} (${request.final.command.length} argv words, tty=${Boolean(request.tty)})`,
    );
    return this.#track(
      startProcess(argv, { tty: request.tty, stdin: request.stdin, env: toolEnv(), cwd: "/" }),
    );
  }

  /**
   * Starts an OCI runtime command line (`runc run` / `runc exec`) for a container of this zone.
   * runc runs on the host side and puts the container into the zone's namespaces and cgroup
   * itself; it is tracked like any launch, so stop() ends it.
   */
  startContainer(
    argv: string[],
    options: { tty?: { columns: number; rows: number } | undefined; stdin: boolean },
  ): SandboxProcess {
    if (this.#stopped) throw new DevHostError("failedPrecondition", `zone ${this.zoneId} is shutting down`);
    return this.#track(
      startProcess(argv, { tty: options.tty, stdin: options.stdin, env: toolEnv(), cwd: "/" }),
    );
  }

  /** Processes started in this zone that still run; stop() ends them even without a pid namespace. */
  readonly #launched = new Set<SandboxProcess>();
  /** Process mode: every group a launch created — what a command leaves behind stays in it. */
  readonly #groups = new Set<number>();

  #track(proc: SandboxProcess): SandboxProcess {
    this.#launched.add(proc);
    if (this.host.mode === "process" && proc.pid > 0) this.#groups.add(proc.pid);
    void proc.exited.then(() => this.#launched.delete(proc)); // forget it once it is gone
    return proc;
  }

  /**
   * A TCP connection to address:port made from inside the zone's network namespace (socat
   * joined to it with nsenter), so listeners bound to the zone's loopback are reachable too.
   * In process mode the zone shares the host network and the dev host connects itself.
   */
  dial(address: string, port: number): SandboxProcess {
    if (this.#stopped) throw new DevHostError("failedPrecondition", `zone ${this.zoneId} is shutting down`);
    const target = socatTcpAddress(address, port);
    const inner =
      this.host.mode === "namespaces"
        ? [this.host.tools.nsenter, "-t", String(this.initPid), "-n", "--", "socat", "-", target]
        : ["socat", "-", target];
    const argv = withCgroups(this.host.tools, this.initGroup?.procsFiles() ?? [], inner);
    return this.#track(startProcess(argv, { stdin: true, env: toolEnv(), cwd: "/" }));
  }

  /** Stops the init (taking every zone process with it) and removes cgroup and network. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const proc of this.#launched) proc.kill("SIGKILL");
    for (const pgid of this.#groups) killGroup(pgid);
    await teardown(this.host, {
      init: this.init,
      initPid: this.host.mode === "namespaces" ? this.initPid : undefined,
      cgroup: this.cgroup,
      address: this.address,
    });
  }
}

async function teardown(
  host: SandboxHost,
  parts: {
    init: SandboxProcess | undefined;
    initPid?: number | undefined;
    cgroup: CgroupNode | undefined;
    address: ZoneAddress | undefined;
  },
): Promise<void> {
  const started = Date.now();
  if (parts.init) {
    // Closing stdin is the init's orderly shutdown; as pid 1 its exit ends the whole zone.
    parts.init.endInput();
    // dash as pid 1 can sit in `wait` for a while after its last job ended; a zone that was
    // asked to stop gets a short grace, then is powered off (SIGKILL to pid 1 ends the zone).
    const exited = (await withTimeout(parts.init.exited, 250)) !== "timeout";
    if (!exited) {
      if (parts.initPid !== undefined) {
        // Kill pid 1 and let its parent (unshare) reap it: unshare exits only once the zone's
        // pid namespace is fully torn down, so nothing of the zone outlives this step.
        killPid(parts.initPid);
        if ((await withTimeout(parts.init.exited, 2000)) === "timeout") parts.init.kill("SIGKILL");
      } else {
        parts.init.kill("SIGKILL");
        if (host.mode === "process") killGroup(parts.init.pid);
      }
      await withTimeout(parts.init.exited, 2000);
    }
    if (host.mode === "process") killGroup(parts.init.pid);
  }
  const initDone = Date.now();
  if (parts.cgroup) {
    await parts.cgroup.destroy();
    await removeEmptyGroupsEverywhere([parts.cgroup.relativePath]);
  }
  const cgroupDone = Date.now();
  if (parts.address && host.network) await host.network.detach(parts.address);
  host.log.debug(
    `zone teardown: init ${initDone - started} ms, cgroup ${cgroupDone - initDone} ms, network ${Date.now() - cgroupDone} ms`,
  );
}

function killPid(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // group already empty
  }
}

async function findChild(pid: number, gone: () => boolean): Promise<number> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const child = childrenOf(pid)[0];
    if (child !== undefined) return child;
    if (gone()) throw new DevHostError("internal", "zone init exited before it started");
    if (Date.now() > deadline) throw new DevHostError("internal", "zone init did not start within 5s");
    await delay(5);
  }
}

function waitForMarker(console: ConsoleBuffer, marker: string): { promise: Promise<void>; dispose(): void } {
  let tail = console.history().subarray(-4096).toString("utf8");
  let sub: { dispose(): unknown } | undefined;
  const promise = new Promise<void>((resolve) => {
    if (tail.includes(marker)) return resolve();
    sub = console.onData((d) => {
      tail = (tail + d.toString("utf8")).slice(-4096);
      if (tail.includes(marker)) resolve();
    });
  });
  return { promise, dispose: () => sub?.dispose() };
}

function lastLines(console: ConsoleBuffer): string {
  return console.history().subarray(-400).toString("utf8").trim().split("\n").slice(-3).join(" | ");
}
