import { existsSync } from "node:fs";
import type { LaunchPlan } from "../../core/devcontainer/plan";
import { ProtectLaunchHost } from "../../core/launch/protectLaunchHost";
import { findByDevcontainer, findByZone, tearDown } from "../../core/launch/teardown";
import type { LaunchedThings } from "../../core/launch/teardown";
import type { ProtectHost } from "../../core/protect/host";
import type { CliContext, Command } from "../command";
import { openHost } from "../hostTarget";
import { describeLaunchError, loadPlan, planOptions } from "./up";

/** What `down`/`stop` act on: a project folder (its plan says which zone) or a zone by name/id. */
export type DownTarget =
  { readonly kind: "project"; readonly plan: LaunchPlan } | { readonly kind: "zone"; readonly text: string };

/** PATH when it exists on this machine (or nothing given: the current folder), else ZONE. */
export async function downTarget(
  ctx: CliContext,
  command: string,
  arg: string | undefined,
  values: Record<string, unknown>,
): Promise<DownTarget | { exitCode: number }> {
  if (arg !== undefined && !existsSync(arg)) return { kind: "zone", text: arg };
  const loaded = await loadPlan(ctx, command, arg, values);
  if ("exitCode" in loaded) return loaded;
  return { kind: "project", plan: loaded.plan };
}

/** Finds what `up` made for the target. */
export async function findTarget(
  host: ProtectHost,
  launchHost: ProtectLaunchHost,
  target: DownTarget,
  signal: AbortSignal,
): Promise<LaunchedThings> {
  if (target.kind === "project")
    return findByDevcontainer(launchHost, target.plan.devcontainerId, target.plan.sync.hostPath, signal);
  return findByZone(launchHost, await host.resolveZone(target.text, { signal }), signal);
}

/**
 * `zonectl down [PATH|ZONE]`: destroys what `up` made — the workloads, the zone (waiting until
 * both are gone) and the workspace copy on the host — whatever `shutdownAction` says; named
 * volumes are kept. PATH (default: the current folder) finds the zone by the project's
 * devcontainer id; ZONE is a name or id. Nothing on this machine is deleted.
 */
export const downCommand: Command = {
  name: "down",
  summary: "destroy what `up` made: workload, zone and host workspace copy",
  usage: "[PATH|ZONE] [--config FILE] [--workspace-root DIR]",
  options: { ...planOptions },
  async run(ctx, { values, positionals }) {
    if (positionals.length > 1) {
      ctx.stderr.write(`zonectl down: at most one PATH or ZONE\nusage: zonectl down ${downCommand.usage}\n`);
      return 2;
    }
    const target = await downTarget(ctx, "down", positionals[0], values);
    if ("exitCode" in target) return target.exitCode;
    const host = await openHost(ctx);
    try {
      const launchHost = new ProtectLaunchHost(host);
      const things = await findTarget(host, launchHost, target, ctx.signal);
      if (!things.zone && !things.hostPath) {
        ctx.stdout.write("nothing to remove: no zone of this project on the host\n");
        return 0;
      }
      try {
        const steps = await tearDown(launchHost, things, {
          signal: ctx.signal,
          onStep: (s) =>
            ctx.stderr.write(`${s.ok ? "✓" : "✗"} ${s.action}${s.message ? `: ${s.message}` : ""}\n`),
        });
        if (ctx.globals.json)
          ctx.stdout.write(`${JSON.stringify({ removed: steps.map((s) => s.action) }, null, 2)}\n`);
        else if (!steps.length) ctx.stdout.write("nothing was left to remove\n");
        else ctx.stdout.write(`down: ${steps.length} step(s) done\n`);
        return 0;
      } catch (err) {
        const report = describeLaunchError(err);
        ctx.stderr.write(`zonectl down: ${report.message}\n`);
        return report.exitCode;
      }
    } finally {
      host.close();
    }
  },
};
