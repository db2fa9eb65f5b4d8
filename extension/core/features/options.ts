import type { FeatureJson, FeatureValue } from "./featureJson";

/**
 * An option name as an environment variable, the spec's way: every character that is not a
 * word character becomes `_`, leading digits and underscores collapse into one `_`, and the
 * result is upper case (`nodeGypDependencies` → `NODEGYPDEPENDENCIES`, `2fa` → `_FA`).
 */
export function safeId(name: string): string {
  return name
    .replace(/[^\w]/g, "_")
    .replace(/^[\d_]+/g, "_")
    .toUpperCase();
}

/**
 * The values a feature installs with: its options' defaults, overridden by what devcontainer.json
 * gives — named options, or a plain string, which sets the `version` option when the feature has one.
 */
export function optionValues(feature: FeatureJson, value: FeatureValue): Record<string, string | boolean> {
  const values: Record<string, string | boolean> = {};
  for (const [name, option] of Object.entries(feature.options ?? {}))
    if (option.default !== undefined) values[name] = option.default;
  if (typeof value === "object") Object.assign(values, value);
  else if (typeof value === "string" && feature.options?.["version"]) values["version"] = value;
  return values;
}

/** `'…'` for a POSIX shell: the value stays literal, whatever it contains. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * The feature's env file: one `NAME='value'` line per option, sourced with `set -a` before its
 * install.sh runs. Values are single-quoted so nothing in them is expanded or executed.
 */
export function optionsEnvFile(values: Readonly<Record<string, string | boolean>>): string {
  return Object.entries(values)
    .map(([name, value]) => `${safeId(name)}=${shellQuote(String(value))}\n`)
    .join("");
}
