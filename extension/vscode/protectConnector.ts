/**
 * Adapts core/protect's host facade to the extension's HostConnector port.
 *
 * TODO(#5): core/protect's ProtectHost (extension/core/protect/host.ts) is being written; until it
 * lands, connecting fails with a plain statement of that fact rather than pretending.
 */
import { ReasonedError } from "../core/errors";
import type { HostConnector } from "./model/hostSession";

/** The Protect client is missing from this build. */
export class ClientUnavailableError extends ReasonedError<"clientUnavailable"> {
  override readonly name = "ClientUnavailableError";
}

export const protectConnector: HostConnector = {
  connect: async () => {
    throw new ClientUnavailableError("clientUnavailable", "This build has no Protect client yet (core/protect is not included), so it cannot connect to hosts.");
  },
};
