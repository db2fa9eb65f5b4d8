import { DetailedError } from "../errors";

/**
 * Why a launch (or a teardown) failed. Callers branch on these, never on message text.
 * - `notLaunchable`: the plan has refusals; nothing was created
 * - `initializeFailed`: initializeCommand exited non-zero on this machine
 * - `ambiguous`: several zones carry this devcontainer's id
 * - `zoneFailed`: the zone went FAILED (the host's message is in the text) or vanished
 * - `workloadFailed`: the workload went FAILED or exited instead of running
 * - `timeout`: a zone or workload did not get where it should within the time allowed
 * - `syncFailed`: copying the workspace to or from the host failed
 * - `pullFailed`: PullImage failed or returned no digest
 * - `buildFailed`: building the image on this machine failed: no builder, a feature that could
 *   not be fetched or failed to install (`details.feature`), a Dockerfile step, the export
 * - `device`: a device the plan asks for is not available
 * - `hookFailed`: a lifecycle hook exited non-zero (`details.hook`, `details.exitCode`)
 * - `cancelled`: the caller aborted (Ctrl-C)
 * - `unsafePath`: a host path to create or delete is not one we may touch
 */
export type LaunchErrorReason =
  | "notLaunchable"
  | "initializeFailed"
  | "ambiguous"
  | "zoneFailed"
  | "workloadFailed"
  | "timeout"
  | "syncFailed"
  | "pullFailed"
  | "buildFailed"
  | "device"
  | "hookFailed"
  | "cancelled"
  | "unsafePath";

/** Extra facts for the caller. */
export interface LaunchErrorDetails {
  /** The step that failed. */
  readonly step?: string;
  /** hookFailed / initializeFailed: the hook, its label in the object form, its exit code. */
  readonly hook?: string;
  readonly label?: string;
  readonly exitCode?: number;
  /** buildFailed: the feature whose fetch or install failed, as written in devcontainer.json. */
  readonly feature?: string;
  /** ambiguous: the zone ids. */
  readonly candidates?: readonly string[];
}

export class LaunchError extends DetailedError<LaunchErrorReason, LaunchErrorDetails> {
  override readonly name = "LaunchError";
}
