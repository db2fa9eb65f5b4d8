import { lstat, mkdir, readlink, rm } from "node:fs/promises";
import { join } from "node:path";
import { ImageError } from "../../core/registry/imageError";

/**
 * Cleans a path taken from an archive into components relative to the archive root. A leading
 * `/` or `./` is dropped (tar writers disagree on it); `.` and empty components vanish; `..`
 * cancels a previous component. A `..` that would climb above the root is refused — Docker calls
 * that a breakout — with ImageError `unsafePath`.
 */
export function cleanArchivePath(raw: string, what = "entry"): string[] {
  const out: string[] = [];
  for (const part of raw.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length === 0)
        throw new ImageError("unsafePath", `${what} "${raw}" points outside the root filesystem`);
      out.pop();
      continue;
    }
    if (part.includes("\0")) throw new ImageError("unsafePath", `${what} "${raw}" contains a NUL byte`);
    out.push(part);
  }
  return out;
}

const maxSymlinkHops = 255;

/**
 * Resolves directory components inside `root` the way a chroot would: symlinks met on the way are
 * followed, but an absolute target restarts at `root` and `..` stops at `root`, so the result
 * can never leave it (the same rule as filepath-securejoin, which containerd and umoci use).
 * Components that do not exist are kept as they are; `ensureDirectories` creates them.
 * Returns the resolved components, relative to root, each a real directory or missing.
 */
export async function resolveInRoot(root: string, components: readonly string[]): Promise<string[]> {
  const resolved: string[] = [];
  const pending = [...components];
  let hops = 0;
  let missing = false;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === "" || part === ".") continue;
    if (part === "..") {
      resolved.pop();
      continue;
    }
    if (missing) {
      resolved.push(part);
      continue;
    }
    const here = join(root, ...resolved, part);
    let stat;
    try {
      stat = await lstat(here);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "ENOTDIR") throw err;
      // Nothing below a missing component can be a symlink yet: no more lookups needed.
      missing = true;
      resolved.push(part);
      continue;
    }
    if (stat.isSymbolicLink()) {
      if (++hops > maxSymlinkHops) {
        throw new ImageError("unsafePath", `too many symbolic links resolving "${components.join("/")}"`);
      }
      const target = await readlink(here);
      if (target.startsWith("/")) resolved.length = 0;
      pending.unshift(...target.split("/"));
      continue;
    }
    resolved.push(part);
  }
  return resolved;
}

/**
 * Makes every component of `components` (already resolved by `resolveInRoot`) a directory,
 * replacing a non-directory in the way, as tar does when a later layer turns a file into a
 * directory. Returns the absolute path.
 */
export async function ensureDirectories(
  root: string,
  components: readonly string[],
  mode = 0o755,
): Promise<string> {
  let here = root;
  for (const part of components) {
    here = join(here, part);
    let stat;
    try {
      stat = await lstat(here);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      await mkdir(here, { mode });
      continue;
    }
    if (!stat.isDirectory()) {
      await rm(here, { force: true });
      await mkdir(here, { mode });
    }
  }
  return here;
}
