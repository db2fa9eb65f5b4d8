import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { delay } from "../../core/abort";
import { messageOf } from "../../core/errors";
import type { Logger } from "../../core/log";
import type { ZoneResourcesSpec } from "../../proto/gen/protect/control/v1/common_pb";
import { capabilitiesOfMask } from "../oci/ociConfig";
import type { SeccompProfile } from "../oci/seccompProfile";
import type { HelloReply } from "../../proto/gen/styrolite/guest/v1/agent_pb";
import type { ConsoleBuffer } from "../consoleBuffer";
import { DevHostError } from "../errors";
import { toolEnv } from "../sandbox/exec";
import { finalExec } from "../sandbox/launch";
import type { Tools } from "../sandbox/launch";
import { socatTcpAddress } from "../sandbox/network";
import type { ZoneAddress } from "../sandbox/network";
import { processStartTime } from "../sandbox/procfs";
import { exitCodeOf, startProcess } from "../sandbox/processes";
import type { ProcessExit, SandboxProcess } from "../sandbox/processes";
import type { LaunchRequest, ZoneRuntimeRecord } from "../sandbox/zoneSandbox";
import { withTimeout } from "../timeout";
import type { ZoneKind, ZoneRuntime } from "../zoneRuntime";
import type { Accelerator } from "./qemu";
import { guestCmdline, qemuArgv } from "./qemu";
import type { QemuShare } from "./qemu";
import { QmpClient } from "./qmp";
import { dialInGuest, GuestLink } from "./guestLink";
import { agentServingMarker } from "./guestScripts";
import type { GuestSpawn } from "./guestLink";
import type { VmHost } from "./vmHost";

/** How long a VM gets to boot to a running agent: TCG on a busy 2-core machine is slow. */
export const vmReadyTimeoutMs = 300_000;

const mib = 1024 * 1024;

/** What the guest reported when it came up: proof of its own kernel, boot and memory. */
export interface GuestFacts {
  kernelRelease: string;
  bootId: string;
  memTotalBytes: number;
  accelerator: Accelerator;
  /** The capabilities root holds in the guest: what a privileged workload may get there. */
  capabilities: string[];
}

/** Guest readings for metrics: memory, CPU use since the last reading, processes. */
export interface GuestReadings {
  memory: { total: number; used: number; free: number };
  cpu: { percent: number; perCpu: number[] } | undefined;
  uptimeSeconds: number;
  processes: {
    pid: number;
    parent: number;
    executable: string;
    cmdline: string;
    cwd: string;
    residentBytes: number;
    virtualBytes: number;
    startTicks: number;
    uid: number;
    gid: number;
  }[];
}

export interface VmZoneOptions {
  zoneId: string;
  hostname: string;
  resources: ZoneResourcesSpec;
  console: ConsoleBuffer;
  /** Host tools; their paths are valid in the guest too (it runs the host's /usr). */
  tools: Tools;
  onCreated: (runtime: ZoneRuntimeRecord) => void;
  readyTimeoutMs?: number;
  /** The kernel image the zone's spec names (ZoneSpec.kernel), which this dev host cannot boot yet. */
  requestedKernel?: string | undefined;
}

/**
 * A zone that is a QEMU virtual machine: its own kernel (booted from the dev host's kernel
 * package with a small initramfs), vCPUs and memory from the zone's resources, the serial
 * console as the zone console, a tap device on the dev host bridge, and a guest agent reached
 * over a virtio-serial port that runs the processes the dev host plans.
 *
 * QEMU runs in its own mount namespace (workload roots are mounted there and shared into the
 * guest by 9p, never appearing in the host's mount table) and dies with the dev host (parent
 * death signal), so a VM never outlives the process that manages it.
 */
export class VmZone implements ZoneRuntime {
  readonly kind: ZoneKind = "vm";
  readonly cgroup = undefined;
  readonly execGroup = undefined;
  #stopped = false;
  #cpu: { ticks: number[][] } | undefined;
  readonly #launched = new Set<SandboxProcess>();

  private constructor(
    private readonly host: VmHost,
    readonly zoneId: string,
    readonly qemu: SandboxProcess,
    private readonly qmp: QmpClient,
    readonly link: GuestLink,
    readonly address: ZoneAddress | undefined,
    /** The zone's folder: sockets and the folder shared into the guest as /run/zone. */
    readonly dir: string,
    readonly facts: GuestFacts,
    private readonly tools: Tools,
    private readonly bootMemoryMiB: number,
    private readonly maxCpus: number,
    readonly exited: Promise<ProcessExit>,
  ) {}

  /** Host folder shared into the guest at /run/zone: workload roots and bundles go here. */
  get shareDir(): string {
    return join(this.dir, "share");
  }

  /** The guest path of a file under shareDir. */
  guestPath(hostPath: string): string {
    if (!hostPath.startsWith(`${this.shareDir}/`))
      throw new DevHostError("internal", `${hostPath} is not in zone ${this.zoneId}'s share`);
    return `/run/zone/${hostPath.slice(this.shareDir.length + 1)}`;
  }

  /** What generating a workload's OCI config needs of the guest: its capabilities, the profile. */
  get containerRuntime(): { seccomp: SeccompProfile | undefined; capabilities: readonly string[] } {
    return { seccomp: this.host.seccomp, capabilities: this.facts.capabilities };
  }

  get log(): Logger {
    return this.host.log;
  }

  /** QEMU's pid: its mount namespace is where workload roots are mounted. */
  get qemuPid(): number {
    return this.qemu.pid;
  }

  /** Boots the VM and waits until its agent answers. */
  static async boot(host: VmHost, o: VmZoneOptions): Promise<VmZone> {
    const verdict = await host.verdict().catch((err: unknown) => {
      throw new DevHostError("failedPrecondition", `VM zones cannot run here: ${messageOf(err)}`);
    });
    const short = o.zoneId.replace(/-/g, "").slice(0, 12);
    const dir = join(host.zonesDir, short);
    const qmpSocket = join(dir, "qmp.sock");
    const agentSocket = join(dir, "agent.sock");
    if (Buffer.byteLength(agentSocket) > 100)
      throw new DevHostError(
        "failedPrecondition",
        `the state folder's path is too long for VM sockets: ${agentSocket}`,
      );
    const targetCpus = Math.max(1, o.resources.targetCpus);
    const maxCpus = Math.max(targetCpus, o.resources.maxCpus);
    const targetMiB = Number(o.resources.targetMemory);
    const bootMemoryMiB = Math.max(targetMiB, Number(o.resources.maxMemory));
    let address: ZoneAddress | undefined;
    let qemu: SandboxProcess | undefined;
    let qmp: QmpClient | undefined;
    let link: GuestLink | undefined;
    try {
      mkdirSync(join(dir, "share"), { recursive: true, mode: 0o700 });
      let net: { tap: string; mac: string; ifup: string } | undefined;
      if (host.network) {
        address = await host.network.reserve(o.zoneId, "szt");
        const ifup = join(dir, "ifup");
        // QEMU runs it with the tap's name once it created the device, before the guest starts.
        writeFileSync(ifup, `#!/bin/sh\nexec ip link set "$1" master ${host.network.bridge} up\n`, {
          mode: 0o700,
        });
        net = { tap: address.hostInterface, mac: address.mac, ifup };
      }
      const shares: QemuShare[] = [
        { tag: "usr", path: "/usr", readOnly: true, passthrough: false },
        { tag: "agent", path: host.agentDir, readOnly: true, passthrough: false },
        { tag: "zone", path: join(dir, "share"), readOnly: false, passthrough: true },
      ];
      if (host.node.share)
        shares.push({ tag: "node", path: host.node.share, readOnly: true, passthrough: false });
      const argv = qemuArgv(host.qemu, {
        name: `zone-${short}`,
        accelerator: verdict.accelerator,
        // Every vCPU up to max exists from the start; those beyond the target are taken offline
        // in the guest, and UpdateZoneResources brings them online (or offline) again.
        cpus: maxCpus,
        maxCpus,
        memoryMiB: bootMemoryMiB,
        kernel: host.kernel.image,
        initrd: host.initrd,
        cmdline: guestCmdline({
          hostname: o.hostname,
          ip: address
            ? { cidr: `${address.ip}/${address.prefixLength}`, gateway: address.gateway }
            : undefined,
          node: host.node.path,
          nodeShare: host.node.share !== undefined,
        }),
        qmpSocket,
        agentSocket,
        shares,
        net,
        balloon: true,
      });
      o.console.append(
        `styrolite dev host: zone ${o.zoneId} is a ${verdict.accelerator.toUpperCase()} virtual machine: ${maxCpus} vCPU, ${bootMemoryMiB} MiB, kernel ${host.kernel.release}\r\n`,
      );
      if (o.requestedKernel)
        o.console.append(
          `styrolite dev host: the zone's kernel image ${o.requestedKernel.slice(0, 19)} is not booted: VM zones run the dev host's kernel package\r\n`,
        );
      const started = startProcess(
        [
          "/usr/bin/setpriv",
          "--pdeathsig",
          "SIGKILL",
          "--",
          o.tools.unshare,
          "--mount",
          "--propagation",
          "private",
          "--",
          ...argv,
        ],
        { stdin: true, env: toolEnv(), cwd: dir },
      );
      qemu = started;
      started.onStdout((d) => o.console.append(d));
      started.onStderr((d) => o.console.append(d));
      let gone: ProcessExit | undefined;
      void started.exited.then((e) => (gone = e)); // checked while waiting for the guest
      o.onCreated(runtimeRecordOf(started.pid, address));

      const deadline = Date.now() + (o.readyTimeoutMs ?? vmReadyTimeoutMs);
      const failIfGone = (): void => {
        if (gone)
          throw new DevHostError(
            "internal",
            `QEMU exited during boot (exit ${exitCodeOf(gone)}): ${lastLines(o.console)}`,
          );
      };
      const connected = await Promise.race([QmpClient.connect(qmpSocket, 15_000), started.exited]);
      if (!(connected instanceof QmpClient)) failIfGone();
      qmp = connected as QmpClient;
      await waitForConsole(o.console, agentServingMarker, deadline, () => gone !== undefined);
      failIfGone();
      link = new GuestLink(agentSocket);
      const hello = await helloUntil(link, deadline, () => gone !== undefined);
      failIfGone();
      const status = await link.agent.readFile({ path: "/proc/self/status" }, { timeoutMs: 30_000 });
      const capBnd =
        /^CapBnd:\s*([0-9a-f]+)$/m.exec(Buffer.from(status.content).toString("utf8"))?.[1] ?? "0";
      if (bootMemoryMiB > targetMiB) await balloonTo(qmp, targetMiB, balloonTimeoutMs);
      const zone = new VmZone(
        host,
        o.zoneId,
        started,
        qmp,
        link,
        address,
        dir,
        {
          kernelRelease: hello.kernelRelease,
          bootId: hello.bootId,
          memTotalBytes: Number(hello.memTotalBytes),
          accelerator: verdict.accelerator,
          capabilities: capabilitiesOfMask(BigInt(`0x${capBnd}`)),
        },
        o.tools,
        bootMemoryMiB,
        maxCpus,
        started.exited,
      );
      if (targetCpus < maxCpus) await zone.#setOnlineCpus(targetCpus);
      return zone;
    } catch (err) {
      await teardown(host, { qemu, qmp, link, address, dir }).catch((e: unknown) =>
        host.log.warn(`zone ${o.zoneId}: cleanup after a failed VM boot`, e),
      );
      throw err;
    }
  }

  runtimeRecord(): ZoneRuntimeRecord {
    return runtimeRecordOf(this.qemu.pid, this.address);
  }

  writeConsole(data: Buffer): void {
    if (!this.#stopped) this.qemu.write(data);
  }

  /**
   * Memory moves with the balloon, up to what the VM booted with (its max); vCPUs go online or
   * offline in the guest, up to the vCPUs it booted with. Anything beyond is refused: QEMU
   * cannot add memory or CPUs this VM was not started with.
   */
  async applyResources(next: ZoneResourcesSpec): Promise<string> {
    const memory = Number(next.targetMemory);
    const cpus = Math.max(1, next.targetCpus);
    if (memory > this.bootMemoryMiB)
      throw new DevHostError(
        "failedPrecondition",
        `a VM zone's memory can change live only up to the ${this.bootMemoryMiB} MiB it booted with (asked ${memory} MiB); set max_memory when creating it`,
      );
    if (cpus > this.maxCpus)
      throw new DevHostError(
        "failedPrecondition",
        `a VM zone's vCPUs can change live only up to the ${this.maxCpus} it booted with (asked ${cpus}); set max_cpus when creating it`,
      );
    const actual = await balloonTo(this.qmp, memory, balloonTimeoutMs);
    const online = await this.#setOnlineCpus(cpus);
    const short = actual === memory ? "" : ` (the guest gave up ${this.bootMemoryMiB - actual} MiB so far)`;
    return `balloon target ${memory} MiB of ${this.bootMemoryMiB}${short}, ${online} of ${this.maxCpus} vCPUs online`;
  }

  /** Brings vCPUs 1…n-1 online and the rest offline (vCPU 0 always stays); returns the count. */
  async #setOnlineCpus(count: number): Promise<number> {
    for (let cpu = 1; cpu < this.maxCpus; cpu++) {
      await this.link.agent.writeFile({
        path: `/sys/devices/system/cpu/cpu${cpu}/online`,
        content: Buffer.from(cpu < count ? "1" : "0"),
      });
    }
    return count;
  }

  /** A zone-level exec: runs in the guest's own system (its root, the host's /usr). */
  launch(request: LaunchRequest): SandboxProcess {
    if (this.#stopped) throw new DevHostError("failedPrecondition", `zone ${this.zoneId} is shutting down`);
    if (request.target.kind !== "zone")
      throw new DevHostError(
        "internal",
        "workload processes of a VM zone start through its container runtime",
      );
    return this.spawn({
      argv: finalExec(this.tools, { ...request.final, root: "/" }),
      env: guestToolEnv,
      tty: request.tty,
      stdin: request.stdin,
    });
  }

  /** Any process in the guest, tracked so that stop() ends the calls. */
  spawn(spec: GuestSpawn): SandboxProcess {
    if (this.#stopped) throw new DevHostError("failedPrecondition", `zone ${this.zoneId} is shutting down`);
    const proc = this.link.spawn(spec);
    this.#launched.add(proc);
    void proc.exited.then(() => this.#launched.delete(proc)); // forget it once it is gone
    return proc;
  }

  /** Runs a short command in the guest and returns its output; rejects on a non-zero exit. */
  async run(argv: string[], timeoutMs = 60_000): Promise<string> {
    const proc = this.spawn({ argv, env: guestToolEnv, stdin: false });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    proc.onStdout((d) => out.push(d));
    proc.onStderr((d) => err.push(d));
    const exit = await withTimeout(proc.exited, timeoutMs);
    if (exit === "timeout") {
      proc.kill("SIGKILL");
      throw new DevHostError(
        "unavailable",
        `${argv[0]} did not finish within ${timeoutMs / 1000} s in zone ${this.zoneId}`,
      );
    }
    if (exitCodeOf(exit) !== 0)
      throw new DevHostError(
        "internal",
        `${argv.join(" ").slice(0, 120)} failed in zone ${this.zoneId} (exit ${exitCodeOf(exit)}): ${Buffer.concat(err).toString("utf8").trim().slice(-400)}`,
      );
    return Buffer.concat(out).toString("utf8");
  }

  dial(address: string, port: number): SandboxProcess {
    if (this.#stopped) throw new DevHostError("failedPrecondition", `zone ${this.zoneId} is shutting down`);
    socatTcpAddress(address, port); // the same checks as for a namespace zone
    const proc = dialInGuest(this.link.agent, address === "localhost" ? "127.0.0.1" : address, port);
    this.#launched.add(proc);
    void proc.exited.then(() => this.#launched.delete(proc)); // forget it once it is gone
    return proc;
  }

  /** Memory and CPU as the guest's own /proc shows them; CPU use since the previous call. */
  async readings(processes: boolean): Promise<GuestReadings> {
    const stats = await this.link.agent.readStats({ processes }, { timeoutMs: 15_000 });
    const total = Number(stats.memTotalBytes);
    const available = Number(stats.memAvailableBytes);
    const ticks = stats.cpus.map((c) => c.ticks.map(Number));
    const previous = this.#cpu;
    this.#cpu = { ticks };
    let cpu: GuestReadings["cpu"];
    if (previous && previous.ticks.length === ticks.length) {
      const perCpu = ticks.map((now, i) => busyPercent(previous.ticks[i]!, now));
      cpu = { percent: perCpu.reduce((a, b) => a + b, 0) / Math.max(perCpu.length, 1), perCpu };
    }
    return {
      memory: { total, used: Math.max(0, total - available), free: available },
      cpu,
      uptimeSeconds: stats.uptimeSeconds,
      processes: stats.processes.map((p) => ({
        pid: p.pid,
        parent: p.parent,
        executable: p.executable,
        cmdline: p.cmdline,
        cwd: p.cwd,
        residentBytes: Number(p.residentBytes),
        virtualBytes: Number(p.virtualBytes),
        startTicks: Number(p.startTicks),
        uid: p.uid,
        gid: p.gid,
      })),
    };
  }

  /** Flushes the guest's writes to the shared folders, powers the VM off, removes its traces. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    // Guest page cache of the 9p shares (mmap writes) reaches the host with sync.
    await withTimeout(
      this.run(["/bb/sync"], 5000).catch(() => undefined),
      6000,
    );
    this.#stopped = true;
    for (const proc of this.#launched) proc.kill("SIGKILL");
    await teardown(this.host, {
      qemu: this.qemu,
      qmp: this.qmp,
      link: this.link,
      address: this.address,
      dir: this.dir,
    });
  }
}

/** The guest's tool environment: the host's /usr first, then busybox. */
const guestToolEnv = { PATH: "/usr/sbin:/usr/bin:/bb", LC_ALL: "C" };

function runtimeRecordOf(pid: number, address: ZoneAddress | undefined): ZoneRuntimeRecord {
  return {
    mode: "vm",
    wrapperPid: pid,
    wrapperStartTime: processStartTime(pid),
    initPid: pid,
    cgroupDirs: [],
    hostInterface: address?.hostInterface,
  };
}

/**
 * How long a resize waits for the guest to inflate or deflate its balloon: the guest hands pages
 * over at its own pace (seconds for hundreds of MiB under TCG), and a guest that cannot free
 * enough memory never reaches the target.
 */
const balloonTimeoutMs = 60_000;

/**
 * Sets the balloon's target and waits until the guest's memory is there (QEMU's `actual`
 * within 1 MiB of it), so that a resize is visible in the guest once it returns. Returns the
 * memory the guest has in MiB, which stays off the target when the deadline passes.
 */
async function balloonTo(qmp: QmpClient, targetMiB: number, timeoutMs: number): Promise<number> {
  await qmp.execute("balloon", { value: targetMiB * mib });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { actual } = (await qmp.execute("query-balloon")) as { actual: number };
    const actualMiB = Math.round(actual / mib);
    if (Math.abs(actualMiB - targetMiB) <= 1) return targetMiB;
    if (Date.now() > deadline) return actualMiB;
    await delay(200);
  }
}

/** Busy share of one CPU between two /proc/stat readings (idle and iowait count as idle). */
function busyPercent(before: number[], now: number[]): number {
  const sum = (f: number[]): number => f.reduce((a, b) => a + b, 0);
  const idle = (f: number[]): number => (f[3] ?? 0) + (f[4] ?? 0);
  const total = sum(now) - sum(before);
  if (total <= 0) return 0;
  return Math.min(100, Math.max(0, ((total - (idle(now) - idle(before))) / total) * 100));
}

/** Powers the VM off (QMP quit, then SIGKILL), frees its address and removes its folder. */
async function teardown(
  host: VmHost,
  parts: {
    qemu: SandboxProcess | undefined;
    qmp: QmpClient | undefined;
    link: GuestLink | undefined;
    address: ZoneAddress | undefined;
    dir: string;
  },
): Promise<void> {
  parts.link?.close();
  if (parts.qemu) {
    await parts.qmp?.execute("quit").catch(() => undefined);
    if ((await withTimeout(parts.qemu.exited, 5000)) === "timeout") {
      parts.qemu.kill("SIGKILL");
      await withTimeout(parts.qemu.exited, 5000);
    }
  }
  parts.qmp?.close();
  if (parts.address && host.network) await host.network.detach(parts.address);
  rmSync(parts.dir, { recursive: true, force: true });
}

async function waitForConsole(
  console: ConsoleBuffer,
  marker: string,
  deadline: number,
  gone: () => boolean,
): Promise<void> {
  let tail = console.history().subarray(-8192).toString("utf8");
  let found = tail.includes(marker);
  const sub = console.onData((d) => {
    tail = (tail + d.toString("utf8")).slice(-8192);
    if (tail.includes(marker)) found = true;
  });
  try {
    while (!found) {
      if (gone()) return;
      if (Date.now() > deadline)
        throw new DevHostError("unavailable", `the VM's agent did not start in time: ${lastLines(console)}`);
      await delay(100);
    }
  } finally {
    sub.dispose();
  }
}

async function helloUntil(link: GuestLink, deadline: number, gone: () => boolean): Promise<HelloReply> {
  let last: unknown;
  while (Date.now() < deadline && !gone()) {
    try {
      return await link.agent.hello({}, { timeoutMs: 30_000 });
    } catch (err) {
      last = err;
      await delay(500);
    }
  }
  throw new DevHostError("unavailable", `the VM's agent did not answer: ${messageOf(last)}`);
}

function lastLines(console: ConsoleBuffer): string {
  return console.history().subarray(-600).toString("utf8").trim().split(/\r?\n/).slice(-4).join(" | ");
}
