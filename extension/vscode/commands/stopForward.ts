import * as vscode from "vscode";
import type { ZonesCommand } from "./command";
import { forwardLabel } from "./forwardPort";

/** Stop Forwarding…: picks forwards (all of a zone when run on a zone node) and closes them. */
export const stopForwardCommand: ZonesCommand = {
  id: "zones.forward.stop",
  async run(ctx, arg) {
    const node = arg as { kind?: unknown; hostId?: unknown; zoneId?: unknown } | undefined;
    const ofZone =
      node?.kind === "zone" && typeof node.hostId === "string" && typeof node.zoneId === "string"
        ? ctx.forwards.list(node.hostId, node.zoneId)
        : undefined;
    const all = ofZone ?? ctx.forwards.list();
    if (!all.length) {
      void vscode.window.showInformationMessage("Zones: no ports are forwarded."); // informational
      return;
    }
    const picked =
      ofZone ??
      (
        await vscode.window.showQuickPick(
          all.map((f) => ({ label: forwardLabel(f), forward: f })),
          { placeHolder: "Stop which forwards?", canPickMany: true },
        )
      )?.map((p) => p.forward);
    for (const f of picked ?? []) await ctx.forwards.close(f.id);
  },
};
