import type { RemoteEnvVar } from "../devcontainer/plan";
import { resolveContainerEnv } from "../devcontainer/variables";
import type { ExecRequest } from "../terminal/execSession";
import type { ExecOutput } from "./launchHost";

/** Runs one command in the workload and resolves with its exit code (LaunchHost.exec's shape). */
export type WorkloadExec = (request: ExecRequest, output: ExecOutput) => Promise<number>;

/**
 * The environment a process in the workload starts with, read from the workload itself:
 * `cat /proc/self/environ` prints exactly what an exec gets (image env + containerEnv),
 * NUL-separated, and needs no shell. Undefined when it cannot be read.
 */
export async function readWorkloadEnv(
  exec: WorkloadExec,
  target: { zoneId: string; workloadId: string },
): Promise<Record<string, string> | undefined> {
  const chunks: Buffer[] = [];
  const code = await exec(
    { ...target, command: ["cat", "/proc/self/environ"] },
    { onStdout: (d) => chunks.push(Buffer.from(d)) },
  );
  if (code !== 0) return undefined;
  const env: Record<string, string> = {};
  for (const entry of Buffer.concat(chunks).toString("utf8").split("\0")) {
    const eq = entry.indexOf("=");
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env;
}

/** remoteEnv with `${containerEnv:…}` resolved; variables set to null are listed apart (the exec API can only set). */
export function resolveRemoteEnv(
  vars: readonly RemoteEnvVar[],
  containerEnv: Readonly<Record<string, string | undefined>>,
): { env: Record<string, string>; unset: string[] } {
  const env: Record<string, string> = {};
  const unset: string[] = [];
  for (const v of vars) {
    if (v.value === null) unset.push(v.name);
    else env[v.name] = v.deferred ? resolveContainerEnv(v.value, containerEnv) : v.value;
  }
  return { env, unset };
}
