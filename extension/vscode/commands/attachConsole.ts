import type { ZonesCommand } from "./command";
import { resolveZoneOrWorkload } from "./pick";

/**
 * Attach Console: a workload's own stdio (what its main process printed, then live, and its
 * stdin) in the console panel. Detaching (closing the panel) leaves the workload running.
 */
export const attachConsoleCommand: ZonesCommand = {
  id: "zones.workload.attachConsole",
  async run(ctx, arg) {
    const where = await resolveZoneOrWorkload(ctx, arg, "Attach to the console of which workload?", {
      zones: false,
    });
    if (!where?.workloadId) return undefined;
    return ctx.consoles.show({ kind: "workload", hostId: where.hostId, workloadId: where.workloadId });
  },
};
