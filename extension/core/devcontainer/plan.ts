import type { OciImageFormat, WorkloadSpec, ZoneSpec } from "../../proto/gen/protect/control/v1/common_pb";
import type { Diagnostic, JsonPathSegment } from "./diagnostics";
import type { ComposePlan } from "../compose/composePlan";
import type { FeatureValue } from "../features/featureJson";
import type { MetadataEntry } from "../features/metadata";
import type { HookName, HookStep } from "./hooks";

/**
 * A LaunchPlan is everything `up` will do for a devcontainer.json, as data: built
 * without touching any host, printable (`zonectl plan`), comparable, and the exact input of the
 * step-by-step executor in core/launch. The order an executor follows:
 *
 *  1. refuse if `launchable` is false (`refusals` says why);
 *  2. run `hooks` with runsOn "local" (initializeCommand) in `localFolder`;
 *  3. find an existing zone whose annotation `annotationKeys.devcontainerId` equals
 *     `devcontainerId` (reconnect instead of creating a second one);
 *  4. PullImage every entry of `images` and put the reply's digest where `fills` says;
 *     resolve `deviceRequests` against ListDevices into `zoneSpec.devices`;
 *  5. CreateZone(`zoneSpec`), wait READY;
 *  6. create `sync.hostPath` and every `volumes[].hostPath` on the host, sync the workspace;
 *  7. CreateWorkload(`workloadSpec` with `zoneId` from step 5);
 *  8. run the workload hooks in order (`when` says which run on first launch only), as
 *     `remote.user` with `remote.env`, resolving deferred values with resolveContainerEnv();
 *  9. open `forwards`.
 *
 * Protobuf messages (`zoneSpec`, `workloadSpec`) hold bigint fields; `planToJson()` gives the
 * stable JSON form (proto3 JSON for the messages: uint64 as strings, enums by name).
 */
export interface LaunchPlan {
  /** Version of this shape; bumped on any incompatible change of the JSON form. */
  readonly version: 1;
  /** Absolute path of the devcontainer.json the plan was made from. */
  readonly configFile: string;
  /** Absolute path of the project folder on the developer's machine. */
  readonly localFolder: string;
  /** The spec's `${devcontainerId}` for (localFolder, configFile): 52 chars of base-32. */
  readonly devcontainerId: string;
  /** The labels the id is derived from. */
  readonly idLabels: Readonly<Record<string, string>>;
  /** `name` from the file, for display. */
  readonly displayName: string | undefined;
  /** Name of the zone to create (also in zoneSpec.name). */
  readonly zoneName: string;
  /** Name of the workload (also in workloadSpec.name). */
  readonly workloadName: string;
  /** False when anything in the file cannot be honoured; `refusals` has one reason per problem. */
  readonly launchable: boolean;
  readonly refusals: readonly string[];
  /** Images to pull, in order, and where each pulled digest goes. */
  readonly images: readonly ImagePull[];
  /**
   * The workload image is built on this machine first (features, a Dockerfile, or both) and sent
   * to the host; then `images` has no workload entry.
   */
  readonly build: ImageBuild | undefined;
  /**
   * What the image's `devcontainer.metadata` entries (its base image's, its features') added to
   * the file, when the plan was made knowing the image; empty before.
   */
  readonly imageContributions: readonly ImageContribution[];
  /** The CreateZone spec. Empty digests in kernel/initrd are filled from `images`; `devices` grows by `deviceRequests`. */
  readonly zoneSpec: ZoneSpec;
  /** The CreateWorkload spec. `zoneId` and `image.digest` are filled at launch (see `fillAtLaunch`). */
  readonly workloadSpec: WorkloadSpec;
  /** Fields of the two specs that only exist once the launch is under way, and where they come from. */
  readonly fillAtLaunch: readonly LaunchTimeField[];
  /** Devices the zone needs that are named by kind, not by host device name (a GPU). */
  readonly deviceRequests: readonly DeviceRequest[];
  /** How the project folder reaches the workload. */
  readonly sync: WorkspaceSync;
  /** Named volumes: host folders to create (if missing) and mount. */
  readonly volumes: readonly HostVolume[];
  /** Lifecycle hooks in execution order. */
  readonly hooks: readonly HookStep[];
  /** The hook after which a tool may connect while later hooks continue (spec `waitFor`). */
  readonly waitFor: HookName;
  /** How hooks and terminals run inside the workload. */
  readonly remote: RemoteProcess;
  /** Ports to forward from the workload to the developer's machine. */
  readonly forwards: readonly PortForward[];
  /** What closing the editor / the session does: keep everything, or stop the workload. `zonectl down` always destroys. */
  readonly shutdownAction: "none" | "stopWorkload";
  /** Overrides of how to reach the host, from customizations.styrolite.host (honour only for a trusted workspace). */
  readonly connection: ConnectionOverride | undefined;
  /** A Compose project's other services and how they start; undefined for a single-container config. */
  readonly compose?: ComposePlan;
  /** Every property present in the file, and what became of it. */
  readonly properties: readonly PropertyVerdict[];
  /** Warnings and notes from parsing, validation and substitution (errors stop before a plan exists, except refusals). */
  readonly diagnostics: readonly Diagnostic[];
}

/** One image to pull with PullImage. */
export interface ImagePull {
  readonly role: "workload" | "kernel" | "initrd";
  /** The reference as written (after variable substitution). */
  readonly reference: string;
  readonly format: OciImageFormat;
  /** Where the reply's `spec` (digest + format) goes. */
  readonly fills: "workloadSpec.image" | "zoneSpec.kernel" | "zoneSpec.initrd";
}

/** An image built before launch: the features installed on a base image or on a Dockerfile's result. */
export interface ImageBuild {
  readonly base: BuildBase;
  /** devcontainer.json's `features`, as written and in file order (dependencies are found at launch). */
  readonly features: ReadonlyArray<{ readonly userId: string; readonly value: FeatureValue }>;
  /** overrideFeatureInstallOrder. */
  readonly overrideInstallOrder: readonly string[];
  /** devcontainer-lock.json (or .devcontainer-lock.json) next to the config: read, and written after a build. */
  readonly lockfile: string;
  /** The built image's name without tag (`localhost/zones-build/<zone>`); the tag is the build's cache key. */
  readonly repository: string;
  /** customizations.styrolite.build.builder; settings and --builder override it. */
  readonly builder: "auto" | "buildah" | "podman" | "docker" | undefined;
  /** customizations.styrolite.build.push: push there and let the host pull, instead of ImportImage. */
  readonly push: string | undefined;
  /** The file's containerUser and remoteUser: they decide _CONTAINER_USER and _REMOTE_USER for features. */
  readonly containerUser: string | undefined;
  readonly remoteUser: string | undefined;
}

/** What the features go on. Paths are absolute on this machine. */
export type BuildBase =
  | { readonly kind: "image"; readonly reference: string }
  | {
      readonly kind: "dockerfile";
      readonly dockerfile: string;
      readonly context: string;
      readonly args: Readonly<Record<string, string>>;
      readonly target: string | undefined;
      readonly cacheFrom: readonly string[];
      /** build.options, allow-listed. */
      readonly options: readonly string[];
    };

/** One origin's additions from image metadata (a feature, the base image). */
export interface ImageContribution {
  /** `feature ghcr.io/…/node:1`, or `the base image`. */
  readonly origin: string;
  /** The properties it set: privileged, mounts, entrypoint, postCreateCommand, … */
  readonly properties: readonly string[];
}

/**
 * The image a launch runs, once known (pulled, found or built): its metadata entries and
 * the parts of its config that launching needs. The planner merges the entries with the file.
 */
export interface LaunchImage {
  /** The image's `devcontainer.metadata` entries (base image's, then features'), devcontainer.json's own left out. */
  readonly entries: readonly MetadataEntry[];
  readonly entrypoint: readonly string[];
  readonly cmd: readonly string[];
  /** The image's `User` ("" for root). */
  readonly user: string;
}

/** A spec field filled during launch. */
export interface LaunchTimeField {
  readonly field: string;
  readonly from: string;
}

/** A device asked for by kind (hostRequirements.gpu, --gpus). */
export interface DeviceRequest {
  readonly kind: "gpu";
  /** `"optional"`: launch without one when the host has none. */
  readonly optional: boolean;
  readonly cores?: number;
  readonly memoryMiB?: number;
  /** The property that asked, e.g. "hostRequirements.gpu". */
  readonly source: string;
}

/** The workspace copy: local folder → host folder → mount target in the workload. */
export interface WorkspaceSync {
  readonly localFolder: string;
  /** Per-zone folder on the host: `<workspaceRoot>/<devcontainerId>`. */
  readonly hostPath: string;
  /** Where the workload sees it (workspaceFolder, or workspaceMount's target). */
  readonly targetPath: string;
  /** gitignore-style patterns never copied: `.git/` plus the root .gitignore's patterns. */
  readonly exclude: readonly string[];
  /** Whether .gitignore files in subfolders are honoured too (they are read during the walk). */
  readonly respectGitignore: boolean;
}

/** A named volume backed by a host folder. */
export interface HostVolume {
  readonly name: string;
  readonly hostPath: string;
  readonly target: string;
}

/** One remoteEnv entry. */
export interface RemoteEnvVar {
  readonly name: string;
  /** null: unset the variable. When `deferred`, a template with `${containerEnv:…}` left to resolve. */
  readonly value: string | null;
  readonly deferred: boolean;
}

/** How processes started in the workload after creation (hooks, terminals) run. */
export interface RemoteProcess {
  /** remoteUser, else containerUser, else the image's user (undefined). */
  readonly user: string | undefined;
  readonly workingDirectory: string;
  readonly env: readonly RemoteEnvVar[];
}

/** One forwarded port. */
export interface PortForward {
  readonly containerPort: number;
  readonly localPort: number;
  readonly localAddress?: string;
  readonly label?: string;
  readonly protocol?: "http" | "https";
  readonly onAutoForward?: string;
  readonly requireLocalPort?: boolean;
  readonly elevateIfNeeded?: boolean;
  /** The property it came from, e.g. "forwardPorts[0]". */
  readonly source: string;
}

/** Host connection overrides from the workspace file. */
export interface ConnectionOverride {
  readonly socketPath?: string;
  readonly bridge?: readonly string[];
}

/** What became of one property. */
export type PropertyStatus = "translated" | "ignored" | "refused";

/** One row of the property table. */
export interface PropertyVerdict {
  /** Display form of the path: `hostRequirements.cpus`, `runArgs[2]`. */
  readonly property: string;
  readonly path: readonly JsonPathSegment[];
  readonly status: PropertyStatus;
  /** translated: to what; ignored: why; refused: why launch cannot proceed. */
  readonly detail: string;
  readonly line: number;
  readonly column: number;
}

/** Annotation keys we put on zones and workloads. Other engineers: find zones by `devcontainerId`. */
export const annotationKeys = {
  devcontainerId: "zones.styrolite.dev/devcontainer-id",
  localFolder: "zones.styrolite.dev/local-folder",
  configFile: "zones.styrolite.dev/config-file",
  name: "zones.styrolite.dev/name",
} as const;

/** Annotation keys under this prefix are ours; a file cannot set them. */
export const reservedAnnotationPrefix = "zones.styrolite.dev/";

/** Host folder under which synced workspaces live, one per devcontainerId. */
export const defaultWorkspaceRoot = "/var/lib/styrolite-zones/workspaces";
/** Host folder under which named volumes live. */
export const defaultVolumeRoot = "/var/lib/styrolite-zones/volumes";

/** What the workload runs when overrideCommand is true: nothing but staying alive, and exiting at once on SIGTERM. */
export const keepAliveCommand: readonly string[] = [
  "/bin/sh",
  "-c",
  'trap "exit 0" TERM; while sleep 1000; do :; done',
];
