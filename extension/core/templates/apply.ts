import { lstat, mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { posix } from "node:path";
import { DetailedError } from "../errors";
import type { Diagnostic } from "../devcontainer/diagnostics";
import {
  matchesOptionalPath,
  parseTemplateDefinition,
  resolveOptions,
  substituteTemplateOptions,
  templateFileName,
} from "./template";
import type { ResolvedOptions, TemplateDefinition } from "./template";

/**
 * Why a template could not be applied: `notFound` (no template at that reference), `invalid`
 * (its devcontainer-template.json is broken: located diagnostics), `options` (a bad or unknown
 * `--option`), `exists` (files would be overwritten and `force` was not given), `unsafe` (an
 * entry escapes the target folder), `fetch` (the registry could not deliver it).
 */
export type TemplateErrorReason = "notFound" | "invalid" | "options" | "exists" | "unsafe" | "fetch";

export class TemplateError extends DetailedError<
  TemplateErrorReason,
  { diagnostics?: readonly Diagnostic[]; conflicts?: readonly string[] }
> {
  override readonly name = "TemplateError";
}

/** One file of a template, path relative to the template's root with "/" separators. */
export interface TemplateFile {
  readonly path: string;
  readonly bytes: Uint8Array;
  /** Permission bits to write the file with (an executable script stays executable). */
  readonly mode: number;
}

/** A template ready to apply: its definition and every file, from a folder or an OCI artifact. */
export interface TemplateSource {
  /** What the user named: a folder or an OCI reference. */
  readonly reference: string;
  readonly definition: TemplateDefinition;
  readonly files: readonly TemplateFile[];
}

/**
 * Files at a template's root that describe the template rather than the project; applying it
 * leaves them out so a project's own README is never replaced by the template's.
 */
export const templateOnlyFiles = new Set([templateFileName, "README.md", "NOTES.md"]);

/** The most a template may hold: generous for config files, a guard against a hostile artifact. */
export const maxTemplateBytes = 64 * 1024 * 1024;

/** Builds a TemplateSource from in-memory files (a folder's or an extracted layer's). */
export function templateFromFiles(reference: string, files: readonly TemplateFile[]): TemplateSource {
  const definitionFile = files.find((f) => f.path === templateFileName);
  if (!definitionFile)
    throw new TemplateError(
      "notFound",
      `${reference} is not a Dev Container Template: no ${templateFileName}`,
    );
  for (const f of files) checkRelativePath(f.path, reference);
  const parsed = parseTemplateDefinition(
    new TextDecoder().decode(definitionFile.bytes),
    posix.join(reference, templateFileName),
  );
  if (!parsed.definition)
    throw new TemplateError("invalid", `${reference}: ${templateFileName} is invalid`, {
      diagnostics: parsed.diagnostics,
    });
  return { reference, definition: parsed.definition, files };
}

/** Reads a template folder from disk (symlinks and `.git` are skipped). */
export async function readTemplateFolder(folder: string): Promise<TemplateSource> {
  const files: TemplateFile[] = [];
  let total = 0;
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      if (entry.name === ".git") continue;
      const full = posix.join(dir, entry.name);
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(full, path);
      else if (entry.isFile()) {
        const bytes = await readFile(full);
        total += bytes.byteLength;
        if (total > maxTemplateBytes)
          throw new TemplateError("unsafe", `${folder} holds more than ${maxTemplateBytes} bytes`);
        files.push({ path, bytes, mode: (await lstat(full)).mode & 0o777 });
      }
    }
  };
  try {
    await walk(folder, "");
  } catch (err) {
    if (TemplateError.is(err)) throw err;
    throw new TemplateError(
      "notFound",
      `${folder}: ${(err as NodeJS.ErrnoException).code ?? "cannot read"}`,
      {},
      {
        cause: err,
      },
    );
  }
  return templateFromFiles(folder, files);
}

/** What applying will write, before anything is written. */
export interface RenderedTemplate {
  readonly files: readonly TemplateFile[];
  readonly options: ResolvedOptions;
  /** Placeholders naming no option, per file. */
  readonly unknownPlaceholders: ReadonlyArray<{ path: string; names: readonly string[] }>;
}

/**
 * Fills `${templateOption:…}` in every text file with the option values (defaults where not
 * given), leaving out the template's own description files and the optional paths asked to be
 * omitted. Throws `options` for bad option values.
 */
export function renderTemplate(
  source: TemplateSource,
  given: Readonly<Record<string, string>>,
  omitPaths: readonly string[] = [],
): RenderedTemplate {
  const options = resolveOptions(source.definition, given);
  if (options.errors.length) throw new TemplateError("options", options.errors.join("; "));
  const files: TemplateFile[] = [];
  const unknownPlaceholders: Array<{ path: string; names: string[] }> = [];
  for (const file of source.files) {
    if (templateOnlyFiles.has(file.path)) continue;
    if (omitPaths.some((p) => matchesOptionalPath(file.path, p))) continue;
    const text = decodeText(file.bytes);
    if (text === undefined) {
      files.push(file);
      continue;
    }
    const substituted = substituteTemplateOptions(text, options.values);
    if (substituted.unknown.length) unknownPlaceholders.push({ path: file.path, names: substituted.unknown });
    files.push({ ...file, bytes: new TextEncoder().encode(substituted.text) });
  }
  return { files, options, unknownPlaceholders };
}

/**
 * Writes rendered files under `target`. Without `force`, any file that already exists stops
 * everything before a byte is written (`exists`, listing them). A failure while writing removes
 * what this call wrote, so the folder is left as it was.
 */
export async function writeTemplate(
  rendered: RenderedTemplate,
  target: string,
  options: { force: boolean },
): Promise<{ written: string[] }> {
  const conflicts: string[] = [];
  for (const file of rendered.files) {
    const exists = await lstat(posix.join(target, file.path)).then(
      () => true,
      () => false,
    );
    if (exists) conflicts.push(file.path);
  }
  if (conflicts.length && !options.force)
    throw new TemplateError(
      "exists",
      `${conflicts.length} file(s) already exist in ${target}: ${conflicts.slice(0, 5).join(", ")}${conflicts.length > 5 ? ", …" : ""}; nothing was written (--force overwrites)`,
      { conflicts },
    );
  const written: string[] = [];
  const created: string[] = [];
  try {
    for (const file of rendered.files) {
      const full = posix.join(target, file.path);
      await mkdir(posix.dirname(full), { recursive: true });
      const existed = conflicts.includes(file.path);
      // A symlink in the way would redirect the write outside the project: replace it, not follow it.
      if (existed && (await lstat(full)).isSymbolicLink()) await rm(full);
      // Only the executable bit carries over: a read-only file in a template is not read-only in a project.
      await writeFile(full, file.bytes, { mode: file.mode & 0o111 ? 0o755 : 0o644 });
      written.push(file.path);
      if (!existed) created.push(full);
    }
  } catch (err) {
    await Promise.all(created.map((f) => rm(f, { force: true })));
    throw err;
  }
  return { written };
}

function checkRelativePath(path: string, reference: string): void {
  const normalized = posix.normalize(path);
  if (path.startsWith("/") || normalized.startsWith("../") || normalized === ".." || path.includes("\0"))
    throw new TemplateError(
      "unsafe",
      `${reference}: entry "${path}" would be written outside the project folder`,
    );
}

function decodeText(bytes: Uint8Array): string | undefined {
  if (bytes.includes(0)) return undefined;
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}
