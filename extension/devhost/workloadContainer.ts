import { readFileSync } from "node:fs";
import type { Logger } from "../core/log";
import { capabilitiesOfMask, capabilitySet, ociProcess, ociRuntimeConfig } from "./oci/ociConfig";
import type { ContainerProcess, NamespaceChoice, OciProcess, OciSpec } from "./oci/ociConfig";
import { Runc } from "./oci/runc";
import { loadSeccompProfile, resolveSeccomp } from "./oci/seccompProfile";
import type { SeccompProfile } from "./oci/seccompProfile";
import type { WorkloadPlan, WorkloadSecurity } from "./workloadPlan";

/** What the dev host runs workloads with: runc, its state root, the seccomp profile. */
export interface ContainerRuntime {
  readonly runc: Runc;
  /** Debian's default container profile; undefined when the file is missing (then no filter). */
  readonly seccomp: SeccompProfile | undefined;
  /** The dev host's own bounding set: what `privileged` gives. */
  readonly capabilities: readonly string[];
}

/** runc and the profile on this machine, or why workloads cannot run as containers here. */
export function findContainerRuntime(root: string, log: Logger): ContainerRuntime | string {
  const binary = Runc.find();
  if (!binary) return "runc not found (apt-get install runc)";
  const seccomp = loadSeccompProfile();
  if (!seccomp)
    log.warn(
      "dev host: /usr/share/containers/seccomp.json is missing (apt-get install golang-github-containers-common); workloads run without a seccomp filter",
    );
  let mask = 0n;
  try {
    mask = BigInt(
      `0x${/^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? "0"}`,
    );
  } catch {
    // no procfs: no capabilities to hand out
  }
  return { runc: new Runc(binary, root, log), seccomp, capabilities: capabilitiesOfMask(mask) };
}

/** The container of workload `id`: its runc id. */
export function containerId(workloadId: string): string {
  return `w-${workloadId}`;
}

/** The zone's namespaces the workload joins, and the ones it gets of its own. */
export function workloadNamespaces(security: WorkloadSecurity, zoneInitPid: number): NamespaceChoice[] {
  const zone = (ns: string): string => `/proc/${zoneInitPid}/ns/${ns}`;
  return [
    { type: "mount" },
    { type: "pid", path: zone("pid") },
    { type: "network", path: zone("net") },
    security.shareWithZone.has("uts") ? { type: "uts", path: zone("uts") } : { type: "uts" },
    security.shareWithZone.has("ipc") ? { type: "ipc", path: zone("ipc") } : { type: "ipc" },
    ...(security.noCgroupNamespace ? [] : [{ type: "cgroup" as const }]),
  ];
}

/** config.json of a workload's container. */
export function workloadContainerConfig(args: {
  plan: WorkloadPlan;
  rootfs: string;
  hostsFile: string;
  hostname: string;
  zoneInitPid: number;
  cgroupsPath: string;
  runtime: Pick<ContainerRuntime, "seccomp" | "capabilities">;
}): OciSpec {
  const { plan, runtime } = args;
  const caps = capabilitySet(plan.security, runtime.capabilities);
  return ociRuntimeConfig({
    rootfs: args.rootfs,
    readOnlyRootfs: plan.readOnlyRootfs,
    hostname: args.hostname,
    process: {
      args: plan.command,
      env: plan.env,
      cwd: plan.cwd,
      uid: plan.uid,
      gid: plan.gid,
      terminal: plan.tty,
      terminalSize: plan.terminal,
    },
    mounts: [
      { destination: "/etc/hosts", source: args.hostsFile, type: "bind", readOnly: false },
      ...plan.mounts.map((m) => ({ destination: m.targetPath, source: m.hostPath, type: "bind" as const })),
    ],
    namespaces: workloadNamespaces(plan.security, args.zoneInitPid),
    cgroupsPath: args.cgroupsPath,
    resources: { memoryBytes: plan.memoryLimitBytes },
    security: plan.security,
    seccomp: runtime.seccomp ? resolveSeccomp(runtime.seccomp, caps) : undefined,
    available: runtime.capabilities,
  });
}

/** process.json of an exec in a workload: the workload's own security, the exec's process. */
export function workloadExecProcess(
  plan: WorkloadPlan,
  process: ContainerProcess,
  runtime: Pick<ContainerRuntime, "capabilities">,
): OciProcess {
  return ociProcess(process, plan.security, runtime.capabilities);
}
