import { DetailedError } from "../errors";

/**
 * Why an SSH operation failed. Callers branch on these, never on message text.
 * - `hostKeyUnknown`: the host's key is not in known_hosts and the user (or StrictHostKeyChecking) refused it
 * - `hostKeyChanged`: known_hosts holds a different key for the host (possible man-in-the-middle)
 * - `hostKeyRevoked`: the key is marked `@revoked` in known_hosts
 * - `authFailed`: every authentication method was rejected
 * - `connectFailed`: TCP connect failed (refused, DNS, unreachable); `errno` keeps the system code
 * - `timeout`: connect or handshake did not finish within ConnectTimeout
 * - `lost`: an established connection died (keepalive timeout, reset, server restart)
 * - `channelRefused`: the server refused to open a channel (forwarding denied, MaxSessions, …)
 * - `configInvalid`: the destination or ssh config cannot be used as written
 * - `cancelled`: the caller aborted
 */
export type SshErrorReason =
  | "hostKeyUnknown"
  | "hostKeyChanged"
  | "hostKeyRevoked"
  | "authFailed"
  | "connectFailed"
  | "timeout"
  | "lost"
  | "channelRefused"
  | "configInvalid"
  | "cancelled";

/**
 * Why a host key is unknown and refused: StrictHostKeyChecking yes, nobody could be asked (no
 * terminal, BatchMode, no confirm callback), or the user was asked and said no.
 */
export type HostKeyUnknownCause = "strictHostKeyChecking" | "noWayToAsk" | "notTrusted";

/** Extra facts some reasons carry, for messages and UIs. */
export interface SshErrorDetails {
  /** For hostKeyUnknown: why the key was refused (a UI offers a different remedy for each). */
  readonly hostKeyUnknownCause?: HostKeyUnknownCause;
  /** `host:port` (or the alias) the error is about. */
  readonly host?: string;
  /** For connectFailed: the system error code (ECONNREFUSED, ENOTFOUND, EHOSTUNREACH, …). */
  readonly errno?: string;
  /** For hostKeyChanged: where the old key is recorded. */
  readonly knownHostsFile?: string;
  readonly knownHostsLine?: number;
  readonly oldFingerprint?: string;
  /** For host key errors: the fingerprint the server presented. */
  readonly fingerprint?: string;
  readonly keyType?: string;
  /** For channelRefused: the SSH_OPEN_* code and the server's description. */
  readonly channelFailureCode?: number;
  readonly channelFailureDescription?: string;
}

/** A failed SSH operation, with a reason from {@link SshErrorReason}. */
export class SshError extends DetailedError<SshErrorReason, SshErrorDetails> {
  override readonly name = "SshError";
}

/** SSH_MSG_CHANNEL_OPEN_FAILURE reason codes (RFC 4254 5.1). */
export const channelOpenFailure = {
  administrativelyProhibited: 1,
  connectFailed: 2,
  unknownChannelType: 3,
  resourceShortage: 4,
} as const;
