import { Code, ConnectError } from "@connectrpc/connect";
import { ReasonedError } from "../core/errors";

/** Why a dev host operation was refused or failed; each maps onto one gRPC status code. */
export type DevHostErrorReason =
  | "notFound"
  | "invalidArgument"
  | "failedPrecondition"
  | "alreadyExists"
  | "unavailable"
  | "permissionDenied"
  | "resourceExhausted"
  | "internal";

/** A dev host failure with a reason; the RPC layer turns it into the matching gRPC status. */
export class DevHostError extends ReasonedError<DevHostErrorReason> {
  override readonly name = "DevHostError";
}

const codes: Record<DevHostErrorReason, Code> = {
  notFound: Code.NotFound,
  invalidArgument: Code.InvalidArgument,
  failedPrecondition: Code.FailedPrecondition,
  alreadyExists: Code.AlreadyExists,
  unavailable: Code.Unavailable,
  permissionDenied: Code.PermissionDenied,
  resourceExhausted: Code.ResourceExhausted,
  internal: Code.Internal,
};

/** The gRPC error a client sees for anything a handler throws. */
export function toConnectError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  if (DevHostError.is(err))
    return new ConnectError(err.message, codes[err.reason], undefined, undefined, err);
  return new ConnectError(
    err instanceof Error ? err.message : String(err),
    Code.Internal,
    undefined,
    undefined,
    err,
  );
}
