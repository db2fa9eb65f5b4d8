import type { ZonesCommand } from "./command";
import { resolveZone } from "./pick";

/** Show Logs: the zone's console with the history the host kept, following live output. Returns the panel. */
export const showLogsCommand: ZonesCommand = {
  id: "zones.zone.showLogs",
  async run(ctx, arg) {
    const target = await resolveZone(ctx, arg, "Show the console of which zone?");
    if (!target) return undefined;
    return ctx.consoles.show({ kind: "zone", hostId: target.hostId, zoneId: target.zoneId });
  },
};
