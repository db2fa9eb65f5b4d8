import * as vscode from "vscode";
import { messageOf } from "../../core/errors";
import type { ZonesCommand } from "./command";

/** Shows the LaunchPlan of a devcontainer.json (the active editor's, or the one given) without launching. */
export const showPlanCommand: ZonesCommand = {
  id: "zones.devcontainer.showPlan",
  async run(ctx, arg) {
    const uri = arg instanceof vscode.Uri ? arg : vscode.window.activeTextEditor?.document.uri;
    if (!uri || uri.scheme !== "file") {
      void vscode.window.showInformationMessage("Zones: open a devcontainer.json first."); // informational
      return undefined;
    }
    try {
      const plan = await ctx.launcher.plan(uri.fsPath);
      await ctx.plans.show(plan);
      return plan;
    } catch (err) {
      void vscode.window.showErrorMessage(
        `Zones: no plan for ${vscode.workspace.asRelativePath(uri)}: ${messageOf(err)}`,
      ); // informational; the Problems panel has the located errors
      return undefined;
    }
  },
};
