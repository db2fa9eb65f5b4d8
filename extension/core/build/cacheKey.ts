import { createHash } from "node:crypto";
import { lstat, readFile, readdir, readlink } from "node:fs/promises";
import { join, relative } from "node:path";
import ignore from "ignore";
import type { Ignore } from "ignore";

/**
 * A digest of a build context as the builder sees it: every file and link not excluded by the
 * context's `.dockerignore` (or `<Dockerfile>.dockerignore` next to the Dockerfile, which wins,
 * as with BuildKit), by path, executable bit and content. The Dockerfile and .dockerignore are
 * always counted.
 */
export async function contextDigest(context: string, dockerfile?: string): Promise<string> {
  const rules = await ignoreRules(context, dockerfile);
  const hash = createHash("sha256");
  const walk = async (dir: string): Promise<void> => {
    let names: string[];
    try {
      names = (await readdir(dir)).sort();
    } catch {
      return;
    }
    for (const name of names) {
      const path = join(dir, name);
      const rel = relative(context, path);
      const info = await lstat(path);
      const isDir = info.isDirectory();
      if (rules && rules.ignores(isDir ? `${rel}/` : rel) && rel !== ".dockerignore") continue;
      if (isDir) {
        hash.update(`d ${rel}\n`);
        await walk(path);
      } else if (info.isSymbolicLink()) {
        hash.update(`l ${rel} ${await readlink(path)}\n`);
      } else if (info.isFile()) {
        hash.update(`f ${rel} ${info.mode & 0o111 ? "x" : "-"} ${info.size}\n`);
        hash.update(await readFile(path));
      }
    }
  };
  await walk(context);
  return `sha256:${hash.digest("hex")}`;
}

async function ignoreRules(context: string, dockerfile: string | undefined): Promise<Ignore | undefined> {
  const candidates = [...(dockerfile ? [`${dockerfile}.dockerignore`] : []), join(context, ".dockerignore")];
  for (const file of candidates) {
    try {
      const text = await readFile(file, "utf8");
      // .dockerignore patterns are anchored at the context root (gitignore's are not, unless
      // they start with "/"), and "**" matches any number of folders in both.
      const lines = text
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter((l) => l && !l.startsWith("#"))
        .map((l) => l.replace(/^(!?)(?:\.?\/)+/, "$1"))
        .map((l) => (l.replace(/^!/, "").startsWith("**") ? l : l.replace(/^(!?)/, "$1/")));
      return ignore().add(lines);
    } catch {
      // try the next
    }
  }
  return undefined;
}

/** The cache key of an image build: a digest over everything that decides the image's content. */
export function cacheKey(parts: Readonly<Record<string, unknown>>): string {
  return createHash("sha256").update(stableJson(parts)).digest("hex");
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
  if (value && typeof value === "object")
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  return JSON.stringify(value ?? null);
}
