import * as vscode from "vscode";
import { messageOf } from "../../core/errors";
import type { ZonesCommand } from "./command";
import { HostNode, WorkloadNode, ZoneNode } from "../tree/nodes";

/**
 * Lists again and reconciles. The tree follows WatchEvents by itself; this is for a user who
 * wants to be sure, and it reports a failure instead of hiding it.
 */
export const refreshTreeCommand: ZonesCommand = {
  id: "zones.tree.refresh",
  async run(ctx, arg) {
    const hostId =
      arg instanceof HostNode || arg instanceof ZoneNode || arg instanceof WorkloadNode
        ? arg.hostId
        : undefined;
    try {
      await ctx.connections.refresh(hostId, "manual");
    } catch (err) {
      ctx.logger.warn(`refresh failed: ${messageOf(err)}`);
      void vscode.window.showWarningMessage(`Zones: refresh failed: ${messageOf(err)}`); // informational
    }
  },
};
