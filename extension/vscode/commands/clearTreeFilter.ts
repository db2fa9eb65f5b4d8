import type { ZonesCommand } from "./command";

/** Clear Filter: every zone again. */
export const clearTreeFilterCommand: ZonesCommand = {
  id: "zones.tree.clearFilter",
  async run(ctx) {
    await ctx.arrangement.update({ filter: "" });
  },
};
