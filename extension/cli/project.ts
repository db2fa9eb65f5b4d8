/**
 * What several zonectl commands share about "the project": the PATH options, loading its
 * plan with located errors, and finding on the host what `up` made for it (down, stop, sync).
 */
import { existsSync } from "node:fs";
import { formatDiagnostic, sortDiagnostics } from "../core/devcontainer/diagnostics";
import { DevcontainerError } from "../core/devcontainer/errors";
import { planFromPath } from "../core/devcontainer/load";
import type { PlanInput } from "../core/devcontainer/buildPlan";
import type { LaunchPlan } from "../core/devcontainer/plan";
import { findByDevcontainer, findByZone } from "../core/launch/teardown";
import type { LaunchedThings } from "../core/launch/teardown";
import type { ProtectHost } from "../core/protect/host";
import type { CliContext } from "./command";
import { exitCodes } from "./errorReport";

/** `PATH` options shared by up, down, stop and sync. */
export const planOptions = {
  config: { type: "string", short: "c" },
  "workspace-root": { type: "string" },
} as const;

/** The plan for PATH, or undefined after printing why there is none (located errors, refusals). */
export async function loadPlan(
  ctx: CliContext,
  command: string,
  path: string | undefined,
  values: Record<string, unknown>,
): Promise<{ plan: LaunchPlan; input: PlanInput } | { exitCode: number }> {
  const config = typeof values["config"] === "string" ? values["config"] : undefined;
  const workspaceRoot =
    typeof values["workspace-root"] === "string"
      ? values["workspace-root"]
      : ctx.env["ZONECTL_WORKSPACE_ROOT"];
  try {
    const { plan, input } = await planFromPath(path, {
      config,
      cwd: process.cwd(),
      env: ctx.env,
      ...(workspaceRoot ? { planOptions: { workspaceRoot } } : {}),
    });
    return { plan, input };
  } catch (err) {
    if (!DevcontainerError.is(err)) throw err;
    if (err.diagnostics.length) {
      for (const d of sortDiagnostics(err.diagnostics)) ctx.stderr.write(`${formatDiagnostic(d)}\n`);
      const errors = err.diagnostics.filter((d) => d.severity === "error").length;
      ctx.stderr.write(
        `zonectl ${command}: ${errors} error(s) in ${err.diagnostics[0]?.file ?? "devcontainer.json"}; nothing was created\n`,
      );
    } else {
      ctx.stderr.write(`zonectl ${command}: ${err.message}\n`);
    }
    return { exitCode: exitCodes.devcontainer };
  }
}

/** What `down`/`stop` act on: a project folder (its plan says which zone) or a zone by name/id. */
export type LaunchedTarget =
  { readonly kind: "project"; readonly plan: LaunchPlan } | { readonly kind: "zone"; readonly text: string };

/** PATH when it exists on this machine (or nothing given: the current folder), else ZONE. */
export async function launchedTarget(
  ctx: CliContext,
  command: string,
  arg: string | undefined,
  values: Record<string, unknown>,
): Promise<LaunchedTarget | { exitCode: number }> {
  if (arg !== undefined && !existsSync(arg)) return { kind: "zone", text: arg };
  const loaded = await loadPlan(ctx, command, arg, values);
  if ("exitCode" in loaded) return loaded;
  return { kind: "project", plan: loaded.plan };
}

/** Finds what `up` made for the target. */
export async function findLaunched(
  host: ProtectHost,
  target: LaunchedTarget,
  signal: AbortSignal,
): Promise<LaunchedThings> {
  if (target.kind === "project")
    return findByDevcontainer(host, target.plan.devcontainerId, target.plan.sync.hostPath, signal);
  return findByZone(host, await host.resolveZone(target.text, { signal }), signal);
}
