import { posix } from "node:path";
import { composeHostFolder } from "../compose/toPlan";
import { messageOf } from "../errors";
import { annotationKeys } from "../devcontainer/plan";
import { ProtectError } from "../protect/errors";
import { WorkloadState } from "../../proto/gen/protect/control/v1/common_pb";
import type { Workload, Zone } from "../../proto/gen/protect/control/v1/common_pb";
import { LaunchError } from "./errors";
import { annotationOf, launchAnnotationKeys, zonesOfDevcontainer } from "./existing";
import type { LaunchHost } from "./launchHost";
import { removeHostTree } from "./workspaceSync";

/** What `up` made for one devcontainer, as found on the host. */
export interface LaunchedThings {
  readonly zone: Zone | undefined;
  /** Workloads in the zone (all of them: destroying the zone takes them all). */
  readonly workloads: readonly Workload[];
  /** The host workspace folder, when it is provably ours to delete; undefined otherwise. */
  readonly hostPath: string | undefined;
  readonly devcontainerId: string | undefined;
}

/** One thing teardown did (or could not do). */
export interface TeardownStep {
  readonly action: string;
  readonly ok: boolean;
  readonly message?: string;
}

/**
 * Whether a host path may be deleted as a workspace copy: absolute, normalised, at least two
 * levels deep, and named after the devcontainer id it belongs to — so a tampered or mistaken
 * annotation can never point `down` at `/` or someone's home.
 */
export function isWorkspaceCopyPath(
  path: string | undefined,
  devcontainerId: string | undefined,
): path is string {
  if (!path || !devcontainerId) return false;
  if (!posix.isAbsolute(path) || posix.normalize(path) !== path || path.endsWith("/")) return false;
  if (path.split("/").filter(Boolean).length < 2) return false;
  return posix.basename(path) === devcontainerId && /^[a-z0-9]{20,}$/.test(devcontainerId);
}

/** Finds what `up` made for a devcontainer id (the zone, its workloads, the host folder). */
export async function findByDevcontainer(
  host: LaunchHost,
  devcontainerId: string,
  hostPath: string,
  signal?: AbortSignal,
): Promise<LaunchedThings> {
  const zones = zonesOfDevcontainer(await host.listZones({ signal: signal }), devcontainerId);
  if (zones.length > 1) {
    throw new LaunchError(
      "ambiguous",
      `${zones.length} zones carry this devcontainer's id (${zones.map((z) => z.id).join(", ")}); name one: zonectl down ZONE`,
      { candidates: zones.map((z) => z.id) },
    );
  }
  const zone = zones[0];
  const workloads = zone
    ? (await host.listWorkloads({ signal: signal })).filter((w) => w.spec?.zoneId === zone.id)
    : [];
  return {
    zone,
    workloads,
    hostPath: isWorkspaceCopyPath(hostPath, devcontainerId) ? hostPath : undefined,
    devcontainerId,
  };
}

/** What `up` made, starting from a zone (by name or id, already resolved). */
export async function findByZone(
  host: LaunchHost,
  zone: Zone,
  signal?: AbortSignal,
): Promise<LaunchedThings> {
  const devcontainerId = annotationOf(zone.spec, annotationKeys.devcontainerId);
  const annotated = annotationOf(zone.spec, launchAnnotationKeys.hostWorkspace);
  const workloads = (await host.listWorkloads({ signal: signal })).filter((w) => w.spec?.zoneId === zone.id);
  return {
    zone,
    workloads,
    hostPath: isWorkspaceCopyPath(annotated, devcontainerId) ? annotated : undefined,
    devcontainerId,
  };
}

/**
 * `down`: destroys the workloads, the zone (waiting until they are gone) and the host
 * workspace folder. Keeps going after a failure and reports every step; throws at the end if
 * anything failed. Named volumes are kept, as `docker compose down` keeps them.
 */
export async function tearDown(
  host: LaunchHost,
  things: LaunchedThings,
  options: { signal?: AbortSignal; timeoutMs?: number; onStep?: (s: TeardownStep) => void } = {},
): Promise<TeardownStep[]> {
  const steps: TeardownStep[] = [];
  const timeoutMs = options.timeoutMs ?? 120_000;
  const record = (s: TeardownStep): void => {
    steps.push(s);
    options.onStep?.(s);
  };
  const attempt = async (action: string, fn: () => Promise<void>): Promise<void> => {
    try {
      await fn();
      record({ action, ok: true });
    } catch (err) {
      if (options.signal?.aborted) throw err;
      record({ action, ok: false, message: messageOf(err) });
    }
  };
  const opts = options.signal ? { signal: options.signal } : {};
  for (const w of things.workloads) {
    await attempt(`destroyed workload ${w.spec?.name || w.id} (${w.id})`, async () => {
      try {
        await host.destroyWorkload(w.id, { signal: options.signal });
      } catch (err) {
        if (!ProtectError.is(err, "notFound")) throw err;
      }
      await host.waitForWorkload(
        w.id,
        (x) => x === undefined || x.status?.state === WorkloadState.DESTROYED,
        {
          timeoutMs,
          ...opts,
        },
      );
    });
  }
  const zone = things.zone;
  if (zone) {
    await attempt(`destroyed zone ${zone.spec?.name || zone.id} (${zone.id})`, async () => {
      try {
        await host.destroyZone(zone.id, { signal: options.signal });
      } catch (err) {
        if (!ProtectError.is(err, "notFound")) throw err;
      }
      await host.waitForZone(zone.id, (z) => z === undefined, { timeoutMs, ...opts });
    });
  }
  const hostPath = things.hostPath;
  if (hostPath) {
    const files = await host.openFiles();
    try {
      const there = await files.lstat(hostPath);
      if (there) await attempt(`removed host folder ${hostPath}`, () => removeHostTree(files, hostPath));
      // A Compose project's hosts file lives beside the copy, named after it.
      const composeFolder = composeHostFolder(hostPath);
      if (await files.lstat(composeFolder))
        await attempt(`removed host folder ${composeFolder}`, () => removeHostTree(files, composeFolder));
    } finally {
      files.close();
    }
  }
  const failed = steps.filter((s) => !s.ok);
  if (failed.length) {
    throw new LaunchError(
      "zoneFailed",
      `down did not finish: ${failed.map((s) => `${s.action.replace(/^(destroyed|removed)/, "could not remove")}: ${s.message ?? ""}`).join("; ")}`,
    );
  }
  return steps;
}

/**
 * `stop`: what closing the session does, per `shutdownAction` — stop the workloads (the zone
 * and the workspace copy stay, `up` starts them again) or, for "none", nothing unless forced.
 */
export async function stopLaunched(
  host: LaunchHost,
  things: LaunchedThings,
  shutdownAction: "none" | "stopWorkload",
  options: { signal?: AbortSignal; force?: boolean; timeoutSeconds?: number } = {},
): Promise<TeardownStep[]> {
  if (shutdownAction === "none" && !options.force) {
    return [
      {
        action: "left running (shutdownAction is none; --force stops it anyway, zonectl down removes it)",
        ok: true,
      },
    ];
  }
  const steps: TeardownStep[] = [];
  for (const w of things.workloads) {
    if (w.status?.state !== WorkloadState.RUNNING) continue;
    await host.stopWorkload(w.id, options.timeoutSeconds ?? 10, { signal: options.signal });
    steps.push({ action: `stopped workload ${w.spec?.name || w.id} (${w.id})`, ok: true });
  }
  if (!steps.length) steps.push({ action: "nothing was running", ok: true });
  return steps;
}
