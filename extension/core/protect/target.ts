import type { SshDestination } from "../ssh/destination";
import { formatDestination, parseDestination } from "../ssh/destination";
import { ProtectError } from "./errors";

/**
 * Where a Protect daemon is: a local unix socket (`unix:///path`) or an SSH destination (alias,
 * `user@host:port`, `ssh://…`) whose daemon socket is reached through the SSH connection.
 */
export type ProtectTarget =
  | { readonly kind: "unix"; readonly socketPath: string; readonly display: string }
  | { readonly kind: "ssh"; readonly destination: SshDestination; readonly display: string };

/** Parses a target; throws ProtectError `invalidArgument` (or SshError `configInvalid`) when it cannot be one. */
export function parseTarget(text: string): ProtectTarget {
  const trimmed = text.trim();
  // unix:///abs/path (empty authority) or unix:/abs/path; unix://relative is an error.
  const unix = /^unix:(?:\/\/(\/.*)|(\/(?!\/).*))$/i.exec(trimmed);
  if (unix) {
    const socketPath = decodeURIComponent((unix[1] ?? unix[2])!);
    return { kind: "unix", socketPath, display: `unix://${socketPath}` };
  }
  if (/^unix:/i.test(trimmed)) {
    throw new ProtectError(
      "invalidArgument",
      `'${text}' is not a valid unix socket target: use unix:///absolute/path.`,
    );
  }
  const destination = parseDestination(trimmed);
  return { kind: "ssh", destination, display: formatDestination(destination) };
}
