import * as vscode from "vscode";
import { sortOrders } from "../tree/treeOptions";
import type { SortOrder } from "../tree/treeOptions";
import type { ZonesCommand } from "./command";

const labels: Record<SortOrder, string> = {
  name: "Name",
  state: "State (ready first)",
  created: "Created (newest first)",
};

/** Sort Zones By…: name, state or creation time. */
export const sortTreeCommand: ZonesCommand = {
  id: "zones.tree.sort",
  async run(ctx, arg) {
    const current = ctx.arrangement.options.sort;
    const sort =
      typeof arg === "string" && (sortOrders as readonly string[]).includes(arg)
        ? (arg as SortOrder)
        : (
            await vscode.window.showQuickPick<vscode.QuickPickItem & { order: SortOrder }>(
              sortOrders.map((s) => ({
                label: labels[s],
                ...(s === current ? { description: "current" } : {}),
                order: s,
              })),
              { placeHolder: "Sort zones by" },
            )
          )?.order;
    if (sort) await ctx.arrangement.update({ sort });
  },
};
