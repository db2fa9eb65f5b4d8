import type { HookName } from "../devcontainer/hooks";
import type { WorkloadStateName, ZoneStateName } from "../protect/zoneFacts";

/**
 * The steps of a launch, in the order they run. Each reports started/finished with its duration;
 * steps that do not apply report `skipped` with the reason, so a progress UI can show all of them.
 */
export const launchSteps = [
  "initializeCommand",
  "findExisting",
  // The image first: a build or pull that fails (or is cancelled) under --recreate leaves the
  // old zone running instead of none at all.
  "resolveImage",
  "buildImage",
  "exportImage",
  "importImage",
  "pullImage",
  "destroyExisting",
  "pullKernel",
  "createZone",
  "waitZoneReady",
  "syncWorkspace",
  "startServices",
  "createWorkload",
  "waitWorkloadRunning",
  "resolveRemoteEnv",
  "onCreateCommand",
  "updateContentCommand",
  "postCreateCommand",
  "postStartCommand",
  "postAttachCommand",
  "forwardPorts",
] as const;

/** One step of a launch. */
export type LaunchStep = (typeof launchSteps)[number];

/** Per-layer progress of a pull. */
export interface LayerProgress {
  readonly id: string;
  /** waiting, downloading, downloaded, extracting, extracted. */
  readonly phase: string;
  readonly current?: number;
  readonly total?: number;
}

/** Workspace sync counters (also the final tally). */
export interface SyncProgress {
  /** Files examined so far / in total (the walk runs first, so totals are known). */
  readonly filesChecked: number;
  readonly filesTotal: number;
  /** Files copied (new or changed) and their bytes. */
  readonly filesCopied: number;
  readonly bytesCopied: number;
  /** Bytes that need copying in total. */
  readonly bytesToCopy: number;
  /** The file being copied, relative to the workspace. */
  readonly current?: string;
}

/**
 * What a launch reports while it runs. Everything is plain data (no protobuf), so the CLI
 * prints it, the extension maps it onto a progress notification, and tests assert on it.
 */
export type LaunchEvent =
  | { readonly type: "stepStarted"; readonly step: LaunchStep; readonly detail?: string }
  | {
      readonly type: "stepFinished";
      readonly step: LaunchStep;
      readonly ms: number;
      readonly outcome: "done" | "skipped";
      readonly detail?: string;
    }
  | { readonly type: "stepFailed"; readonly step: LaunchStep; readonly ms: number; readonly message: string }
  | {
      readonly type: "imagePull";
      readonly role: "workload" | "kernel" | "initrd";
      readonly reference: string;
      /** started, resolving, resolved, config_download, layer_download, assemble, pack, complete. */
      readonly phase: string;
      readonly layers: readonly LayerProgress[];
      /** Overall bar, when the host sends one. */
      readonly current?: number;
      readonly total?: number;
      readonly isBytes?: boolean;
    }
  /** Output of the image builder (buildah, podman, docker) while it builds, as it comes. */
  | { readonly type: "buildOutput"; readonly text: string }
  /** ImportImage: bytes sent of the archive, then the host's phase. */
  | {
      readonly type: "imageImport";
      readonly name: string;
      readonly sentBytes: number;
      readonly totalBytes: number;
      readonly phase: string;
    }
  | { readonly type: "zoneState"; readonly zoneId: string; readonly state: ZoneStateName }
  | { readonly type: "workloadState"; readonly workloadId: string; readonly state: WorkloadStateName }
  | { readonly type: "sync"; readonly progress: SyncProgress }
  | {
      readonly type: "hookStarted";
      readonly hook: HookName;
      readonly label: string | undefined;
      readonly command: string;
      /** Set for a feature's (or the base image's) hook: `feature <id>`. */
      readonly origin?: string;
    }
  | {
      readonly type: "hookOutput";
      readonly hook: HookName;
      readonly label: string | undefined;
      readonly stream: "stdout" | "stderr";
      readonly data: Uint8Array;
    }
  | {
      readonly type: "hookExited";
      readonly hook: HookName;
      readonly label: string | undefined;
      readonly exitCode: number;
      readonly ms: number;
    }
  /**
   * The devcontainer's `waitFor` hook is done: a tool may open terminals now while later hooks
   * keep running (the extension does; the CLI waits for all of them). Fired once.
   */
  | {
      readonly type: "attachable";
      readonly zoneId: string;
      readonly workloadId: string;
      readonly after: LaunchStep;
    }
  | { readonly type: "warning"; readonly message: string }
  /** A Compose service of the zone: created, reused, healthy… */
  | { readonly type: "service"; readonly service: string; readonly message: string }
  | { readonly type: "rollback"; readonly action: string; readonly ok: boolean; readonly message?: string };

/** Duration of one step. */
export interface StepTiming {
  readonly step: LaunchStep;
  readonly ms: number;
  readonly outcome: "done" | "skipped" | "failed";
}
