import { DetailedError } from "../errors";

/** Why building, exporting or publishing an image failed. */
export type BuildErrorReason =
  /** No usable builder on this machine (or the one asked for is missing). */
  | "noBuilder"
  /** The build ran and failed: a Dockerfile step, or a feature's install script. */
  | "buildFailed"
  /** A feature could not be resolved: unreachable registry, missing manifest, bad artifact. */
  | "featureFailed"
  /** Writing the built image out (archive, push) failed. */
  | "exportFailed"
  /** A build setting is not allowed or malformed (an option off the allow-list, a context outside the project). */
  | "invalid"
  /** The build was cancelled. */
  | "cancelled";

/** Facts a caller can show next to the message. */
export interface BuildErrorDetails {
  /** The feature whose install failed or could not be fetched (as written in devcontainer.json). */
  readonly feature?: string;
  /** The builder's last lines of output. */
  readonly outputTail?: readonly string[];
  readonly exitCode?: number;
}

/** A failed build step, with its reason. */
export class BuildError extends DetailedError<BuildErrorReason, BuildErrorDetails> {
  override readonly name = "BuildError";
}
