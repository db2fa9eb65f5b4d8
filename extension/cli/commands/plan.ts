import { formatDiagnostic, sortDiagnostics } from "../../core/devcontainer/diagnostics";
import { DevcontainerError } from "../../core/devcontainer/errors";
import { planFromPath } from "../../core/devcontainer/load";
import { planToJson } from "../../core/devcontainer/planJson";
import { renderPlan } from "../../core/devcontainer/renderPlan";
import type { Command } from "../command";
import { BuildError } from "../../core/build/buildError";
import { findBuilder } from "../../core/build/builder";
import type { BuilderName } from "../../core/build/builder";

/**
 * `zonectl plan [PATH] [--config FILE] [--json]`: what `up` would do, computed locally; never
 * talks to a host. Exit codes: 0 launchable, 3 a plan that cannot be launched (refusals),
 * 1 the config is missing, ambiguous or invalid (every error printed as file:line:col), 2 usage.
 */
export const planCommand: Command = {
  name: "plan",
  summary: "show what `up` would create for a devcontainer.json (nothing is created)",
  usage:
    "[PATH] [--config FILE] [--json]\n\nPATH: the project folder (default: current directory) or a devcontainer.json.\nExit: 0 launchable, 3 not launchable (see refusals), 1 config missing/ambiguous/invalid.",
  options: {
    config: { type: "string", short: "c" },
  },
  async run(ctx, { values, positionals }) {
    if (positionals.length > 1) {
      ctx.stderr.write(
        `zonectl plan: expected at most one PATH, got ${positionals.length}\nusage: zonectl plan ${planCommand.usage}\n`,
      );
      return 2;
    }
    const config = typeof values["config"] === "string" ? values["config"] : undefined;
    try {
      const { plan } = await planFromPath(positionals[0], { config, cwd: process.cwd(), env: ctx.env });
      if (ctx.globals.json) ctx.stdout.write(`${JSON.stringify(planToJson(plan), null, 2)}\n`);
      else {
        ctx.stdout.write(renderPlan(plan));
        if (plan.build) ctx.stdout.write(`${await builderNote(plan.build.builder, ctx.env)}\n`);
      }
      return plan.launchable ? 0 : 3;
    } catch (err) {
      if (!DevcontainerError.is(err)) throw err;
      if (ctx.globals.json) {
        const error = {
          reason: err.reason,
          message: err.message,
          ...(err.candidates.length ? { candidates: err.candidates } : {}),
          diagnostics: sortDiagnostics(err.diagnostics),
        };
        ctx.stdout.write(`${JSON.stringify({ version: 1, error }, null, 2)}\n`);
      } else if (err.diagnostics.length) {
        for (const d of sortDiagnostics(err.diagnostics)) ctx.stderr.write(`${formatDiagnostic(d)}\n`);
        const errors = err.diagnostics.filter((d) => d.severity === "error").length;
        ctx.stderr.write(
          `zonectl plan: ${errors} error(s) in ${err.diagnostics[0]?.file ?? "devcontainer.json"}; nothing was created\n`,
        );
      } else {
        ctx.stderr.write(`zonectl plan: ${err.message}\n`);
      }
      return 1;
    }
  },
};

/**
 * Which builder `up` would use here, or that there is none and what to install. A note, not a
 * refusal: a host that already has the image (same cache key) needs no build.
 */
async function builderNote(
  choice: BuilderName | "auto" | undefined,
  env: Readonly<Record<string, string | undefined>>,
): Promise<string> {
  try {
    const builder = await findBuilder({ choice: choice ?? "auto", env });
    return `Builder here: ${builder.version}.`;
  } catch (err) {
    if (!BuildError.is(err, "noBuilder")) throw err;
    return `Note: ${err.message} (needed unless the host already has this image).`;
  }
}
