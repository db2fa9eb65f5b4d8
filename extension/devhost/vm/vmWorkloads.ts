import { randomUUID } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { messageOf } from "../../core/errors";
import { DevHostError } from "../errors";
import type { ContainerProcess } from "../oci/ociConfig";
import { Runc } from "../oci/runc";
import { run } from "../sandbox/exec";
import { setupScript, stepWords } from "../sandbox/launch";
import type { SetupStep, Tools } from "../sandbox/launch";
import type { SandboxProcess } from "../sandbox/processes";
import { containerId, workloadContainerConfig, workloadExecProcess } from "../workloadContainer";
import { assertNoSymlinks } from "../workloadPlan";
import type { WorkloadImage, WorkloadPaths, WorkloadPlan } from "../workloadPlan";
import type { VmZone } from "./vmZone";

/**
 * Workloads inside a VM zone run on the same runtime as on the dev host — runc, with the
 * config the dev host generates from the WorkloadSpec and the image — but in the guest: runc is
 * the host's own binary (the guest runs the host's /usr) and its state lives in the guest.
 *
 * The root filesystem is built on the dev host and shared into the guest over 9p: the image's
 * overlay (or the workload's copy) is mounted in QEMU's private mount namespace under the
 * zone's share, as are the workload's bind mounts (the synced workspace, volumes). The guest
 * sees plain folders under /run/zone/w/<id>/; nothing appears in the host's mount table, and
 * it all goes when QEMU does.
 */

/** runc inside the guest: the host's binary through /usr, state on the guest's tmpfs. */
const guestRuncRoot = "/run/runc";

/** Where a workload's files sit in its VM zone's share (host paths). */
export function vmWorkloadDir(vm: VmZone, workloadId: string): string {
  return join(vm.shareDir, "w", workloadId);
}

function runcArgv(args: string[]): string[] {
  const binary = Runc.find();
  if (!binary || !binary.startsWith("/usr/"))
    throw new DevHostError(
      "failedPrecondition",
      "runc must be installed under /usr to run workloads in VM zones",
    );
  return [binary, "--root", guestRuncRoot, ...args];
}

/** The workload's cgroup in the guest; runc --keep leaves it until `delete`. */
function guestCgroup(workloadId: string): string {
  return `/styrolite/${containerId(workloadId)}`;
}

export interface VmWorkloadStart {
  workloadId: string;
  plan: WorkloadPlan;
  image: WorkloadImage;
  paths: WorkloadPaths;
  overlay: boolean;
  hostname: string;
  tools: Tools;
  tty: { columns: number; rows: number } | undefined;
}

/**
 * Builds the workload's root in QEMU's mount namespace, writes the bundle and starts
 * `runc run` in the guest. Returns the process and the host path of runc's pid file.
 */
export async function startVmWorkload(
  vm: VmZone,
  w: VmWorkloadStart,
): Promise<{ proc: SandboxProcess; pidFile: string }> {
  const dir = vmWorkloadDir(vm, w.workloadId);
  const rootfs = join(dir, "rootfs");
  const bundle = join(dir, "bundle");
  const pidFile = join(dir, "container.pid");
  const id = containerId(w.workloadId);
  await unmountVmWorkload(vm, w.workloadId, w.tools); // a previous start's mounts
  await vm.run(runcArgv(["delete", "--force", id]), 30_000).catch(() => undefined);
  rmSync(pidFile, { force: true });
  mkdirSync(rootfs, { recursive: true, mode: 0o755 });
  mkdirSync(join(dir, "mounts"), { recursive: true, mode: 0o700 });
  const layers = w.overlay ? [w.paths.upper, w.image.rootfsDir] : [w.paths.root];
  for (const m of w.plan.mounts) assertNoSymlinks(layers, m.targetPath, "mount target");

  const steps: SetupStep[] = [
    w.overlay
      ? { op: "overlay", lower: w.image.rootfsDir, upper: w.paths.upper, work: w.paths.work, target: rootfs }
      : { op: "bind", source: w.paths.root, target: rootfs },
  ];
  const mounts = w.plan.mounts.map((m, i) => {
    const at = join(dir, "mounts", String(i));
    steps.push(m.directory ? { op: "mkdir", path: at } : { op: "touch", path: at }, {
      op: "bind",
      source: m.hostPath,
      target: at,
    });
    return { ...m, hostPath: vm.guestPath(at) };
  });
  await inQemuNamespace(vm, w.tools, steps);
  copyFileSync(w.paths.hosts, join(dir, "hosts"));

  Runc.writeBundle(
    bundle,
    workloadContainerConfig({
      plan: { ...w.plan, mounts },
      rootfs: vm.guestPath(rootfs),
      hostsFile: vm.guestPath(join(dir, "hosts")),
      hostname: w.hostname,
      // The guest is the zone: its pid 1 owns the namespaces the workload shares.
      zoneInitPid: 1,
      cgroupsPath: guestCgroup(w.workloadId),
      runtime: vm.containerRuntime,
    }),
  );
  const proc = vm.spawn({
    argv: runcArgv([
      "run",
      "--keep",
      "--bundle",
      vm.guestPath(bundle),
      "--pid-file",
      vm.guestPath(pidFile),
      id,
    ]),
    env: { PATH: "/usr/sbin:/usr/bin:/bb" },
    tty: w.tty,
    stdin: w.plan.stdin,
  });
  return { proc, pidFile };
}

/** `runc exec` of a process in the workload's container, inside the guest. */
export function execInVmWorkload(
  vm: VmZone,
  workloadId: string,
  plan: WorkloadPlan,
  p: ContainerProcess,
  tty: { columns: number; rows: number } | undefined,
): SandboxProcess {
  const file = join(vmWorkloadDir(vm, workloadId), `exec-${randomUUID()}.json`);
  Runc.writeProcess(file, workloadExecProcess(plan, p, vm.containerRuntime));
  try {
    const proc = vm.spawn({
      argv: runcArgv([
        "exec",
        ...(tty ? ["--tty"] : []),
        "--process",
        vm.guestPath(file),
        containerId(workloadId),
      ]),
      env: { PATH: "/usr/sbin:/usr/bin:/bb" },
      tty,
      stdin: true,
    });
    void proc.exited.then(() => rmSync(file, { force: true })); // runc read it at the start
    return proc;
  } catch (err) {
    rmSync(file, { force: true });
    throw err;
  }
}

/** Signals the workload's processes in the guest (`runc kill`). */
export async function signalVmWorkload(
  vm: VmZone,
  workloadId: string,
  signal: "TERM" | "KILL",
): Promise<void> {
  await vm
    .run(runcArgv(["kill", ...(signal === "KILL" ? ["--all"] : []), containerId(workloadId), signal]), 30_000)
    .catch(() => undefined); // already gone
}

/**
 * After the container's end: whether the guest's OOM killer acted in its cgroup (read before
 * `runc delete` removes it), then the container and its mounts go.
 */
export async function finishVmWorkload(vm: VmZone, workloadId: string, tools: Tools): Promise<boolean> {
  let oom = false;
  try {
    const events = await vm.link.agent.readFile(
      { path: `/sys/fs/cgroup${guestCgroup(workloadId)}/memory.events` },
      { timeoutMs: 15_000 },
    );
    oom = Number(/^oom_kill (\d+)$/m.exec(Buffer.from(events.content).toString("utf8"))?.[1] ?? 0) > 0;
  } catch {
    // no cgroup: the container never started, or the VM is gone
  }
  await vm.run(runcArgv(["delete", "--force", containerId(workloadId)]), 30_000).catch(() => undefined);
  await unmountVmWorkload(vm, workloadId, tools);
  return oom;
}

/** Removes the workload's files from the zone's share (after finishVmWorkload). */
export function removeVmWorkload(vm: VmZone, workloadId: string): void {
  rmSync(vmWorkloadDir(vm, workloadId), { recursive: true, force: true });
}

async function unmountVmWorkload(vm: VmZone, workloadId: string, tools: Tools): Promise<void> {
  const dir = vmWorkloadDir(vm, workloadId);
  if (!existsSync(dir)) return;
  // Lazily: the guest may still hold 9p handles on files below; the mounts go once it lets go.
  await run(tools.nsenter, [
    "-t",
    String(vm.qemuPid),
    "-m",
    "--",
    "sh",
    "-c",
    unmountScript,
    "unmount",
    dir,
  ]).catch((err: unknown) => vm.log.debug(`vm: unmounting ${dir}: ${messageOf(err)}`));
}

/**
 * Detaches the workload's root and bind mounts below "$1" (in QEMU's mount namespace); a lazy
 * unmount takes the mounts beneath each along.
 */
const unmountScript = 'for m in "$1/rootfs" "$1"/mounts/*; do umount -l -- "$m" 2>/dev/null; done; exit 0';

/** Runs mount steps in QEMU's mount namespace, where the 9p server sees them. */
async function inQemuNamespace(vm: VmZone, tools: Tools, steps: SetupStep[]): Promise<void> {
  await run(
    tools.nsenter,
    [
      "-t",
      String(vm.qemuPid),
      "-m",
      "--",
      tools.sh,
      "-c",
      setupScript,
      "devhost-setup",
      ...steps.flatMap(stepWords),
      "--",
      "true",
    ],
    { timeoutMs: 60_000 },
  );
}
