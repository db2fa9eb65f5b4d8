import { readFile, stat } from "node:fs/promises";
import { lstatSync, readFileSync, realpathSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { loadComposeProject } from "../compose/load";
import { parseTemplateDefinition, substituteTemplateOptions, templateFileName } from "../templates/template";
import { buildLaunchPlan } from "./buildPlan";
import type { PlanInput } from "./buildPlan";
import { composeFilesOf } from "./translate/compose";
import type { ComposeInput } from "./translate/compose";
import type { PlanOptions } from "./translate/context";
import { LineIndex, diagnosticAt, formatDiagnostic, hasErrors, sortDiagnostics } from "./diagnostics";
import type { Diagnostic } from "./diagnostics";
import { DevcontainerError } from "./errors";
import { diagnosticAtPath, maxFileBytes, parseDevcontainerText } from "./jsonc";
import type { ParsedDocument } from "./jsonc";
import { locateConfig } from "./locate";
import type { ConfigLocation } from "./locate";
import type { LaunchPlan } from "./plan";
import type { DevcontainerConfig } from "./schema";
import { validateDevcontainer } from "./validate";

/** A devcontainer.json read and checked: what the extension's Problems panel shows. */
export interface CheckedConfig {
  readonly doc: ParsedDocument;
  /** Undefined when there are errors. */
  readonly config: DevcontainerConfig | undefined;
  /** Syntax, schema and encoding problems, sorted by position. */
  readonly diagnostics: readonly Diagnostic[];
}

/** Reads and validates one config file. Throws only when the file cannot be read at all. */
export async function checkConfigFile(configFile: string): Promise<CheckedConfig> {
  let bytes: Uint8Array;
  try {
    const info = await stat(configFile);
    if (!info.isFile()) throw new DevcontainerError("unreadable", `${configFile} is not a file`);
    if (info.size > maxFileBytes) {
      const diagnostic = diagnosticAt(
        new LineIndex(""),
        configFile,
        0,
        0,
        "error",
        "tooLarge",
        `file is ${info.size} bytes; devcontainer.json files over ${maxFileBytes} bytes are refused`,
      );
      return { doc: parseDevcontainerText("", configFile), config: undefined, diagnostics: [diagnostic] };
    }
    bytes = await readFile(configFile);
  } catch (err) {
    if (DevcontainerError.is(err)) throw err;
    throw new DevcontainerError(
      "unreadable",
      `${configFile}: ${(err as NodeJS.ErrnoException).code ?? "cannot read"}`,
      { cause: err },
    );
  }
  return checkConfigText(bytes, configFile);
}

/** Parses and validates text already in memory (an editor's unsaved buffer, say). Never throws. */
export function checkConfigText(input: Uint8Array | string, configFile: string): CheckedConfig {
  const doc = parseDevcontainerText(input, configFile);
  const validation = validateDevcontainer(doc);
  return {
    doc,
    config: validation.config,
    diagnostics: sortDiagnostics([...doc.diagnostics, ...validation.diagnostics]),
  };
}

/** Options of planFromPath. */
export interface PlanFromPathOptions {
  /** `--config`: a config file, relative to `cwd`. */
  readonly config?: string | undefined;
  readonly cwd: string;
  /** This machine's environment (for `${localEnv:…}`). */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly planOptions?: PlanOptions;
}

/**
 * Locate → read → parse → validate → plan: `zonectl plan` in one call. Throws DevcontainerError
 * (`notFound`, `ambiguous`, `unreadable`, or `invalid` with every located diagnostic); a config
 * that parses but cannot be launched gives a plan with `launchable: false`, not an error.
 */
export async function planFromPath(
  path: string | undefined,
  options: PlanFromPathOptions,
): Promise<{ plan: LaunchPlan; location: ConfigLocation; input: PlanInput }> {
  const location = await locateConfig(path, { config: options.config, cwd: options.cwd });
  const checked = await checkConfigFile(location.configFile);
  if (!checked.config || hasErrors(checked.diagnostics)) {
    const errors = checked.diagnostics.filter((d) => d.severity === "error");
    const first = errors[0];
    throw new DevcontainerError(
      "invalid",
      first
        ? `${formatDiagnostic(first)}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ""}`
        : `${location.configFile}: invalid`,
      { diagnostics: checked.diagnostics },
    );
  }
  const gitignore = await readGitignore(location.localFolder);
  const templateOptions = await readTemplateDefaults(location.localFolder);
  const compose = await readCompose(checked, location, options.env, templateOptions);
  const input: PlanInput = {
    doc: checked.doc,
    config: checked.config,
    diagnostics: [...checked.diagnostics, ...(compose?.project?.diagnostics ?? [])],
    localFolder: location.localFolder,
    configFile: location.configFile,
    env: options.env,
    ...(gitignore ? { gitignore } : {}),
    realPath: realPathOnThisMachine,
    readLocalFile: readSmallFile,
    ...(compose ? { compose } : {}),
    ...(templateOptions ? { templateOptions } : {}),
    ...(options.planOptions ? { options: options.planOptions } : {}),
  };
  return { plan: buildLaunchPlan(input), location, input };
}

const smallFileBytes = 1024 * 1024;

/**
 * A small regular file's text, or undefined when it is missing, not a regular file, or over
 * 1 MiB: what the planner reads of local features, lockfiles and Dockerfiles.
 */
export function readSmallFile(path: string): string | undefined {
  try {
    const info = statSync(path);
    if (!info.isFile() || info.size > smallFileBytes) return undefined;
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/**
 * Reads the Compose project a config names. A missing file or a broken Compose file stops the
 * plan like a broken devcontainer.json: DevcontainerError `invalid`, each problem located in
 * the file it concerns (a missing file at its entry in dockerComposeFile). Warnings (an unset
 * variable) travel with the project into the plan's diagnostics.
 */
async function readCompose(
  checked: CheckedConfig,
  location: ConfigLocation,
  env: Readonly<Record<string, string | undefined>>,
  templateOptions: ReadonlyMap<string, string> | undefined,
): Promise<ComposeInput | undefined> {
  const named = checked.config?.dockerComposeFile;
  if (named === undefined) return undefined;
  const files = composeFilesOf(location.configFile, named);
  const result = await loadComposeProject({
    files,
    env,
    localFolder: location.localFolder,
    ...(env["HOME"] ? { home: env["HOME"] } : {}),
    readText: async (path) => {
      try {
        const text = await readFile(path, "utf8");
        // A template source's Compose files hold placeholders too; they take the defaults.
        return templateOptions ? substituteTemplateOptions(text, templateOptions).text : text;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw new DevcontainerError(
          "unreadable",
          `${path}: ${(err as NodeJS.ErrnoException).code ?? "cannot read"}`,
          {
            cause: err,
          },
        );
      }
    },
  });
  const diagnostics: Diagnostic[] = [...result.diagnostics];
  for (const missing of result.missingFiles) {
    const index = typeof named === "string" ? [] : [files.indexOf(missing)];
    diagnostics.push(
      diagnosticAtPath(
        checked.doc,
        ["dockerComposeFile", ...index],
        "error",
        "composeFileMissing",
        `${missing}: no such Compose file`,
      ),
    );
  }
  if (!result.project || hasErrors(diagnostics)) {
    const errors = diagnostics.filter((d) => d.severity === "error");
    throw new DevcontainerError(
      "invalid",
      `${formatDiagnostic(errors[0]!)}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ""}`,
      { diagnostics: sortDiagnostics([...checked.diagnostics, ...diagnostics]) },
    );
  }
  return { project: result.project };
}

/**
 * The option defaults when the folder is a template source (has devcontainer-template.json), so
 * plan and up work on it directly; undefined for an ordinary project or an unreadable template.
 */
async function readTemplateDefaults(folder: string): Promise<ReadonlyMap<string, string> | undefined> {
  let text: string;
  try {
    text = await readFile(join(folder, templateFileName), "utf8");
  } catch {
    return undefined;
  }
  const { definition } = parseTemplateDefinition(text, join(folder, templateFileName));
  return definition ? new Map(definition.options.map((o) => [o.name, o.default])) : undefined;
}

async function readGitignore(folder: string): Promise<string[] | undefined> {
  try {
    return (await readFile(join(folder, ".gitignore"), "utf8")).split(/\r?\n/);
  } catch {
    return undefined;
  }
}

/**
 * The real path of `path` with every symbolic link resolved; a tail that does not exist yet is
 * kept as written. Undefined when a link on the way leads nowhere: what it names here may exist
 * on the host, so it cannot be judged.
 */
export function realPathOnThisMachine(path: string): string | undefined {
  const missing: string[] = [];
  for (let p = path; ; p = dirname(p)) {
    try {
      return join(realpathSync(p), ...missing);
    } catch {
      try {
        if (lstatSync(p).isSymbolicLink()) return undefined;
      } catch {
        // not there at all: resolve its parent
      }
      if (p === dirname(p)) return path;
      missing.unshift(basename(p));
    }
  }
}
