import { existsSync } from "node:fs";
import { planFromPath } from "../devcontainer/load";
import { annotationKeys } from "../devcontainer/plan";
import { ProtectError } from "../protect/errors";
import type { ProtectHost } from "../protect/host";
import { WorkloadState } from "../../proto/gen/protect/control/v1/common_pb";
import type { Workload, Zone } from "../../proto/gen/protect/control/v1/common_pb";
import { composeServiceAnnotation } from "../compose/composePlan";
import { annotationOf, launchAnnotationKeys } from "./existing";
import { readWorkloadEnv, resolveRemoteEnv } from "./remoteEnv";
import type { WorkloadExec } from "./remoteEnv";

/** Where `exec`/`shell` run: a zone, and the workload in it (undefined: the zone itself). */
export interface ExecTarget {
  readonly zone: Zone;
  readonly workload: Workload | undefined;
  /** The devcontainer's remoteUser when `up` made the workload. */
  readonly user: string | undefined;
  /** The workload's working directory (the workspace folder for a devcontainer). */
  readonly workingDirectory: string | undefined;
}

/**
 * Resolves `ZONE[/WORKLOAD]` (names or ids; a Compose service name also names its workload).
 * With only ZONE: its one running workload (a Compose project's other services do not count);
 * the devcontainer's workload when several run; the zone itself when none does; otherwise an
 * `ambiguous` error naming the candidates.
 */
export async function resolveExecTarget(
  host: ProtectHost,
  text: string,
  signal?: AbortSignal,
): Promise<ExecTarget> {
  const slash = text.indexOf("/");
  const zoneText = slash < 0 ? text : text.slice(0, slash);
  const workloadText = slash < 0 ? undefined : text.slice(slash + 1);
  if (!zoneText)
    throw new ProtectError("invalidArgument", `'${text}' names no zone (ZONE or ZONE/WORKLOAD).`);
  const opts = signal ? { signal } : {};
  const zone = await host.resolveZone(zoneText, opts);
  const inZone = (await host.listWorkloads(opts)).filter(
    (w) => w.spec?.zoneId === zone.id && w.status?.state !== WorkloadState.DESTROYED,
  );
  let workload: Workload | undefined;
  if (workloadText) {
    // A Compose project's services answer to their service name too (ZONE/db).
    const matches = inZone.filter(
      (w) =>
        w.id === workloadText ||
        w.spec?.name === workloadText ||
        annotationOf(w.spec, composeServiceAnnotation) === workloadText,
    );
    if (!matches.length)
      throw new ProtectError(
        "notFound",
        `zone ${zone.spec?.name || zone.id} has no workload '${workloadText}' (it has: ${inZone.map((w) => w.spec?.name || w.id).join(", ") || "none"}).`,
      );
    if (matches.length > 1)
      throw new ProtectError(
        "ambiguous",
        `'${workloadText}' matches ${matches.length} workloads in zone ${zone.spec?.name || zone.id}; use an id (${matches.map((w) => w.id).join(", ")}).`,
        { candidates: matches.map((w) => w.id) },
      );
    workload = matches[0];
  } else {
    // A Compose project's other services answer only to ZONE/SERVICE: ZONE alone is the dev service.
    const running = inZone.filter(
      (w) =>
        w.status?.state === WorkloadState.RUNNING &&
        annotationOf(w.spec, composeServiceAnnotation) === undefined,
    );
    const devcontainerId = annotationOf(zone.spec, annotationKeys.devcontainerId);
    const ours = running.filter(
      (w) =>
        devcontainerId !== undefined &&
        annotationOf(w.spec, annotationKeys.devcontainerId) === devcontainerId &&
        annotationOf(w.spec, composeServiceAnnotation) === undefined,
    );
    if (running.length === 1) workload = running[0];
    else if (ours.length === 1) workload = ours[0];
    else if (running.length > 1) {
      throw new ProtectError(
        "ambiguous",
        `zone ${zone.spec?.name || zone.id} runs ${running.length} workloads (${running.map((w) => w.spec?.name || w.id).join(", ")}); say which: ZONE/WORKLOAD.`,
        { candidates: running.map((w) => w.id) },
      );
    }
  }
  // The devcontainer's own workload (a Compose project's dev service), not one of its sibling services.
  const devcontainer = workload ? isDevcontainerWorkload(workload) : false;
  return {
    zone,
    workload,
    user: workload ? annotationOf(workload.spec, launchAnnotationKeys.remoteUser) : undefined,
    workingDirectory: devcontainer ? workload?.spec?.process?.workingDirectory || undefined : undefined,
  };
}

/**
 * remoteEnv for a terminal or exec in a workload that `up` made: read again from the
 * devcontainer.json its annotations name, when that file is on this machine and still yields
 * the workload's devcontainer id (so a stale or foreign annotation is never trusted), with
 * `${containerEnv:…}` resolved against the workload. remoteEnv may carry values from this
 * machine's environment, so it is never stored on the host; empty when there is nothing to apply.
 */
export async function devcontainerRemoteEnv(
  host: ProtectHost,
  target: ExecTarget,
  localEnv: Readonly<Record<string, string | undefined>>,
  signal?: AbortSignal,
): Promise<Record<string, string>> {
  const workload = target.workload;
  if (!workload || !isDevcontainerWorkload(workload)) return {};
  const id = annotationOf(workload.spec, annotationKeys.devcontainerId);
  const configFile = annotationOf(workload.spec, annotationKeys.configFile);
  const localFolder = annotationOf(workload.spec, annotationKeys.localFolder);
  if (!id || !configFile || !localFolder || !existsSync(configFile)) return {};
  try {
    const { plan } = await planFromPath(localFolder, { config: configFile, cwd: localFolder, env: localEnv });
    if (plan.devcontainerId !== id || !plan.remote.env.length) return {};
    const needsContainer = plan.remote.env.some((e) => e.deferred);
    const exec: WorkloadExec = (request, output) =>
      host.exec(request, { signal, ...(output.onStdout ? { onStdout: output.onStdout } : {}) });
    const containerEnv = needsContainer
      ? ((await readWorkloadEnv(exec, { zoneId: target.zone.id, workloadId: workload.id })) ?? {})
      : {};
    return resolveRemoteEnv(plan.remote.env, containerEnv).env;
  } catch {
    // An unreadable or now-invalid devcontainer.json: the terminal opens without remoteEnv rather than not at all.
    return {};
  }
}

/** Whether `up` made this workload as the devcontainer itself (not a sibling Compose service). */
export function isDevcontainerWorkload(workload: Workload): boolean {
  return (
    annotationOf(workload.spec, annotationKeys.devcontainerId) !== undefined &&
    annotationOf(workload.spec, composeServiceAnnotation) === undefined
  );
}
