import type { Ctx } from "../ctx";

/**
 * A palette / menu command: one per file, id `zones.<area>.<verb>`. `run` gets
 * what VS Code passes — a tree node from a context menu, an id from a tree action item, or
 * nothing from the palette (then it asks with a picker).
 */
export interface ZonesCommand {
  readonly id: string;
  run(ctx: Ctx, ...args: unknown[]): unknown;
}
