import * as vscode from "vscode";
import { HostNode } from "../tree/nodes";
import type { ZonesCommand } from "./command";
import { resolveZoneOrWorkload } from "./pick";

/**
 * Open Dashboard: live resource graphs of a zone (from a zone or workload node, or picked), or
 * of a host with its zones stacked (from a host node). One panel per target; opening it again
 * reveals it. Returns the panel.
 */
/** A new dashboard starts on the 1-minute window: there is little history yet, and it shows. */
const firstWindowSeconds = 60;

export const openDashboardCommand: ZonesCommand = {
  id: "zones.dashboard.open",
  async run(ctx, arg) {
    if (arg instanceof HostNode)
      return ctx.dashboards.show({ kind: "host", hostId: arg.hostId }, firstWindowSeconds);
    if (typeof arg === "string" && ctx.model.host(arg))
      return ctx.dashboards.show({ kind: "host", hostId: arg }, firstWindowSeconds);
    const where = await resolveZoneOrWorkload(ctx, arg, "Open the dashboard of…", { workloads: false });
    if (!where) return undefined;
    if (!ctx.samplers.sampler(where.hostId)) {
      void vscode.window.showWarningMessage(`Zones: ${ctx.hosts.label(where.hostId)} is not configured.`); // informational
      return undefined;
    }
    return ctx.dashboards.show(
      { kind: "zone", hostId: where.hostId, zoneId: where.zoneId },
      firstWindowSeconds,
    );
  },
};
