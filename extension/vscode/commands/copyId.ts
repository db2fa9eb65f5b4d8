import * as vscode from "vscode";
import type { ZonesCommand } from "./command";
import { WorkloadNode } from "../tree/nodes";
import { resolveZone } from "./pick";

/** Copies a zone's or workload's id to the clipboard. */
export const copyIdCommand: ZonesCommand = {
  id: "zones.item.copyId",
  async run(ctx, arg) {
    const id =
      arg instanceof WorkloadNode
        ? arg.workloadId
        : (await resolveZone(ctx, arg, "Select a zone to copy its ID"))?.zoneId;
    if (!id) return;
    await vscode.env.clipboard.writeText(id);
    vscode.window.setStatusBarMessage(`Copied ${id}`, 3000);
  },
};
