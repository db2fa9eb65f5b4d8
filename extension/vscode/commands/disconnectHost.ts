import type { ZonesCommand } from "./command";
import { resolveHost } from "./pick";

/** Closes a host's connection; it stays in the list, disconnected, until Connect. */
export const disconnectHostCommand: ZonesCommand = {
  id: "zones.host.disconnect",
  async run(ctx, arg) {
    const host = await resolveHost(
      ctx,
      arg,
      (h) => h.connection.kind !== "disconnected",
      "Select a host to disconnect",
    );
    if (host) ctx.connections.disconnect(host.entry.id);
  },
};
