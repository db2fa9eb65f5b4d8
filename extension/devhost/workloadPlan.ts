import { lstatSync } from "node:fs";
import { dirname, join, posix } from "node:path";
import { ProcessNamespace } from "../proto/gen/protect/control/v1/common_pb";
import type { WorkloadSpec } from "../proto/gen/protect/control/v1/common_pb";
import type { ImageRuntimeConfig } from "./images/manifest";
import { resolveBindSource } from "./bindSource";
import { DevHostError } from "./errors";
import { OciConfigError, capabilitiesOfMask, ociProcess } from "./oci/ociConfig";

/** Every capability name, for checking the names a spec gives. */
const allCapabilityNames = capabilitiesOfMask((1n << 64n) - 1n);
import type { SetupStep } from "./sandbox/launch";
import { resolveIdentity, splitUserSpec } from "./sandbox/users";

/** What the dev host needs of an image to run a workload from it. */
export interface WorkloadImage {
  digest: string;
  rootfsDir: string;
  config: ImageRuntimeConfig;
}

/** The process a workload (or an exec) runs, resolved against its image. */
export interface ProcessPlan {
  command: string[];
  env: [string, string][];
  cwd: string;
  uid: number;
  gid: number;
  tty: boolean;
  stdin: boolean;
  terminal: { columns: number; rows: number } | undefined;
}

export interface WorkloadPlan extends ProcessPlan {
  /** hostPath: the real path checked by resolveBindSource; requested: what the spec said. */
  mounts: { hostPath: string; targetPath: string; directory: boolean; requested: string }[];
  readOnlyRootfs: boolean;
  security: WorkloadSecurity;
  /** The workload's own memory limit in bytes (cgroup_limits), below the zone's. */
  memoryLimitBytes: number | undefined;
}

/** WorkloadSecuritySpec as the runtime honours it (checked here, before anything runs). */
export interface WorkloadSecurity {
  privileged: boolean;
  raiseCapabilities: string[];
  dropCapabilities: string[];
  raiseAmbientCapabilities: string[];
  /** Namespaces the workload shares with its zone instead of having its own. */
  shareWithZone: Set<"uts" | "ipc">;
  /** No cgroup namespace: the workload sees the host's cgroup paths. */
  noCgroupNamespace: boolean;
}

export const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** The directories of one workload under the dev host's run folder. */
export interface WorkloadPaths {
  dir: string;
  upper: string;
  work: string;
  /** The workload's root as seen inside its mount namespace. */
  root: string;
  hosts: string;
}

export function workloadPaths(runDir: string, workloadId: string): WorkloadPaths {
  const dir = join(runDir, "workloads", workloadId);
  return {
    dir,
    upper: join(dir, "upper"),
    work: join(dir, "work"),
    root: join(dir, "rootfs"),
    hosts: join(dir, "hosts"),
  };
}

/**
 * Resolves a WorkloadSpec against its image the way container runtimes do: a non-empty
 * `process.command` replaces the image's Entrypoint+Cmd; the spec's environment overrides the
 * image's Env by key; working directory and user fall back to the image's WorkingDir and User.
 * Everything is validated here, before anything runs.
 */
export function planWorkload(
  spec: WorkloadSpec,
  image: WorkloadImage,
  options: { mountRoots: readonly string[] },
): WorkloadPlan {
  const p = spec.process;
  const command =
    p && p.command.length > 0
      ? [...p.command]
      : [...(image.config.entrypoint ?? []), ...(image.config.cmd ?? [])];
  if (command.length === 0)
    throw new DevHostError(
      "invalidArgument",
      "the workload has no command and its image has no Entrypoint or Cmd",
    );
  const imageUser = splitUserSpec(image.config.user);
  const identity = resolveIdentity(
    image.rootfsDir,
    idOrName(p?.user) ?? imageUser.user,
    idOrName(p?.group) ?? imageUser.group,
  );
  const env = mergeEnv(
    image.config.env ?? [],
    (p?.environment ?? []).map((e) => [e.key, e.value]),
    {
      home: identity.home,
      tty: Boolean(p?.tty),
    },
  );
  const cwd = normalizeAbsolute(p?.workingDirectory || image.config.workingDir || "/", "working directory");
  const mounts = spec.mounts.map((m) => {
    const hostPath = resolveBindSource(m.hostPath, options.mountRoots);
    const directory = lstatSync(hostPath).isDirectory();
    const targetPath = normalizeAbsolute(m.targetPath, "mount target_path");
    if (targetPath === "/")
      throw new DevHostError("invalidArgument", "a mount cannot replace the workload's root");
    return { hostPath, targetPath, directory, requested: m.hostPath };
  });
  for (const part of [...command, ...env.flat(), cwd]) assertNoNul(part);
  return {
    command,
    env,
    cwd,
    uid: identity.uid,
    gid: identity.gid,
    tty: Boolean(p?.tty),
    stdin: Boolean(p?.stdin || p?.tty),
    terminal:
      p?.terminalSize && p.terminalSize.columns > 0
        ? { columns: p.terminalSize.columns, rows: p.terminalSize.rows }
        : undefined,
    mounts,
    readOnlyRootfs: Boolean(spec.security?.readOnlyRootfs),
    security: planSecurity(spec),
    memoryLimitBytes: planMemoryLimit(spec),
  };
}

/**
 * The workload's memory limit from `cgroup_limits`: `memory.max` (cgroup v2's name) or
 * `memory.limit_in_bytes` (v1's), in bytes or with a K, M or G suffix as the kernel reads them.
 * Other limits are refused rather than silently ignored.
 */
export function planMemoryLimit(spec: WorkloadSpec): number | undefined {
  let limit: number | undefined;
  for (const l of spec.cgroupLimits) {
    if (l.limitName !== "memory.max" && l.limitName !== "memory.limit_in_bytes")
      throw new DevHostError(
        "invalidArgument",
        `cgroup limit ${JSON.stringify(l.limitName)} is not supported by the dev host (memory.max is)`,
      );
    const m = /^(\d+)([KMG]?)$/i.exec(l.value.trim());
    const unit = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[
      (m?.[2] ?? "").toUpperCase() as "" | "K" | "M" | "G"
    ];
    const bytes = m ? Number(m[1]) * unit : NaN;
    if (!Number.isSafeInteger(bytes) || bytes < 4 * 1024 * 1024)
      throw new DevHostError(
        "invalidArgument",
        `cgroup limit ${l.limitName}=${JSON.stringify(l.value)}: give bytes (or K, M, G), at least 4M`,
      );
    limit = bytes;
  }
  return limit;
}

/**
 * What the workload's security spec asks for. By default a workload gets its own mount, UTS,
 * IPC and cgroup namespaces and shares the zone's PID and network namespaces (one process
 * table and one address per zone, as in a VM). `disable_namespaces` names namespaces it must
 * not get of its own: UTS and IPC are then the zone's, CGROUP is not created; PID and NET are
 * the zone's anyway; USER and TIME are never created. MOUNT cannot be disabled: the image root
 * needs a mount namespace.
 */
function planSecurity(spec: WorkloadSpec): WorkloadSecurity {
  const s = spec.security;
  if (s?.strictUserNamespace)
    throw new DevHostError(
      "failedPrecondition",
      "strict_user_namespace is not supported by the dev host: its image roots are owned by host uids, and runc here cannot map them",
    );
  const disabled = new Set(
    s?.disableAllNamespaces
      ? [ProcessNamespace.UTS, ProcessNamespace.IPC, ProcessNamespace.CGROUP]
      : (s?.disableNamespaces ?? []),
  );
  if (disabled.has(ProcessNamespace.MOUNT) && !s?.disableAllNamespaces)
    throw new DevHostError(
      "invalidArgument",
      "disable_namespaces: a workload always has its own mount namespace (its image root needs one)",
    );
  const security: WorkloadSecurity = {
    privileged: Boolean(s?.privileged),
    raiseCapabilities: [...(s?.raiseCapabilities ?? [])],
    dropCapabilities: [...(s?.dropCapabilities ?? [])],
    raiseAmbientCapabilities: [...(s?.raiseAmbientCapabilities ?? [])],
    shareWithZone: new Set([
      ...(disabled.has(ProcessNamespace.UTS) ? (["uts"] as const) : []),
      ...(disabled.has(ProcessNamespace.IPC) ? (["ipc"] as const) : []),
    ]),
    noCgroupNamespace: disabled.has(ProcessNamespace.CGROUP),
  };
  try {
    ociProcess(
      { args: ["x"], env: [], cwd: "/", uid: 0, gid: 0, terminal: false },
      security,
      allCapabilityNames,
    );
  } catch (err) {
    if (err instanceof OciConfigError) throw new DevHostError("invalidArgument", err.message);
    throw err;
  }
  return security;
}

/** Image Env, then overrides by key, then PATH/HOME/TERM defaults where nothing set them. */
export function mergeEnv(
  imageEnv: readonly string[],
  overrides: readonly [string, string][],
  defaults: { home?: string | undefined; tty: boolean },
): [string, string][] {
  const env = new Map<string, string>();
  for (const entry of imageEnv) {
    const eq = entry.indexOf("=");
    const key = eq < 0 ? entry : entry.slice(0, eq);
    // The image is untrusted: its names get the same check as a client's, or a name like
    // "--split-string" would reach a command line as an option.
    assertEnvKey(key, "the image's Env");
    if (eq > 0) env.set(key, entry.slice(eq + 1));
  }
  for (const [key, value] of overrides) {
    assertEnvKey(key);
    env.set(key, value);
  }
  if (!env.has("PATH")) env.set("PATH", defaultPath);
  if (!env.has("HOME") && defaults.home) env.set("HOME", defaults.home);
  if (!env.has("TERM") && defaults.tty) env.set("TERM", "xterm-256color");
  return [...env.entries()];
}

/**
 * What a variable name may be: POSIX's portable names plus the characters real images use
 * (dots, dashes after the first character). Never '=', NUL, whitespace or a leading '-', so a
 * name can neither split an assignment nor read as an option anywhere it travels.
 */
const envKeyPattern = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

export function assertEnvKey(key: string, source = "the environment"): void {
  if (!envKeyPattern.test(key)) {
    throw new DevHostError(
      "invalidArgument",
      `invalid environment variable name ${JSON.stringify(key.slice(0, 80))} in ${source}: names are letters, digits, '_', '.', '-' and do not start with a digit, '.' or '-'`,
    );
  }
}

function assertNoNul(value: string): void {
  if (value.includes("\0"))
    throw new DevHostError("invalidArgument", "arguments and environment values cannot contain NUL bytes");
}

/** An absolute path with `.`/`..` resolved lexically; `..` cannot climb above `/`. */
export function normalizeAbsolute(path: string, what: string): string {
  if (!path.startsWith("/"))
    throw new DevHostError("invalidArgument", `${what} must be an absolute path: ${JSON.stringify(path)}`);
  assertNoNul(path);
  return posix.normalize(path).replace(/\/+$/, "") || "/";
}

/**
 * Refuses a path whose components are symlinks in the image (lower) or the workload's upper
 * layer: mounts are set up before the chroot, so a symlink would point them at the host.
 */
export function assertNoSymlinks(layers: string[], path: string, what: string): void {
  const parts = path.split("/").filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const rel = parts.slice(0, i).join("/");
    for (const layer of layers) {
      try {
        if (lstatSync(join(layer, rel)).isSymbolicLink()) {
          throw new DevHostError(
            "invalidArgument",
            `${what} /${rel} is a symbolic link in the image; mount points must be real directories or files`,
          );
        }
        break; // the topmost layer that has the entry decides
      } catch (err) {
        if (DevHostError.is(err)) throw err;
      }
    }
  }
}

function idOrName(
  v:
    | {
        idOrName:
          | { case: "id"; value: number }
          | { case: "name"; value: string }
          | { case: undefined; value?: undefined };
      }
    | undefined,
): string | number | undefined {
  if (!v) return undefined;
  if (v.idOrName.case === "id") return v.idOrName.value;
  if (v.idOrName.case === "name") return v.idOrName.value;
  return undefined;
}

/**
 * The mount steps that turn an image into a workload's root inside a fresh mount namespace:
 * overlay (or the copied root), /proc of the zone, read-only /sys, a small /dev with the usual
 * nodes and the host's pts (so terminals work), /etc/hosts, then the spec's bind mounts.
 */
export function setupSteps(
  plan: WorkloadPlan,
  image: WorkloadImage,
  paths: WorkloadPaths,
  options: { overlay: boolean },
): SetupStep[] {
  const r = paths.root;
  const at = (p: string): string => join(r, p);
  const layers = options.overlay ? [paths.upper, image.rootfsDir] : [paths.root];
  for (const p of ["/proc", "/sys", "/dev", "/etc", "/etc/hosts"]) assertNoSymlinks(layers, p, "image path");
  for (const m of plan.mounts) assertNoSymlinks(layers, m.targetPath, "mount target");

  const steps: SetupStep[] = [];
  if (options.overlay)
    steps.push({ op: "overlay", lower: image.rootfsDir, upper: paths.upper, work: paths.work, target: r });
  else steps.push({ op: "bind", source: r, target: r });
  steps.push(
    { op: "mkdir", path: at("proc") },
    { op: "fs", fstype: "proc", options: "nosuid,nodev,noexec", target: at("proc") },
  );
  steps.push(
    { op: "mkdir", path: at("sys") },
    { op: "fs", fstype: "sysfs", options: "ro,nosuid,nodev,noexec", target: at("sys") },
  );
  steps.push(
    { op: "mkdir", path: at("dev") },
    { op: "fs", fstype: "tmpfs", options: "mode=755,nosuid,size=65536k", target: at("dev") },
  );
  for (const node of ["null", "zero", "full", "random", "urandom", "tty", "ptmx"]) {
    steps.push(
      { op: "touch", path: at(`dev/${node}`) },
      { op: "bind", source: `/dev/${node}`, target: at(`dev/${node}`) },
    );
  }
  steps.push({ op: "mkdir", path: at("dev/pts") }, { op: "bind", source: "/dev/pts", target: at("dev/pts") });
  steps.push(
    { op: "mkdir", path: at("dev/shm") },
    { op: "fs", fstype: "tmpfs", options: "mode=1777,nosuid,nodev", target: at("dev/shm") },
  );
  for (const [name, target] of [
    ["fd", "/proc/self/fd"],
    ["stdin", "/proc/self/fd/0"],
    ["stdout", "/proc/self/fd/1"],
    ["stderr", "/proc/self/fd/2"],
  ] as const) {
    steps.push({ op: "symlink", target, link: at(`dev/${name}`) });
  }
  steps.push(
    { op: "mkdir", path: at("etc") },
    { op: "touch", path: at("etc/hosts") },
    { op: "bind", source: paths.hosts, target: at("etc/hosts") },
  );
  for (const m of plan.mounts) {
    const target = at(m.targetPath.slice(1));
    if (m.directory) steps.push({ op: "mkdir", path: target });
    else steps.push({ op: "mkdir", path: dirname(target) }, { op: "touch", path: target });
    steps.push({ op: "bind", source: m.hostPath, target });
  }
  if (plan.readOnlyRootfs) steps.push({ op: "ro", target: r });
  return steps;
}
