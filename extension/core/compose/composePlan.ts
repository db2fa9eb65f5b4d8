import type { OciImageFormat, WorkloadSpec } from "../../proto/gen/protect/control/v1/common_pb";
import type { HostVolume } from "../devcontainer/plan";
import type { DependencyCondition } from "./model";

/**
 * The Compose part of a LaunchPlan: the project's other services, run as sibling workloads in
 * the dev service's zone. They share the zone's network namespace, so each reaches the others
 * on localhost and by name through the zone's hosts file.
 *
 * The executor creates `services` in order (dependencies first); before creating a workload it
 * waits for each of its `dependsOn` conditions: `service_started` → RUNNING, `service_healthy`
 * → the dependency's healthcheck (run through exec) passed, `service_completed_successfully`
 * → COMPLETED with exit code 0. The dev service (the plan's own workload) waits for
 * `devDependsOn` the same way.
 */
export interface ComposePlan {
  /** The Compose project name: named volumes are `<project>_<volume>` under the volume root. */
  readonly project: string;
  readonly files: readonly string[];
  /** The devcontainer.json's `service`: the plan's own workload. */
  readonly devService: string;
  readonly devDependsOn: readonly ServiceDependency[];
  /** Only `command:` was given for the dev service: the image's Entrypoint goes before it. */
  readonly devPrependImageEntrypoint: boolean;
  /** Built, not pulled, when the dev service has `build:` (the plan's workload image comes from it). */
  readonly devBuild: ServiceBuild | undefined;
  /** The other services to start, dependencies first. */
  readonly services: readonly ServicePlan[];
  /** Written on the host before any workload exists and mounted at /etc/hosts in every one of them. */
  readonly hostsFile: { readonly hostPath: string; readonly content: string };
}

export interface ServiceDependency {
  readonly service: string;
  readonly condition: DependencyCondition;
  /** false: when it cannot be met, a warning and the launch goes on. */
  readonly required: boolean;
}

/** A healthcheck run through ExecuteZoneCommand inside the service's workload. */
export interface ServiceHealthcheck {
  readonly argv: readonly string[];
  readonly display: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly startPeriodMs: number;
  readonly startIntervalMs: number;
}

/** A `build:` section, for the image builder. */
export interface ServiceBuild {
  /** Absolute folder on this machine. */
  readonly context: string;
  /** Relative to the context, as written. */
  readonly dockerfile: string;
  readonly args: Readonly<Record<string, string>>;
  readonly target: string | undefined;
  readonly cacheFrom: readonly string[];
}

export interface ServicePlan {
  readonly name: string;
  /** Pulled with PullImage, unless `build` is set (then `reference` names the built image). */
  readonly image: { readonly reference: string; readonly format: OciImageFormat };
  readonly build: ServiceBuild | undefined;
  /** zone_id and image digest are filled at launch. */
  readonly workloadSpec: WorkloadSpec;
  readonly dependsOn: readonly ServiceDependency[];
  /** Undefined: none declared (a `service_healthy` dependant then cannot start). */
  readonly healthcheck: ServiceHealthcheck | undefined;
  /** Named volumes this service mounts (host folders to create). */
  readonly volumes: readonly HostVolume[];
  /** Only `command:` was given: the image's Entrypoint goes before it, read from the pulled image. */
  readonly prependImageEntrypoint?: boolean;
}

/** The annotation naming a workload's Compose service, so tools can tell the siblings apart. */
export const composeServiceAnnotation = "zones.styrolite.dev/compose-service";
