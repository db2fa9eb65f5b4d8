import { stopLaunched } from "../../core/launch/teardown";
import type { Command } from "../command";
import { openHost } from "../hostTarget";
import { findLaunched, launchedTarget, planOptions } from "../project";

/**
 * `zonectl stop [PATH|ZONE] [--force]`: what ending a session does, as the project's
 * `shutdownAction` says: "stopWorkload" (the default) stops the workload, keeping the zone and
 * the workspace copy for the next `up`; "none" leaves everything running unless --force. A
 * ZONE given by name has no devcontainer.json at hand: its workloads are stopped.
 */
export const stopCommand: Command = {
  name: "stop",
  summary: "stop the workload `up` started (honours shutdownAction); `up` starts it again",
  usage: "[PATH|ZONE] [--force] [--config FILE]",
  options: { ...planOptions, force: { type: "boolean" } },
  async run(ctx, { values, positionals }) {
    if (positionals.length > 1) {
      ctx.stderr.write(`zonectl stop: at most one PATH or ZONE\nusage: zonectl stop ${stopCommand.usage}\n`);
      return 2;
    }
    const target = await launchedTarget(ctx, "stop", positionals[0], values);
    if ("exitCode" in target) return target.exitCode;
    const host = await openHost(ctx);
    try {
      const things = await findLaunched(host, target, ctx.signal);
      if (!things.zone) {
        ctx.stdout.write("nothing to stop: no zone of this project on the host\n");
        return 0;
      }
      const action = target.kind === "project" ? target.plan.shutdownAction : "stopWorkload";
      const steps = await stopLaunched(host, things, action, {
        signal: ctx.signal,
        force: values["force"] === true,
      });
      for (const s of steps) ctx.stdout.write(`${s.action}\n`);
      return 0;
    } finally {
      host.close();
    }
  },
};
