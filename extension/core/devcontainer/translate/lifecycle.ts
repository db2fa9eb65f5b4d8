import { displayCommand, hookNames, hookSteps } from "../hooks";
import type { HookName, HookStep } from "../hooks";
import { has } from "./context";
import type { Row, TranslateContext, Translation } from "./context";

/** The lifecycle part of a plan: the hooks in the order they run, and when tools may attach. */
export interface LifecyclePart extends Translation {
  readonly hooks: readonly HookStep[];
  readonly waitFor: HookName;
}

const whenText = {
  everyLaunch: "on every up",
  firstLaunch: "on first launch only",
  everyStart: "on every start",
  everyAttach: "on every attach",
} as const;

/** The six lifecycle commands and `waitFor`. */
export function translateLifecycle(ctx: TranslateContext): LifecyclePart {
  const c = ctx.config;
  const hooks = hookSteps(c, ctx.localFolder, ctx.workspaceFolder);
  const rows: Row[] = [];
  for (const key of hookNames) {
    if (!has(ctx, key)) continue;
    const step = hooks.find((h) => h.hook === key);
    if (!step) {
      rows.push({ path: [key], status: "ignored", detail: "empty command" });
      continue;
    }
    const where = step.runsOn === "local" ? "on this machine" : "in the workload";
    const form = step.parallel
      ? `${step.commands.length} commands in parallel`
      : step.commands[0]?.shell
        ? "through /bin/sh -c"
        : "as argv, no shell";
    rows.push({
      path: [key],
      status: "translated",
      detail: `runs ${where}, ${whenText[step.when]}, ${form}: ${step.commands.map(displayCommand).join(" | ")}`,
    });
  }
  const waitFor = c.waitFor ?? "updateContentCommand";
  if (has(ctx, "waitFor"))
    rows.push({ path: ["waitFor"], status: "translated", detail: `tools may connect after ${waitFor}` });
  return { rows, refusals: [], hooks, waitFor };
}
