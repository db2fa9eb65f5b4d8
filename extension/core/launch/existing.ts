import { composeServiceAnnotation } from "../compose/composePlan";
import { annotationKeys } from "../devcontainer/plan";
import { WorkloadState, ZoneState } from "../../proto/gen/protect/control/v1/common_pb";
import type { Workload, Zone } from "../../proto/gen/protect/control/v1/common_pb";

/** Annotations the launch adds on top of the plan's (same reserved prefix: a file cannot set them). */
export const launchAnnotationKeys = {
  /** The host folder holding the workspace copy, so `down ZONE` can remove it without the project at hand. */
  hostWorkspace: "zones.styrolite.dev/host-workspace",
  /** remoteUser/containerUser of the devcontainer, so `zonectl shell` opens terminals as that user. */
  remoteUser: "zones.styrolite.dev/remote-user",
} as const;

/** An annotation's value on a zone or workload spec. */
export function annotationOf(
  spec: { annotations: readonly { key: string; value: string }[] } | undefined,
  key: string,
): string | undefined {
  return spec?.annotations.find((a) => a.key === key)?.value;
}

function alive(state: number | undefined): boolean {
  return state !== ZoneState.DESTROYING && state !== ZoneState.DESTROYED;
}

/** Zones carrying this devcontainer id (and not on their way out). */
export function zonesOfDevcontainer(zones: readonly Zone[], devcontainerId: string): Zone[] {
  return zones.filter(
    (z) => annotationOf(z.spec, annotationKeys.devcontainerId) === devcontainerId && alive(z.status?.state),
  );
}

/** Workloads in a zone that `up` made for this devcontainer id. */
export function workloadsOfDevcontainer(
  workloads: readonly Workload[],
  zoneId: string,
  devcontainerId: string,
): Workload[] {
  return workloads.filter(
    (w) =>
      w.spec?.zoneId === zoneId &&
      annotationOf(w.spec, annotationKeys.devcontainerId) === devcontainerId &&
      // A Compose project's other services carry the id too; the devcontainer's own workload is the dev service.
      annotationOf(w.spec, composeServiceAnnotation) === undefined &&
      w.status?.state !== WorkloadState.DESTROYING &&
      w.status?.state !== WorkloadState.DESTROYED,
  );
}
