import { readFileSync } from "node:fs";
import type { OciSeccomp } from "./ociConfig";

/** Where Debian's containers-common package installs the default container seccomp profile. */
export const defaultSeccompProfilePath = "/usr/share/containers/seccomp.json";

/**
 * A seccomp profile in the format Docker, Podman and containers-common share: rules that apply
 * only with (or without) some capability or on some architecture. It is resolved per container
 * into the plain OCI filter runc takes.
 */
interface ProfileRule {
  names?: string[];
  name?: string;
  action: string;
  errnoRet?: number;
  args?: { index: number; value: number; valueTwo?: number; op: string }[] | null;
  includes?: { caps?: string[]; arches?: string[]; minKernel?: string };
  excludes?: { caps?: string[]; arches?: string[]; minKernel?: string };
}

export interface SeccompProfile {
  defaultAction: string;
  defaultErrnoRet?: number;
  archMap?: { architecture: string; subArchitectures?: string[] }[];
  syscalls: ProfileRule[];
}

/** Reads and checks a profile; undefined when the file is missing. */
export function loadSeccompProfile(path = defaultSeccompProfilePath): SeccompProfile | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
  const data = JSON.parse(text) as Partial<SeccompProfile>;
  if (typeof data.defaultAction !== "string" || !Array.isArray(data.syscalls))
    throw new Error(`${path}: not a seccomp profile (defaultAction and syscalls missing)`);
  return data as SeccompProfile;
}

/** Node's process.arch → the profile's architecture names (Go's GOARCH) and libseccomp's. */
const arches: Record<string, { go: string; scmp: string }> = {
  x64: { go: "amd64", scmp: "SCMP_ARCH_X86_64" },
  arm64: { go: "arm64", scmp: "SCMP_ARCH_AARCH64" },
  ia32: { go: "386", scmp: "SCMP_ARCH_X86" },
  arm: { go: "arm", scmp: "SCMP_ARCH_ARM" },
  ppc64: { go: "ppc64le", scmp: "SCMP_ARCH_PPC64LE" },
  s390x: { go: "s390x", scmp: "SCMP_ARCH_S390X" },
};

/**
 * The OCI filter for a container with `capabilities` on `arch`: rules whose capability or
 * architecture conditions do not hold are left out, so e.g. `chroot` is allowed only with
 * CAP_SYS_CHROOT, and CAP_SYS_ADMIN unlocks mount and friends.
 */
export function resolveSeccomp(
  profile: SeccompProfile,
  capabilities: readonly string[],
  arch: string = process.arch,
  kernel: string = kernelRelease(),
): OciSeccomp {
  const a = arches[arch];
  const caps = new Set(capabilities);
  const entry = profile.archMap?.find((m) => m.architecture === a?.scmp);
  const architectures = entry ? [entry.architecture, ...(entry.subArchitectures ?? [])] : a ? [a.scmp] : [];
  const applies = (r: ProfileRule): boolean => {
    const inc = r.includes ?? {};
    const exc = r.excludes ?? {};
    if (inc.caps?.length && !inc.caps.every((c) => caps.has(c))) return false;
    if (exc.caps?.length && exc.caps.some((c) => caps.has(c))) return false;
    if (inc.arches?.length && !(a && inc.arches.includes(a.go))) return false;
    if (exc.arches?.length && a && exc.arches.includes(a.go)) return false;
    if (inc.minKernel && compareKernel(kernel, inc.minKernel) < 0) return false;
    if (exc.minKernel && compareKernel(kernel, exc.minKernel) >= 0) return false;
    return true;
  };
  const syscalls = profile.syscalls.filter(applies).map((r) => ({
    names: r.names ?? (r.name ? [r.name] : []),
    action: r.action,
    ...(r.errnoRet !== undefined ? { errnoRet: r.errnoRet } : {}),
    ...(r.args?.length
      ? { args: r.args.map((x) => ({ index: x.index, value: x.value, valueTwo: x.valueTwo ?? 0, op: x.op })) }
      : {}),
  }));
  return {
    defaultAction: profile.defaultAction,
    ...(profile.defaultErrnoRet !== undefined ? { defaultErrnoRet: profile.defaultErrnoRet } : {}),
    architectures,
    syscalls: syscalls.filter((s) => s.names.length > 0),
  };
}

function kernelRelease(): string {
  try {
    return readFileSync("/proc/sys/kernel/osrelease", "utf8").trim();
  } catch {
    return "0.0";
  }
}

/** Compares "major.minor" prefixes of two kernel releases. */
function compareKernel(a: string, b: string): number {
  const parse = (v: string): number[] =>
    v
      .split(/[.-]/)
      .slice(0, 2)
      .map((n) => Number.parseInt(n, 10) || 0);
  const [x, y] = [parse(a), parse(b)];
  return (x[0]! - y[0]!) * 1000 + (x[1]! - y[1]!);
}
