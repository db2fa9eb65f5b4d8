import type { ZonesCommand } from "./command";
import { resolveHost } from "./pick";

/** Connects a host, or retries one that failed (starting a fresh attempt budget). */
export const connectHostCommand: ZonesCommand = {
  id: "zones.host.connect",
  async run(ctx, arg) {
    const host = await resolveHost(
      ctx,
      arg,
      (h) => h.connection.kind !== "connected",
      "Select a host to connect",
    );
    if (host) ctx.connections.connect(host.entry.id);
  },
};
