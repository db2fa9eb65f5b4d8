import * as vscode from "vscode";
import type { ZonesCommand } from "./command";
import { zoneIp } from "../../core/protect/zoneFacts";
import { resolveZone } from "./pick";

/** Copies a zone's IP address to the clipboard. */
export const copyIpCommand: ZonesCommand = {
  id: "zones.zone.copyIp",
  async run(ctx, arg) {
    const target = await resolveZone(ctx, arg, "Select a zone to copy its IP address");
    if (!target) return;
    const zone = ctx.model.zone(target.hostId, target.zoneId);
    const ip = zone && zoneIp(zone);
    if (!ip) {
      void vscode.window.showInformationMessage(
        `Zones: ${zone?.spec?.name || target.zoneId} has no IP address yet.`,
      ); // informational
      return;
    }
    await vscode.env.clipboard.writeText(ip);
    vscode.window.setStatusBarMessage(`Copied ${ip}`, 3000);
  },
};
