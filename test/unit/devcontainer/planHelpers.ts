import assert from "node:assert/strict";
import { buildLaunchPlan } from "../../../extension/core/devcontainer/buildPlan";
import type { PlanOptions } from "../../../extension/core/devcontainer/translate/context";
import { formatDiagnostic } from "../../../extension/core/devcontainer/diagnostics";
import { parseDevcontainerText } from "../../../extension/core/devcontainer/jsonc";
import type { LaunchImage, LaunchPlan } from "../../../extension/core/devcontainer/plan";
import { validateDevcontainer } from "../../../extension/core/devcontainer/validate";

/** The project every plan test pretends to open. */
export const localFolder = "/home/dev/My Project";
export const configFile = "/home/dev/My Project/.devcontainer/devcontainer.json";

/** Parses, validates (must be valid) and plans a devcontainer.json given as text or a value. */
export function planOf(
  source: string | Record<string, unknown>,
  extra: { env?: Record<string, string>; gitignore?: string[]; options?: PlanOptions } = {},
): LaunchPlan {
  const text = typeof source === "string" ? source : JSON.stringify(source, null, 2);
  const doc = parseDevcontainerText(text, configFile);
  const validation = validateDevcontainer(doc);
  assert.ok(
    validation.config,
    `test config must be valid:\n${[...doc.diagnostics, ...validation.diagnostics].map(formatDiagnostic).join("\n")}`,
  );
  return buildLaunchPlan({
    doc,
    config: validation.config,
    diagnostics: [...doc.diagnostics, ...validation.diagnostics],
    localFolder,
    configFile,
    env: extra.env ?? { HOME: "/home/dev" },
    ...(extra.gitignore ? { gitignore: extra.gitignore } : {}),
    ...(extra.options ? { options: extra.options } : {}),
  });
}

/** The property-table row of a path, e.g. "hostRequirements.cpus" or "runArgs[2]". */
export function row(plan: LaunchPlan, property: string): { status: string; detail: string } {
  const found = plan.properties.find((p) => p.property === property);
  assert.ok(found, `no row for ${property}; rows: ${plan.properties.map((p) => p.property).join(", ")}`);
  return found;
}

/** Like planOf, with the launch image known (its devcontainer.metadata entries merged). */
export function buildWith(config: Record<string, unknown>, image: LaunchImage): LaunchPlan {
  const text = JSON.stringify(config, null, 2);
  const doc = parseDevcontainerText(text, configFile);
  const validation = validateDevcontainer(doc);
  assert.ok(validation.config, "test config must be valid");
  return buildLaunchPlan({
    doc,
    config: validation.config,
    localFolder,
    configFile,
    env: { HOME: "/home/dev" },
    image,
  });
}
