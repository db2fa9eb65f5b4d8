import * as vscode from "vscode";
import { messageOf } from "../../core/errors";
import type { Ctx } from "../ctx";
import type { ZonesCommand } from "./command";
import { resolveZoneOrWorkload } from "./pick";
import type { ZoneOrWorkload } from "./pick";
import { remoteSshExtensions } from "../remote/zoneWindows";

/**
 * Opens a new VS Code window inside a workload (its workspace folder, as its remoteUser), over
 * the zone gateway and Remote - SSH. Without an ssh-remote extension it says why one is needed
 * and offers to install it. Returns what happened (for tests).
 */
export const openInNewWindowCommand: ZonesCommand = {
  id: "zones.workload.openInNewWindow",
  async run(ctx, arg) {
    const where = await resolveZoneOrWorkload(ctx, arg, "Open a window in…", { zones: false });
    if (!where) return undefined;
    return openInNewWindow(ctx, where);
  },
};

/** The command's work, also offered after a launch. */
export async function openInNewWindow(ctx: Ctx, where: ZoneOrWorkload): Promise<unknown> {
  let outcome;
  try {
    outcome = await ctx.windows.open(where);
  } catch (err) {
    void vscode.window.showErrorMessage(`Zones: could not prepare the window: ${messageOf(err)}`); // informational
    return undefined;
  }
  if (outcome.kind === "gone") {
    void vscode.window.showWarningMessage("Zones: that workload is gone."); // informational
    return outcome;
  }
  if (outcome.kind === "needsExtension") {
    // VS Code's own builds get Microsoft's extension; VSCodium, code-server and others the open one.
    const microsoft = vscode.env.uriScheme === "vscode" || vscode.env.uriScheme === "vscode-insiders";
    const offer = microsoft ? remoteSshExtensions[0] : remoteSshExtensions[1];
    const install = `Install ${offer.name}`;
    void vscode.window
      .showInformationMessage(
        `Zones: a window inside the zone is a remote window: VS Code connects to "${outcome.alias}" over SSH (through the zone gateway, written to your ssh config), and that takes the ${offer.name} extension.`,
        install,
      )
      .then(async (choice) => {
        if (choice !== install) return;
        await vscode.commands.executeCommand("workbench.extensions.installExtension", offer.id);
        await vscode.commands.executeCommand("vscode.openFolder", vscode.Uri.parse(outcome.uri), {
          forceNewWindow: true,
        });
      }); // the offer runs on its own; the command has done its part
  }
  return outcome;
}
