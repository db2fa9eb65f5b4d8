import type { ZonesCommand } from "./command";

/** Shows the extension's log channel. */
export const showLogCommand: ZonesCommand = {
  id: "zones.log.show",
  run: (ctx) => ctx.log.show(true),
};
