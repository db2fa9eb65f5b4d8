import { randomBytes } from "node:crypto";
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import * as z from "zod";

/** One pinned feature: the version it had, the exact reference and digest it resolved to. */
export interface LockEntry {
  readonly version: string;
  /** `registry/path@sha256:…` for OCI features, the URL for tarballs. */
  readonly resolved: string;
  /** `sha256:…`: the manifest digest (OCI) or the tarball's digest. */
  readonly integrity: string;
  readonly dependsOn?: readonly string[] | undefined;
}

/** devcontainer-lock.json: pins per feature reference as written in devcontainer.json. */
export interface Lockfile {
  readonly features: Readonly<Record<string, LockEntry>>;
}

const lockfileSchema = z.object({
  features: z.record(
    z.string(),
    z.looseObject({
      version: z.string(),
      resolved: z.string(),
      integrity: z.string().regex(/^sha256:[a-f0-9]{64}$/, { error: "expected sha256:<64 hex>" }),
      dependsOn: z.array(z.string()).optional(),
    }),
  ),
});

/** The lockfile next to a config: `.devcontainer-lock.json` beside `.devcontainer.json`, else `devcontainer-lock.json`. */
export function lockfilePath(configFile: string): string {
  const name = basename(configFile).startsWith(".") ? ".devcontainer-lock.json" : "devcontainer-lock.json";
  return join(dirname(configFile), name);
}

/**
 * Reads a lockfile. Missing: `{ lockfile: undefined }`. Empty (a request to create one):
 * `{ lockfile: undefined, create: true }`. Malformed: `problem` says why (a launch refuses).
 */
export async function readLockfile(
  path: string,
): Promise<{ lockfile?: Lockfile; create?: boolean; problem?: string }> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return {};
    return { problem: `${path}: ${(err as NodeJS.ErrnoException).code ?? "cannot read"}` };
  }
  return parseLockfile(text, path);
}

/** Parses lockfile text; see readLockfile. */
export function parseLockfile(
  text: string,
  path: string,
): { lockfile?: Lockfile; create?: boolean; problem?: string } {
  if (text.trim() === "") return { create: true };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { problem: `${path}: not valid JSON (${(err as Error).message})` };
  }
  const parsed = lockfileSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { problem: `${path}: ${issue?.path.join(".") ?? ""}: ${issue?.message ?? "invalid"}` };
  }
  for (const [id, entry] of Object.entries(parsed.data.features)) {
    const pinned = /@(sha256:[a-f0-9]{64})$/.exec(entry.resolved)?.[1];
    if (pinned && pinned !== entry.integrity)
      return {
        problem: `${path}: "${id}" resolves to ${pinned} but its integrity says ${entry.integrity}; fix or delete the lockfile`,
      };
  }
  return { lockfile: parsed.data };
}

/** The lockfile text for `entries`: sorted by feature reference, two-space JSON, final newline. */
export function formatLockfile(entries: Readonly<Record<string, LockEntry>>): string {
  const features: Record<string, LockEntry> = {};
  for (const id of Object.keys(entries).sort((a, b) => a.localeCompare(b))) {
    const e = entries[id]!;
    features[id] = {
      version: e.version,
      resolved: e.resolved,
      integrity: e.integrity,
      ...(e.dependsOn?.length ? { dependsOn: e.dependsOn } : {}),
    };
  }
  return `${JSON.stringify({ features }, null, 2)}\n`;
}

/**
 * Writes the lockfile when its content changes, through a temporary file renamed into place,
 * so an interrupted launch never leaves half a lockfile. `frozen`: a missing or different
 * lockfile is an error instead (nothing is written). Resolves with whether it wrote.
 */
export async function writeLockfile(
  path: string,
  entries: Readonly<Record<string, LockEntry>>,
  options: { frozen?: boolean } = {},
): Promise<boolean> {
  const text = formatLockfile(entries);
  let old: string | undefined;
  try {
    old = await readFile(path, "utf8");
  } catch {
    old = undefined;
  }
  let normalized: string | undefined;
  try {
    normalized =
      old !== undefined && old.trim() !== "" ? `${JSON.stringify(JSON.parse(old), null, 2)}\n` : undefined;
  } catch {
    normalized = undefined;
  }
  if (normalized === text) return false;
  if (options.frozen)
    throw new Error(
      old === undefined
        ? `${path} does not exist (frozen lockfile)`
        : `${path} does not match the features' resolved versions (frozen lockfile)`,
    );
  const temp = `${path}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    await writeFile(temp, text);
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  return true;
}
