import * as vscode from "vscode";
import type { ZonesCommand } from "./command";

/** Filter Zones…: shows only zones whose name, id, IP, state or workloads contain the text. */
export const filterTreeCommand: ZonesCommand = {
  id: "zones.tree.filter",
  async run(ctx, arg) {
    const text =
      typeof arg === "string"
        ? arg
        : await vscode.window.showInputBox({
            title: "Filter Zones",
            prompt:
              "Show zones whose name, id, IP address, state or workloads contain every word (empty shows all)",
            value: ctx.arrangement.options.filter,
            placeHolder: "e.g. web ready",
          });
    if (text === undefined) return;
    await ctx.arrangement.update({ filter: text.trim() });
  },
};
