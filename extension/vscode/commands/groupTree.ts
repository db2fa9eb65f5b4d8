import type { ZonesCommand } from "./command";

/** Group by State: zones under a folder per state (ready, failed…) on each host. */
export const groupTreeByStateCommand: ZonesCommand = {
  id: "zones.tree.groupByState",
  async run(ctx) {
    await ctx.arrangement.update({ groupByState: true });
  },
};

/** Ungroup: zones straight under their host again. */
export const ungroupTreeCommand: ZonesCommand = {
  id: "zones.tree.ungroup",
  async run(ctx) {
    await ctx.arrangement.update({ groupByState: false });
  },
};
