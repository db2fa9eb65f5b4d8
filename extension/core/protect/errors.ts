import { Code, ConnectError } from "@connectrpc/connect";
import { DetailedError } from "../errors";
import { SshError } from "../ssh/errors";

/**
 * Why a call to the Protect daemon failed. Callers branch on these, never on message text.
 * - `unreachable`: the daemon cannot be reached — `details.unreachable` says whether the socket
 *   is missing, nothing listens on it (daemon not running), or the bridge command failed
 * - `permissionDenied`: the socket is not ours to open and sudo wants a password, or the daemon said no
 * - `notFound`, `alreadyExists`, `invalidArgument`, `failedPrecondition`: the daemon's answer
 * - `ambiguous`: a name matches several zones or workloads
 * - `unimplemented`: the daemon does not implement this RPC
 * - `deadline`: no answer within the deadline
 * - `cancelled`: the caller aborted
 * - `lost`: the connection died during the call
 * - `invalidReply`: the daemon answered something we cannot use
 * - `server`: any other error the daemon reported (its message is included)
 */
export type ProtectErrorReason =
  | "unreachable"
  | "permissionDenied"
  | "notFound"
  | "alreadyExists"
  | "invalidArgument"
  | "failedPrecondition"
  | "ambiguous"
  | "unimplemented"
  | "deadline"
  | "cancelled"
  | "lost"
  | "invalidReply"
  | "server";

/** For `unreachable`: what exactly was not there. */
export type UnreachableKind = "socketMissing" | "daemonNotRunning" | "bridgeFailed" | "other";

export interface ProtectErrorDetails {
  /** Host name or socket path, for messages. */
  readonly host?: string;
  /** The RPC or operation, e.g. "ListZones". */
  readonly operation?: string;
  /** The Connect/gRPC code the daemon (or transport) reported. */
  readonly code?: Code;
  readonly unreachable?: UnreachableKind;
  /** For ambiguous: the matching ids. */
  readonly candidates?: readonly string[];
}

/** A failed call to the Protect daemon. */
export class ProtectError extends DetailedError<ProtectErrorReason, ProtectErrorDetails> {
  override readonly name = "ProtectError";
}

/**
 * A transport failure we diagnosed ourselves (missing socket, bridge exit, lost tunnel). It
 * carries `code: "ECONNREFUSED"` because that is what makes Connect report `Unavailable`
 * instead of `Canceled` or `Internal` — a lost tunnel must not look like a user's cancel.
 */
export class TransportFailure extends Error {
  override readonly name = "TransportFailure";
  readonly code = "ECONNREFUSED";

  constructor(
    readonly reason: ProtectErrorReason,
    message: string,
    readonly unreachable?: UnreachableKind,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const codeReasons: Partial<Record<Code, ProtectErrorReason>> = {
  [Code.Canceled]: "cancelled",
  [Code.InvalidArgument]: "invalidArgument",
  [Code.OutOfRange]: "invalidArgument",
  [Code.DeadlineExceeded]: "deadline",
  [Code.NotFound]: "notFound",
  [Code.AlreadyExists]: "alreadyExists",
  [Code.PermissionDenied]: "permissionDenied",
  [Code.Unauthenticated]: "permissionDenied",
  [Code.FailedPrecondition]: "failedPrecondition",
  [Code.Unimplemented]: "unimplemented",
  [Code.Unavailable]: "unreachable",
};

/** Walks `cause` links (Connect wraps Node errors; Node wraps ours). */
function* causes(err: unknown): Generator<unknown> {
  const seen = new Set<unknown>();
  let current: unknown = err;
  while (current !== undefined && current !== null && !seen.has(current)) {
    seen.add(current);
    yield current;
    current = current instanceof Error ? current.cause : undefined;
  }
}

/** Codes Connect raises on its own side for a call that ended in time, by cancel or by loss: their meaning stands. */
const callOutcomeCodes = new Set<Code>([
  Code.Canceled,
  Code.DeadlineExceeded,
  Code.Unavailable,
  Code.Aborted,
]);

/**
 * Connect reports a reply it could not decode (truncated or oversized envelope, bytes that are not
 * the message, missing trailers, a foreign content type) with codes like InvalidArgument or
 * Internal — the same codes a daemon sends about our request. Only `isWireError` tells them
 * apart: a code the daemon sent is its answer; one Connect raised itself, with no Node error
 * behind it, means the reply was unusable — the daemon's fault, not the caller's argument.
 */
function isUnusableReply(err: ConnectError): boolean {
  return !err.isWireError && !callOutcomeCodes.has(err.code) && !(err.cause instanceof Error);
}

/**
 * Turns anything an RPC threw into a ProtectError (SshErrors from connecting stay SshErrors:
 * their reasons — host key, auth — are what the user must act on).
 */
export function toProtectError(err: unknown, operation: string, host: string): ProtectError | SshError {
  if (ProtectError.is(err)) return err;
  if (SshError.is(err)) {
    if (err.reason === "lost")
      return new ProtectError(
        "lost",
        `${operation} on ${host}: ${err.message}`,
        { host, operation },
        { cause: err },
      );
    return err;
  }
  for (const c of causes(err)) {
    if (c instanceof TransportFailure) {
      return new ProtectError(
        c.reason,
        `${operation} on ${host}: ${c.message}`,
        { host, operation, ...(c.unreachable ? { unreachable: c.unreachable } : {}) },
        { cause: err },
      );
    }
    if (SshError.is(c)) return toProtectError(c, operation, host);
    const code = (c as { code?: unknown }).code;
    if (typeof code === "string") {
      switch (code) {
        case "ENOENT":
          return new ProtectError(
            "unreachable",
            `${operation} on ${host}: the daemon socket does not exist (is the daemon running?).`,
            { host, operation, unreachable: "socketMissing" },
            { cause: err },
          );
        case "ECONNREFUSED":
          return new ProtectError(
            "unreachable",
            `${operation} on ${host}: nothing is listening on the daemon socket (the daemon is not running).`,
            { host, operation, unreachable: "daemonNotRunning" },
            { cause: err },
          );
        case "EACCES":
        case "EPERM":
          return new ProtectError(
            "permissionDenied",
            `${operation} on ${host}: permission denied opening the daemon socket.`,
            { host, operation },
            { cause: err },
          );
        case "ECONNRESET":
        case "EPIPE":
          return new ProtectError(
            "lost",
            `${operation} on ${host}: the daemon closed the connection.`,
            { host, operation },
            { cause: err },
          );
      }
    }
  }
  if (err instanceof ConnectError) {
    if (isUnusableReply(err)) {
      return new ProtectError(
        "invalidReply",
        `${operation} on ${host}: the daemon's reply could not be read (${err.rawMessage || Code[err.code]}).`,
        { host, operation, code: err.code },
        { cause: err },
      );
    }
    const reason = codeReasons[err.code] ?? (err.code === Code.Aborted ? "lost" : "server");
    const said = err.rawMessage || Code[err.code];
    return new ProtectError(
      reason,
      `${operation} on ${host}: ${said}`,
      { host, operation, code: err.code },
      { cause: err },
    );
  }
  if (
    err instanceof Error &&
    (err.name === "AbortError" || (err as { code?: unknown }).code === "ABORT_ERR")
  ) {
    return new ProtectError(
      "cancelled",
      `${operation} on ${host}: cancelled.`,
      { host, operation },
      { cause: err },
    );
  }
  return new ProtectError(
    "server",
    `${operation} on ${host}: ${err instanceof Error ? err.message : String(err)}`,
    { host, operation },
    { cause: err },
  );
}
