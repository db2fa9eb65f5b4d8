import { ReasonedError } from "../errors";

/**
 * Why a port forward failed:
 * - `portInUse`: the local port is taken
 * - `listenFailed`: any other reason the local listener could not start
 * - `invalidSpec`: PORT[:LOCAL] did not parse
 * - `noRoute`: the zone has no address to forward to (SSH mode)
 */
export type ForwardErrorReason = "portInUse" | "listenFailed" | "invalidSpec" | "noRoute";

export class ForwardError extends ReasonedError<ForwardErrorReason> {
  override readonly name = "ForwardError";
}

/** Parses `PORT[:LOCAL]` (zone port, then the local port; LOCAL 0 picks a free one). */
export function parseForwardArg(text: string): { zonePort: number; localPort: number } {
  const m = /^(\d{1,5})(?::(\d{1,5}))?$/.exec(text.trim());
  const zonePort = m ? Number(m[1]) : NaN;
  const localPort = m ? (m[2] === undefined ? zonePort : Number(m[2])) : NaN;
  if (!m || zonePort < 1 || zonePort > 65535 || localPort < 0 || localPort > 65535) {
    throw new ForwardError(
      "invalidSpec",
      `'${text}' is not PORT[:LOCAL] (zone port 1-65535, then an optional local port; 0 picks a free one)`,
    );
  }
  return { zonePort, localPort };
}
