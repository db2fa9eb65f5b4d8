/**
 * OCI runtime configuration (config.json, and process.json for `runc exec`) for one container,
 * from plain inputs: no zone, image store or gRPC types, so the same generator serves the dev
 * host's namespace zones and a runtime inside a VM guest. What "a default container" means here
 * is what Docker and containerd give: their capability set, masked and read-only /proc and /sys
 * paths, a minimal /dev with the device cgroup denying everything else, no_new_privs and a
 * seccomp profile. `privileged` lifts all of that.
 */

/** The namespace kinds of the OCI runtime spec. */
export type NamespaceKind = "pid" | "network" | "mount" | "ipc" | "uts" | "user" | "cgroup" | "time";

/** A namespace to create (no path) or to join (path of an existing one, e.g. /proc/PID/ns/net). */
export interface NamespaceChoice {
  readonly type: NamespaceKind;
  readonly path?: string;
}

export interface ContainerProcess {
  readonly args: readonly string[];
  /** Name/value pairs; names are validated by the caller. */
  readonly env: readonly (readonly [string, string])[];
  readonly cwd: string;
  readonly uid: number;
  readonly gid: number;
  readonly additionalGids?: readonly number[];
  /** runc allocates a PTY in the container (the session's controlling terminal). */
  readonly terminal: boolean;
  readonly terminalSize?: { readonly columns: number; readonly rows: number } | undefined;
}

export interface ContainerSecurity {
  readonly privileged: boolean;
  /** Capability names, with or without the CAP_ prefix; "ALL" stands for every one. */
  readonly raiseCapabilities: readonly string[];
  readonly dropCapabilities: readonly string[];
  readonly raiseAmbientCapabilities: readonly string[];
}

export interface ContainerMount {
  readonly destination: string;
  readonly source: string;
  readonly type: "bind" | "tmpfs";
  readonly readOnly?: boolean;
}

export interface ContainerConfigInput {
  /** The root filesystem, already in place (an overlay or a copy). */
  readonly rootfs: string;
  readonly readOnlyRootfs: boolean;
  readonly hostname?: string | undefined;
  readonly process: ContainerProcess;
  readonly mounts: readonly ContainerMount[];
  readonly namespaces: readonly NamespaceChoice[];
  /** runc's cgroupsPath: relative paths sit under runc's own cgroup. */
  readonly cgroupsPath: string;
  readonly resources?: { readonly memoryBytes?: number | undefined; readonly cpus?: number | undefined };
  readonly security: ContainerSecurity;
  /** The seccomp filter (see seccompProfile.ts); undefined for none. */
  readonly seccomp: OciSeccomp | undefined;
  /** The capabilities the runtime itself holds (its bounding set): "every capability" means these. */
  readonly available: readonly string[];
}

/** linux.seccomp of the OCI runtime spec. */
export interface OciSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures: string[];
  syscalls: {
    names: string[];
    action: string;
    errnoRet?: number;
    args?: { index: number; value: number; valueTwo: number; op: string }[];
  }[];
}

/** The OCI process object (config.json's `process`, and all of process.json). */
export interface OciProcess {
  terminal: boolean;
  consoleSize?: { height: number; width: number };
  user: { uid: number; gid: number; additionalGids?: number[] };
  args: string[];
  env: string[];
  cwd: string;
  capabilities: {
    bounding: string[];
    effective: string[];
    permitted: string[];
    inheritable: string[];
    ambient: string[];
  };
  noNewPrivileges: boolean;
}

/** The subset of the OCI runtime spec this generator writes. */
export interface OciSpec {
  ociVersion: string;
  process: OciProcess;
  root: { path: string; readonly: boolean };
  hostname?: string;
  mounts: { destination: string; type: string; source: string; options: string[] }[];
  linux: {
    namespaces: { type: NamespaceKind; path?: string }[];
    cgroupsPath: string;
    resources: {
      devices: { allow: boolean; access: string }[];
      memory?: { limit: number; swap: number };
      cpu?: { quota: number; period: number };
    };
    maskedPaths?: string[];
    readonlyPaths?: string[];
    seccomp?: OciSeccomp;
  };
}

/**
 * Capabilities a container gets by default: Docker's and containerd's set without CAP_MKNOD.
 * runc's device cgroup always allows creating any device node (only opening is denied), so
 * with CAP_MKNOD a workload could still make block device nodes; raise it when needed.
 */
export const defaultCapabilities: readonly string[] = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FSETID",
  "CAP_FOWNER",
  "CAP_NET_RAW",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETFCAP",
  "CAP_SETPCAP",
  "CAP_NET_BIND_SERVICE",
  "CAP_SYS_CHROOT",
  "CAP_KILL",
  "CAP_AUDIT_WRITE",
];

/** Every capability name by number (capability.h); the kernel may know fewer or more. */
const capabilityNames: readonly string[] = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_DAC_READ_SEARCH",
  "CAP_FOWNER",
  "CAP_FSETID",
  "CAP_KILL",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETPCAP",
  "CAP_LINUX_IMMUTABLE",
  "CAP_NET_BIND_SERVICE",
  "CAP_NET_BROADCAST",
  "CAP_NET_ADMIN",
  "CAP_NET_RAW",
  "CAP_IPC_LOCK",
  "CAP_IPC_OWNER",
  "CAP_SYS_MODULE",
  "CAP_SYS_RAWIO",
  "CAP_SYS_CHROOT",
  "CAP_SYS_PTRACE",
  "CAP_SYS_PACCT",
  "CAP_SYS_ADMIN",
  "CAP_SYS_BOOT",
  "CAP_SYS_NICE",
  "CAP_SYS_RESOURCE",
  "CAP_SYS_TIME",
  "CAP_SYS_TTY_CONFIG",
  "CAP_MKNOD",
  "CAP_LEASE",
  "CAP_AUDIT_WRITE",
  "CAP_AUDIT_CONTROL",
  "CAP_SETFCAP",
  "CAP_MAC_OVERRIDE",
  "CAP_MAC_ADMIN",
  "CAP_SYSLOG",
  "CAP_WAKE_ALARM",
  "CAP_BLOCK_SUSPEND",
  "CAP_AUDIT_READ",
  "CAP_PERFMON",
  "CAP_BPF",
  "CAP_CHECKPOINT_RESTORE",
];

/** Where a process may not look: kernel state that tells about, or acts on, the host. */
const maskedPaths = [
  "/proc/acpi",
  "/proc/asound",
  "/proc/kcore",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/proc/sched_debug",
  "/proc/scsi",
  "/sys/firmware",
];

/** Kernel tunables a container may read but never change (writing /proc/sys changes the host). */
const readonlyPaths = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

/** The names of the capabilities set in a CapBnd-style mask (as /proc/PID/status shows it). */
export function capabilitiesOfMask(mask: bigint): string[] {
  return capabilityNames.filter((_, i) => (mask >> BigInt(i)) & 1n);
}

/** A capability's canonical name (CAP_ prefix, upper case), or undefined when unknown. */
export function capabilityName(name: string): string | undefined {
  const upper = name.trim().toUpperCase();
  const full = upper.startsWith("CAP_") ? upper : `CAP_${upper}`;
  return capabilityNames.includes(full) ? full : undefined;
}

/**
 * The bounding set of a container: every capability when privileged, else the default set plus
 * what is raised, minus what is dropped ("ALL" in either list means every capability).
 * Unknown names are an error: a typo must not silently give less (or more) than asked.
 */
export function capabilitySet(security: ContainerSecurity, available: readonly string[]): string[] {
  const all = capabilityNames.filter((c) => available.includes(c));
  if (security.privileged) return all;
  const resolve = (names: readonly string[], what: string): string[] =>
    names.flatMap((n) => {
      if (n.trim().toUpperCase() === "ALL") return all;
      const name = capabilityName(n);
      if (!name) throw new OciConfigError(`unknown capability ${JSON.stringify(n)} in ${what}`);
      return [name];
    });
  const raised = resolve(security.raiseCapabilities, "raise_capabilities");
  const dropped = new Set(resolve(security.dropCapabilities, "drop_capabilities"));
  const set = new Set([...defaultCapabilities, ...raised].filter((c) => all.includes(c)));
  for (const c of dropped) set.delete(c);
  return all.filter((c) => set.has(c));
}

/** A configuration the inputs cannot give (unknown capability, bad namespace choice). */
export class OciConfigError extends Error {
  override readonly name = "OciConfigError";
}

/**
 * The process part. A non-root user starts with empty effective and permitted sets (as
 * execve gives a non-root program), keeping only the bounding set and ambient capabilities
 * asked for; root gets the whole set.
 */
export function ociProcess(
  p: ContainerProcess,
  security: ContainerSecurity,
  available: readonly string[],
): OciProcess {
  const bounding = capabilitySet(security, available);
  const ambient = security.raiseAmbientCapabilities.map((n) => {
    const name = capabilityName(n);
    if (!name)
      throw new OciConfigError(`unknown capability ${JSON.stringify(n)} in raise_ambient_capabilities`);
    if (!bounding.includes(name))
      throw new OciConfigError(`ambient capability ${name} is not in the container's set; raise it too`);
    return name;
  });
  const held = p.uid === 0 ? bounding : ambient;
  return {
    terminal: p.terminal,
    ...(p.terminal && p.terminalSize
      ? { consoleSize: { height: p.terminalSize.rows, width: p.terminalSize.columns } }
      : {}),
    user: {
      uid: p.uid,
      gid: p.gid,
      ...(p.additionalGids?.length ? { additionalGids: [...p.additionalGids] } : {}),
    },
    args: [...p.args],
    env: p.env.map(([k, v]) => `${k}=${v}`),
    cwd: p.cwd,
    capabilities: {
      bounding,
      effective: [...held],
      permitted: [...held],
      inheritable: [...ambient],
      ambient,
    },
    noNewPrivileges: !security.privileged,
  };
}

/** config.json for one container. */
export function ociRuntimeConfig(input: ContainerConfigInput): OciSpec {
  const privileged = input.security.privileged;
  const has = (type: NamespaceKind): NamespaceChoice | undefined =>
    input.namespaces.find((n) => n.type === type);
  const mountNs = has("mount");
  if (!mountNs || mountNs.path !== undefined)
    throw new OciConfigError("a container needs a mount namespace of its own for its root filesystem");
  const ownIpc = has("ipc") !== undefined && has("ipc")?.path === undefined;
  const ownCgroupNs = has("cgroup") !== undefined && has("cgroup")?.path === undefined;
  const ownUts = has("uts") !== undefined && has("uts")?.path === undefined;

  const mounts: OciSpec["mounts"] = [
    { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
    {
      destination: "/dev",
      type: "tmpfs",
      source: "tmpfs",
      options: ["nosuid", "strictatime", "mode=755", "size=65536k"],
    },
    {
      destination: "/dev/pts",
      type: "devpts",
      source: "devpts",
      options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
    },
    {
      destination: "/dev/shm",
      type: "tmpfs",
      source: "shm",
      options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
    },
    // A message queue file system belongs to an IPC namespace: only with one of our own.
    ...(ownIpc
      ? [
          {
            destination: "/dev/mqueue",
            type: "mqueue",
            source: "mqueue",
            options: ["nosuid", "noexec", "nodev"],
          },
        ]
      : []),
    {
      destination: "/sys",
      type: "sysfs",
      source: "sysfs",
      options: ["nosuid", "noexec", "nodev", privileged ? "rw" : "ro"],
    },
    ...(ownCgroupNs
      ? [
          {
            destination: "/sys/fs/cgroup",
            type: "cgroup",
            source: "cgroup",
            options: ["nosuid", "noexec", "nodev", "relatime", privileged ? "rw" : "ro"],
          },
        ]
      : []),
    ...input.mounts.map((m) =>
      m.type === "bind"
        ? {
            destination: m.destination,
            type: "bind",
            source: m.source,
            options: ["rbind", "rprivate", ...(m.readOnly ? ["ro"] : [])],
          }
        : {
            destination: m.destination,
            type: "tmpfs",
            source: "tmpfs",
            options: ["nosuid", "nodev", "mode=1777", ...(m.readOnly ? ["ro"] : [])],
          },
    ),
  ];

  const memory = input.resources?.memoryBytes;
  const cpus = input.resources?.cpus;
  return {
    ociVersion: "1.0.2",
    process: ociProcess(input.process, input.security, input.available),
    root: { path: input.rootfs, readonly: input.readOnlyRootfs },
    ...(ownUts && input.hostname ? { hostname: input.hostname } : {}),
    mounts,
    linux: {
      namespaces: input.namespaces.map((n) => ({ type: n.type, ...(n.path ? { path: n.path } : {}) })),
      cgroupsPath: input.cgroupsPath,
      resources: {
        // Deny every device, then runc adds the few a container always has (null, zero, tty…).
        devices: [{ allow: privileged, access: "rwm" }],
        ...(memory ? { memory: { limit: memory, swap: memory } } : {}),
        ...(cpus ? { cpu: { quota: Math.round(cpus * 100_000), period: 100_000 } } : {}),
      },
      ...(privileged ? {} : { maskedPaths: [...maskedPaths], readonlyPaths: [...readonlyPaths] }),
      ...(input.seccomp && !privileged ? { seccomp: input.seccomp } : {}),
    },
  };
}
