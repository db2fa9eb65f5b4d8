import type { Diagnostic } from "../devcontainer/diagnostics";
import type { SourcePos } from "./yamlNodes";

/**
 * A Compose project after reading, interpolating, merging and checking its files: what the
 * launch plan translates. Paths are absolute (relative ones are resolved against the project
 * directory, the folder of the first file, as Compose does for every file of a project).
 */
export interface ComposeProject {
  /** The project name (COMPOSE_PROJECT_NAME, `name:`, or derived from the folder). */
  readonly name: string;
  readonly projectDirectory: string;
  /** The files, in merge order. */
  readonly files: readonly string[];
  /** Every service, in the order the merged files define them. */
  readonly services: ReadonlyMap<string, ComposeService>;
  /** Top-level named volumes. */
  readonly volumes: ReadonlyMap<string, ComposeVolume>;
  /** Profiles switched on by COMPOSE_PROFILES. */
  readonly activeProfiles: readonly string[];
  /** Warnings (unset variables, obsolete `version`) — errors make loading fail instead. */
  readonly diagnostics: readonly Diagnostic[];
}

export interface ComposeVolume {
  readonly name: string;
  /** `external: true`: a volume Compose expects to exist already; it is not created. */
  readonly external: boolean;
  readonly pos: SourcePos;
}

export interface ComposeBuild {
  /** Absolute build context folder. */
  readonly context: string;
  /** The Dockerfile, relative to the context as written (default "Dockerfile"). */
  readonly dockerfile: string;
  /** `dockerfile_inline`, when given instead of a file. */
  readonly dockerfileInline?: string;
  /** Build arguments; undefined values come from the build environment (Compose passes them only when set). */
  readonly args: ReadonlyMap<string, string | undefined>;
  readonly target?: string;
  readonly cacheFrom: readonly string[];
  readonly pos: SourcePos;
}

export type DependencyCondition = "service_started" | "service_healthy" | "service_completed_successfully";

export interface ComposeDependency {
  readonly service: string;
  readonly condition: DependencyCondition;
  /** false: a missing or failing dependency is only a warning. */
  readonly required: boolean;
  readonly pos: SourcePos;
}

export interface ComposeHealthcheck {
  /** The probe as argv: `CMD` form as written, `CMD-SHELL` as `/bin/sh -c …`. Undefined: the image's own (or none). */
  readonly test: readonly string[] | undefined;
  /** Human form of the probe for plans and messages. */
  readonly display: string;
  /** `disable: true` or `test: ["NONE"]`. */
  readonly disabled: boolean;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly startPeriodMs: number;
  readonly startIntervalMs: number;
  readonly pos: SourcePos;
}

export interface ComposeMount {
  readonly type: "bind" | "volume" | "tmpfs";
  /** bind: absolute host path; volume: the volume name (undefined for an anonymous volume). */
  readonly source: string | undefined;
  readonly target: string;
  readonly readOnly: boolean;
  readonly pos: SourcePos;
}

export interface ComposePort {
  readonly target: number;
  /** The published (host-side) port, when given. */
  readonly published: number | undefined;
  readonly hostIp: string | undefined;
  readonly protocol: "tcp" | "udp" | "sctp";
  readonly pos: SourcePos;
}

export interface ComposeService {
  readonly name: string;
  /** Where the service's key is written. */
  readonly pos: SourcePos;
  /** Every key of the service's mapping, with the position of its last definition. */
  readonly keys: ReadonlyMap<string, SourcePos>;
  readonly image: string | undefined;
  readonly build: ComposeBuild | undefined;
  /** argv; a string command is split with shell quoting rules (no shell runs it), as Compose does. */
  readonly command: readonly string[] | undefined;
  readonly entrypoint: readonly string[] | undefined;
  /** env_file entries first, then `environment`, later ones winning. */
  readonly environment: ReadonlyArray<readonly [string, string]>;
  readonly user: string | undefined;
  readonly workingDir: string | undefined;
  readonly mounts: readonly ComposeMount[];
  readonly ports: readonly ComposePort[];
  readonly expose: readonly number[];
  readonly dependsOn: readonly ComposeDependency[];
  readonly healthcheck: ComposeHealthcheck | undefined;
  readonly profiles: readonly string[];
  readonly networkMode: string | undefined;
  /** Names this service is also reachable by: hostname, container_name, network aliases. */
  readonly aliases: readonly string[];
  readonly extraHosts: ReadonlyArray<readonly [string, string]>;
  readonly capAdd: readonly string[];
  readonly capDrop: readonly string[];
  readonly privileged: boolean;
  readonly readOnly: boolean;
  readonly tmpfs: readonly string[];
  readonly tty: boolean;
  readonly stdinOpen: boolean;
}
