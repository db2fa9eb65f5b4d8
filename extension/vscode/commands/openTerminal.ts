import * as vscode from "vscode";
import type { ZonesCommand } from "./command";
import { terminalTargetFor } from "../terminal/targets";
import { resolveZoneOrWorkload } from "./pick";

/**
 * Opens a terminal in a workload (as its devcontainer's remoteUser, in the workspace folder) or
 * in a zone itself. Several can be open at once. Returns the terminal (for tests and callers).
 */
export const openTerminalCommand: ZonesCommand = {
  id: "zones.terminal.open",
  async run(ctx, arg) {
    const where = await resolveZoneOrWorkload(ctx, arg, "Open a terminal in…");
    if (!where) return undefined;
    const target = terminalTargetFor(ctx.model, where, { shell: ctx.settings.current.terminalShell });
    if (!target) {
      void vscode.window.showWarningMessage("Zones: that zone or workload is gone."); // informational
      return undefined;
    }
    return ctx.terminals.open(target).terminal;
  },
};
