import { diagnosticAtPath, parseDevcontainerText } from "../devcontainer/jsonc";
import type { Diagnostic } from "../devcontainer/diagnostics";

/** The file that makes a folder (or an OCI artifact's layer) a Dev Container Template. */
export const templateFileName = "devcontainer-template.json";

/** One option of a template: a string (free, with proposals, or from an enum) or a boolean. */
export interface TemplateOption {
  readonly name: string;
  readonly type: "string" | "boolean";
  readonly description: string | undefined;
  readonly default: string;
  /** Suggested values; any string is still allowed. */
  readonly proposals: readonly string[];
  /** Allowed values, when the template restricts them. */
  readonly enum: readonly string[] | undefined;
}

/** A parsed devcontainer-template.json. */
export interface TemplateDefinition {
  readonly id: string;
  readonly version: string | undefined;
  readonly name: string;
  readonly description: string | undefined;
  readonly options: readonly TemplateOption[];
  /** Glob-like paths (`dir/*`, `file`) a user may leave out when applying. */
  readonly optionalPaths: readonly string[];
}

/**
 * Reads devcontainer-template.json text. Problems (syntax, a missing id, an option without a
 * default) are located diagnostics; the definition is undefined when any is an error.
 */
export function parseTemplateDefinition(
  text: string,
  file: string,
): { definition: TemplateDefinition | undefined; diagnostics: Diagnostic[] } {
  const doc = parseDevcontainerText(text, file);
  const diagnostics: Diagnostic[] = [...doc.diagnostics];
  const value = doc.value;
  if (!value) return { definition: undefined, diagnostics };
  const error = (path: Array<string | number>, message: string): void => {
    diagnostics.push(diagnosticAtPath(doc, path, "error", "template", message));
  };
  const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
  const id = str(value["id"]);
  if (!id || !/^[A-Za-z0-9_.-]+$/.test(id))
    error(["id"], '"id" is required: letters, digits, ".", "_" or "-"');
  const options: TemplateOption[] = [];
  const rawOptions = value["options"];
  if (
    rawOptions !== undefined &&
    (typeof rawOptions !== "object" || rawOptions === null || Array.isArray(rawOptions))
  )
    error(["options"], '"options" is an object of option definitions');
  else {
    for (const [name, raw] of Object.entries((rawOptions ?? {}) as Record<string, unknown>)) {
      const o = (raw ?? {}) as Record<string, unknown>;
      const type = o["type"];
      if (type !== "string" && type !== "boolean") {
        error(["options", name, "type"], `option "${name}": type is "string" or "boolean"`);
        continue;
      }
      const def = o["default"];
      if (def === undefined || (typeof def !== "string" && typeof def !== "boolean")) {
        error(["options", name], `option "${name}" needs a default`);
        continue;
      }
      const list = (k: string): string[] | undefined =>
        Array.isArray(o[k]) ? (o[k] as unknown[]).map((x) => String(x)) : undefined;
      options.push({
        name,
        type,
        description: str(o["description"]),
        default: String(def),
        proposals: list("proposals") ?? [],
        enum: list("enum"),
      });
    }
  }
  const optionalPaths = Array.isArray(value["optionalPaths"])
    ? (value["optionalPaths"] as unknown[]).filter((p): p is string => typeof p === "string")
    : [];
  if (diagnostics.some((d) => d.severity === "error")) return { definition: undefined, diagnostics };
  return {
    definition: {
      id: id!,
      version: str(value["version"]),
      name: str(value["name"]) ?? id!,
      description: str(value["description"]),
      options,
      optionalPaths,
    },
    diagnostics,
  };
}

/** Option values to apply: what the user gave, defaults for the rest. */
export interface ResolvedOptions {
  readonly values: ReadonlyMap<string, string>;
  /** Options that took their default. */
  readonly defaulted: readonly string[];
  /** One sentence per bad value or unknown option name. */
  readonly errors: readonly string[];
}

/** Checks user-given option values against the definition and fills in defaults. */
export function resolveOptions(
  definition: TemplateDefinition,
  given: Readonly<Record<string, string>>,
): ResolvedOptions {
  const values = new Map<string, string>();
  const defaulted: string[] = [];
  const errors: string[] = [];
  for (const name of Object.keys(given)) {
    if (!definition.options.some((o) => o.name === name))
      errors.push(
        `template ${definition.id} has no option "${name}" (options: ${definition.options.map((o) => o.name).join(", ") || "none"})`,
      );
  }
  for (const option of definition.options) {
    const value = given[option.name];
    if (value === undefined) {
      values.set(option.name, option.default);
      defaulted.push(option.name);
      continue;
    }
    if (option.type === "boolean" && value !== "true" && value !== "false")
      errors.push(`option "${option.name}" is true or false, not "${value}"`);
    else if (option.enum && !option.enum.includes(value))
      errors.push(`option "${option.name}" is one of ${option.enum.join(", ")}, not "${value}"`);
    values.set(option.name, value);
  }
  return { values, defaulted, errors };
}

const placeholder = /\$\{templateOption:([^}]*)\}/g;

/**
 * Replaces every `${templateOption:NAME}` in a file's text. Placeholders naming no option stay
 * as written and are reported, as the reference tool leaves them.
 */
export function substituteTemplateOptions(
  text: string,
  values: ReadonlyMap<string, string>,
): { text: string; unknown: string[] } {
  const unknown: string[] = [];
  const out = text.replace(placeholder, (whole, name: string) => {
    const value = values.get(name.trim());
    if (value === undefined) {
      if (!unknown.includes(name)) unknown.push(name);
      return whole;
    }
    return value;
  });
  return { text: out, unknown };
}

/** Whether `path` (relative, "/"-separated) falls under an optionalPaths entry (`dir/*` or a file). */
export function matchesOptionalPath(path: string, pattern: string): boolean {
  const p = pattern.replace(/^\.\//, "");
  if (p.endsWith("/*")) return path.startsWith(p.slice(0, -1));
  return path === p || path.startsWith(`${p}/`);
}
