/**
 * Everything the Problems panel shows for one devcontainer.json, computed from the text as it
 * is in the editor (saved or not): JSONC and schema errors at their position, then — when the
 * file is valid — each property the launch would ignore or refuse, as a warning (or an error
 * for refusals) on the property itself with the reason. Pure: no vscode import.
 */
import { buildLaunchPlan } from "../../core/devcontainer/buildPlan";
import type { PlanOptions } from "../../core/devcontainer/translate/context";
import { hasErrors } from "../../core/devcontainer/diagnostics";
import type { Diagnostic } from "../../core/devcontainer/diagnostics";
import { diagnosticAtPath } from "../../core/devcontainer/jsonc";
import { checkConfigText } from "../../core/devcontainer/load";
import { projectFolderOf } from "../../core/devcontainer/locate";

/** Paths VS Code uses for devcontainer configs (the reference tools' three places). */
export function isDevcontainerConfig(path: string): boolean {
  return (
    /(^|\/)\.devcontainer\/devcontainer\.json$/.test(path) ||
    /(^|\/)\.devcontainer\.json$/.test(path) ||
    /(^|\/)\.devcontainer\/[^/]+\/devcontainer\.json$/.test(path)
  );
}

/** Problems of a config file's text, sorted by position. */
export function configProblems(
  text: string,
  file: string,
  env: Readonly<Record<string, string | undefined>>,
  options: PlanOptions = {},
): Diagnostic[] {
  const checked = checkConfigText(text, file);
  if (!checked.config || hasErrors(checked.diagnostics)) return [...checked.diagnostics];
  const plan = buildLaunchPlan({
    doc: checked.doc,
    config: checked.config,
    diagnostics: checked.diagnostics,
    localFolder: projectFolderOf(file),
    configFile: file,
    env,
    options,
  });
  const out: Diagnostic[] = [...plan.diagnostics];
  for (const verdict of plan.properties) {
    if (verdict.status === "translated") continue;
    const message =
      verdict.status === "ignored"
        ? `${verdict.property} is ignored by Styrolite Zones: ${verdict.detail}`
        : `${verdict.property} cannot be launched in a zone: ${verdict.detail}`;
    out.push(
      diagnosticAtPath(
        checked.doc,
        verdict.path,
        verdict.status === "refused" ? "error" : "warning",
        verdict.status === "refused" ? "refusedProperty" : "ignoredProperty",
        message,
        "key",
      ),
    );
  }
  const seen = new Set<string>();
  return out
    .filter((d) => {
      const key = `${d.line}:${d.column}:${d.message}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .sort((a, b) => a.line - b.line || a.column - b.column);
}
