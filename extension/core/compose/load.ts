import { posix } from "node:path";
import type { Diagnostic } from "../devcontainer/diagnostics";
import { parseDotenv } from "./dotenv";
import { interpolate } from "./interpolate";
import type { Lookup } from "./interpolate";
import { canonicalize, mergeNodes } from "./merge";
import type { ComposeProject } from "./model";
import { diag, normalizeProject } from "./normalize";
import { parseYamlNodes } from "./yamlNodes";
import type { ComposeNode } from "./yamlNodes";

export interface LoadComposeOptions {
  /** Absolute paths, in merge order; the first one's folder is the project directory. */
  readonly files: readonly string[];
  /** This machine's environment: it wins over the project's `.env`. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Reads a text file; undefined when it does not exist. */
  readonly readText: (path: string) => Promise<string | undefined>;
  /** The project folder of the devcontainer.json, for the default project name. */
  readonly localFolder: string;
  readonly home?: string;
}

export interface LoadComposeResult {
  /** Undefined when any file is missing or has errors. */
  readonly project: ComposeProject | undefined;
  /** Files of `files` that do not exist (the caller locates these in its own file). */
  readonly missingFiles: readonly string[];
  /** Every problem, located in the Compose or env file it concerns. */
  readonly diagnostics: readonly Diagnostic[];
}

/**
 * Reads a Compose project the way `docker compose config` does: the project's `.env` and this
 * machine's environment feed `${…}` interpolation of every file, the files are merged in
 * order, each service's `env_file`s are read, and the result is checked. Errors never throw:
 * they come back located (file:line:col) in `diagnostics`.
 */
export async function loadComposeProject(options: LoadComposeOptions): Promise<LoadComposeResult> {
  const diagnostics: Diagnostic[] = [];
  const projectDirectory = posix.dirname(options.files[0] ?? posix.join(options.localFolder, "compose.yaml"));
  const dotenvPath = posix.join(projectDirectory, ".env");
  const osLookup: Lookup = (name) => options.env[name];
  const projectEnv = new Map<string, string>();
  const dotenvText = await options.readText(dotenvPath);
  if (dotenvText !== undefined) {
    const parsed = parseDotenv(dotenvText, dotenvPath, osLookup);
    diagnostics.push(...parsed.diagnostics);
    for (const [k, v] of parsed.vars) projectEnv.set(k, v);
  }
  for (const [k, v] of Object.entries(options.env)) if (v !== undefined) projectEnv.set(k, v);
  const lookup: Lookup = (name) => projectEnv.get(name);

  const missingFiles: string[] = [];
  let merged: ComposeNode | undefined;
  const warned = new Set<string>();
  for (const file of options.files) {
    const text = await options.readText(file);
    if (text === undefined) {
      missingFiles.push(file);
      continue;
    }
    const parsed = parseYamlNodes(text, file);
    diagnostics.push(...parsed.diagnostics);
    if (!parsed.root) continue;
    const interpolated = interpolateTree(parsed.root, lookup, diagnostics, [], warned);
    const next = mergeNodes(merged, canonicalize(interpolated), []);
    if (next) merged = next;
  }
  const failed = (): LoadComposeResult => ({ project: undefined, missingFiles, diagnostics });
  if (missingFiles.length || diagnostics.some((d) => d.severity === "error") || !merged) return failed();

  const envFiles = new Map<string, Map<string, string> | undefined>();
  for (const path of envFilePaths(merged, projectDirectory, options.home)) {
    const text = await options.readText(path);
    if (text === undefined) {
      envFiles.set(path, undefined);
      continue;
    }
    const parsed = parseDotenv(text, path, lookup);
    diagnostics.push(...parsed.diagnostics);
    envFiles.set(path, parsed.vars);
  }
  const normalized = normalizeProject(merged, {
    projectDirectory,
    home: options.home,
    lookup,
    envFiles,
  });
  diagnostics.push(...normalized.diagnostics);
  if (diagnostics.some((d) => d.severity === "error")) return failed();

  const explicit = projectEnv.get("COMPOSE_PROJECT_NAME") || normalized.name;
  const fallback =
    posix.basename(projectDirectory) === ".devcontainer"
      ? `${posix.basename(options.localFolder)}_devcontainer`
      : posix.basename(projectDirectory);
  const name = projectName(explicit || fallback) || projectName(fallback) || "devcontainer";
  const activeProfiles = (projectEnv.get("COMPOSE_PROFILES") ?? "")
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean);
  return {
    project: {
      name,
      projectDirectory,
      files: [...options.files],
      services: normalized.services,
      volumes: normalized.volumes,
      activeProfiles,
      diagnostics,
    },
    missingFiles,
    diagnostics,
  };
}

/** Compose's project-name rule: lower case letters, digits, `-` and `_`, starting with a letter or digit. */
export function projectName(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, "")
    .replace(/^[^a-z0-9]+/, "");
}

/** Interpolates every scalar string value (never keys), warning once per unset variable and value. */
function interpolateTree(
  node: ComposeNode,
  lookup: Lookup,
  diagnostics: Diagnostic[],
  path: Array<string | number>,
  warned: Set<string>,
): ComposeNode {
  if (node.kind === "scalar") {
    if (typeof node.value !== "string" || !node.value.includes("$")) return node;
    const result = interpolate(node.value, lookup);
    if (result.error) {
      diagnostics.push(diag(node.pos, path, "error", result.error, "interpolation"));
      return node;
    }
    for (const name of result.unset.filter((n) => !warned.has(n))) {
      warned.add(name);
      diagnostics.push(
        diag(
          node.pos,
          path,
          "warning",
          `variable ${name} is not set; it becomes an empty string`,
          "unsetVariable",
        ),
      );
    }
    return { ...node, value: result.value };
  }
  if (node.kind === "seq")
    return {
      ...node,
      items: node.items.map((item, i) => interpolateTree(item, lookup, diagnostics, [...path, i], warned)),
    };
  const entries = new Map<string, ComposeNode>();
  for (const [k, v] of node.entries) {
    entries.set(k, interpolateTree(v, lookup, diagnostics, [...path, k], warned));
  }
  return { ...node, entries };
}

function envFilePaths(root: ComposeNode, projectDirectory: string, home: string | undefined): string[] {
  const out = new Set<string>();
  if (root.kind !== "map") return [];
  const services = root.entries.get("services");
  if (services?.kind !== "map") return [];
  for (const service of services.entries.values()) {
    if (service.kind !== "map") continue;
    const list = service.entries.get("env_file");
    if (list?.kind !== "seq") continue;
    for (const item of list.items) {
      const value =
        item.kind === "scalar"
          ? item.value
          : item.kind === "map"
            ? (item.entries.get("path") as { value?: unknown })?.value
            : undefined;
      if (typeof value !== "string") continue;
      const path =
        value === "~" || value.startsWith("~/")
          ? posix.join(home ?? "/", value.slice(1))
          : posix.resolve(projectDirectory, value);
      out.add(path);
    }
  }
  return [...out];
}
