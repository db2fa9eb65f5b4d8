import { tearDown } from "../../core/launch/teardown";
import type { Command } from "../command";
import { describeLaunchError } from "../errorReport";
import { openHost } from "../hostTarget";
import { findLaunched, launchedTarget, planOptions } from "../project";

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
    const target = await launchedTarget(ctx, "down", positionals[0], values);
    if ("exitCode" in target) return target.exitCode;
    const host = await openHost(ctx);
    try {
      const things = await findLaunched(host, target, ctx.signal);
      if (!things.zone && !things.hostPath) {
        ctx.stdout.write("nothing to remove: no zone of this project on the host\n");
        return 0;
      }
      try {
        const steps = await tearDown(host, things, {
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
