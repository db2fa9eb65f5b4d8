import { displayCommand, hookCommands, hookNames, hookSteps, workloadHookNames } from "../hooks";
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
  const hooks = ctx.image ? withImageHooks(ctx) : hookSteps(c, ctx.localFolder, ctx.workspaceFolder);
  const rows: Row[] = [];
  for (const key of hookNames) {
    if (!has(ctx, key)) continue;
    const step = hooks.find((h) => h.hook === key && h.origin === undefined);
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
  const waitFor = ctx.merged.waitFor ?? "updateContentCommand";
  if (has(ctx, "waitFor"))
    rows.push({ path: ["waitFor"], status: "translated", detail: `tools may connect after ${waitFor}` });
  return { rows, refusals: [], hooks, waitFor };
}

/**
 * Hooks with the image's: for each hook, the features' commands in install order (and the base
 * image's before them), then devcontainer.json's — each its own step, labelled with its origin.
 */
function withImageHooks(ctx: TranslateContext): HookStep[] {
  const own = hookSteps(ctx.config, ctx.localFolder, ctx.workspaceFolder);
  const steps: HookStep[] = own.filter((h) => h.hook === "initializeCommand");
  for (const hook of workloadHookNames) {
    for (const { origin, command } of ctx.image?.hooks[hook] ?? []) {
      if (origin === "devcontainer.json") {
        steps.push(...own.filter((h) => h.hook === hook));
        continue;
      }
      const { commands, parallel } = hookCommands(command);
      if (!commands.length) continue;
      const template = hookSteps({ [hook]: command }, ctx.localFolder, ctx.workspaceFolder)[0];
      if (template) steps.push({ ...template, commands, parallel, origin });
    }
  }
  return steps;
}
