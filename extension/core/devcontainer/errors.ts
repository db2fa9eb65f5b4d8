import { ReasonedError } from "../errors";
import type { Diagnostic } from "./diagnostics";

/**
 * Why a devcontainer.json could not be turned into a plan:
 * - `notFound`: no config in the usual places (or `--config` names a missing file);
 * - `ambiguous`: several configs and nothing chose one (`candidates` lists them);
 * - `unreadable`: the file exists but cannot be read (permissions, a directory, too large);
 * - `invalid`: syntax or schema errors (`diagnostics` holds every one, located).
 */
export type DevcontainerErrorReason = "notFound" | "ambiguous" | "unreadable" | "invalid";

/** A devcontainer.json problem that stops planning. */
export class DevcontainerError extends ReasonedError<DevcontainerErrorReason> {
  override readonly name = "DevcontainerError";

  constructor(
    reason: DevcontainerErrorReason,
    message: string,
    readonly details: {
      readonly diagnostics?: readonly Diagnostic[];
      readonly candidates?: readonly string[];
      readonly cause?: unknown;
    } = {},
  ) {
    super(reason, message, details.cause === undefined ? undefined : { cause: details.cause });
  }

  /** Every located problem (empty unless reason is `invalid`). */
  get diagnostics(): readonly Diagnostic[] {
    return this.details.diagnostics ?? [];
  }

  /** The configs to choose from (only for `ambiguous`). */
  get candidates(): readonly string[] {
    return this.details.candidates ?? [];
  }
}
