import { annotationKeys } from "../../core/devcontainer/plan";
import { annotationOf, launchAnnotationKeys } from "../../core/launch/existing";
import type { ZonesModel } from "../model/zonesModel";
import type { TerminalTarget } from "./zonePty";

/**
 * What a terminal on a zone or workload runs as: a devcontainer workload's remoteUser (the
 * launch records it as an annotation) in its workspace folder; the configured shell, split
 * into argv (never handed to a shell as a string), or bash/sh when none is set.
 */
export function terminalTargetFor(
  model: ZonesModel,
  where: { hostId: string; zoneId: string; workloadId?: string },
  options: { shell?: string; env?: Readonly<Record<string, string>> } = {},
): TerminalTarget | undefined {
  const zone = model.zone(where.hostId, where.zoneId);
  if (!zone) return undefined;
  const workload = where.workloadId ? model.workload(where.hostId, where.workloadId) : undefined;
  if (where.workloadId && !workload) return undefined;
  const shell = options.shell?.trim() ? options.shell.trim().split(/\s+/) : undefined;
  const devcontainer =
    workload !== undefined && annotationOf(workload.spec, annotationKeys.devcontainerId) !== undefined;
  const user = workload ? annotationOf(workload.spec, launchAnnotationKeys.remoteUser) : undefined;
  const workingDirectory = devcontainer ? workload?.spec?.process?.workingDirectory || undefined : undefined;
  return {
    hostId: where.hostId,
    hostLabel: model.host(where.hostId)?.entry.label ?? where.hostId,
    zoneId: zone.id,
    zoneName: zone.spec?.name || zone.id,
    ...(workload ? { workloadId: workload.id, workloadName: workload.spec?.name || workload.id } : {}),
    ...(user ? { user } : {}),
    ...(workingDirectory ? { workingDirectory } : {}),
    ...(options.env ? { env: options.env } : {}),
    ...(shell ? { shell } : {}),
  };
}
