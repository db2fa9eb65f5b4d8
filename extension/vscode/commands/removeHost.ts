import * as vscode from "vscode";
import type { ZonesCommand } from "./command";
import { resolveHost } from "./pick";

/** Removes a host from `zones.hosts` (its zones keep running on the host). */
export const removeHostCommand: ZonesCommand = {
  id: "zones.host.remove",
  async run(ctx, arg) {
    const host = await resolveHost(ctx, arg, () => true, "Select a host to remove from the list");
    if (!host) return;
    const remove = "Remove";
    const ok = await vscode.window.showWarningMessage(
      `Remove ${host.entry.label} from Zones?`,
      {
        modal: true,
        detail: "Only the entry in the zones.hosts setting is removed; zones on the host keep running.",
      },
      remove,
    );
    if (ok !== remove) return;
    await ctx.settings.setHosts(ctx.settings.current.hosts.filter((h) => h !== host.entry.id));
  },
};
