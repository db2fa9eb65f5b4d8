import { readdir, stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { DevcontainerError } from "./errors";

/** Where a plan's config and project folder are. Both absolute. */
export interface ConfigLocation {
  readonly localFolder: string;
  readonly configFile: string;
}

/**
 * The configs of a project folder, in the reference tools' order: `.devcontainer/devcontainer.json`,
 * `.devcontainer.json`, then `.devcontainer/<name>/devcontainer.json` (names sorted).
 */
export async function findConfigFiles(folder: string): Promise<string[]> {
  const found: string[] = [];
  for (const candidate of [
    join(folder, ".devcontainer", "devcontainer.json"),
    join(folder, ".devcontainer.json"),
  ]) {
    if (await isFile(candidate)) found.push(candidate);
  }
  let entries: string[] = [];
  try {
    entries = (await readdir(join(folder, ".devcontainer"), { withFileTypes: true }))
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
  } catch {
    // no .devcontainer folder
  }
  for (const name of entries) {
    const candidate = join(folder, ".devcontainer", name, "devcontainer.json");
    if (await isFile(candidate)) found.push(candidate);
  }
  return found;
}

/**
 * Resolves `zonectl plan [PATH] [--config FILE]`: PATH is the project folder (default: the
 * current directory) or a devcontainer.json itself; `--config` (relative to the current
 * directory) picks the file when a folder has several. Throws DevcontainerError `notFound` or
 * `ambiguous` (with the candidates).
 */
export async function locateConfig(
  path: string | undefined,
  options: { config?: string | undefined; cwd: string },
): Promise<ConfigLocation> {
  const target = resolve(options.cwd, path ?? ".");
  if (options.config !== undefined) {
    const configFile = resolve(options.cwd, options.config);
    if (!(await isFile(configFile))) throw new DevcontainerError("notFound", `${configFile}: no such file`);
    const localFolder =
      path !== undefined && (await isDirectory(target)) ? target : projectFolderOf(configFile);
    return { localFolder, configFile };
  }
  if (await isFile(target)) return { localFolder: projectFolderOf(target), configFile: target };
  if (!(await isDirectory(target)))
    throw new DevcontainerError("notFound", `${target}: no such file or folder`);
  const candidates = await findConfigFiles(target);
  if (candidates.length === 0) {
    // A plain devcontainer.json beside the project's files is not where the spec looks (the
    // reference CLI's tests pass such files with --config); say so rather than "none found".
    const topLevel = join(target, "devcontainer.json");
    const hint = (await isFile(topLevel))
      ? `; ${topLevel} is not one of those places: give it as PATH or with --config`
      : "";
    throw new DevcontainerError(
      "notFound",
      `no devcontainer.json in ${target} (looked for .devcontainer/devcontainer.json, .devcontainer.json, .devcontainer/*/devcontainer.json)${hint}`,
    );
  }
  if (candidates.length > 1) {
    throw new DevcontainerError(
      "ambiguous",
      `${target} has ${candidates.length} devcontainer configs; choose one with --config: ${candidates.join(", ")}`,
      {
        candidates,
      },
    );
  }
  return { localFolder: target, configFile: candidates[0]! };
}

/**
 * The project folder a config belongs to: the parent of its `.devcontainer` folder (for
 * `.devcontainer/devcontainer.json` and `.devcontainer/<name>/devcontainer.json`), else the
 * folder holding the file (`.devcontainer.json`, or a file elsewhere).
 */
export function projectFolderOf(configFile: string): string {
  const dir = dirname(configFile);
  if (basename(dir) === ".devcontainer") return dirname(dir);
  if (basename(dirname(dir)) === ".devcontainer") return dirname(dirname(dir));
  return dir;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}
