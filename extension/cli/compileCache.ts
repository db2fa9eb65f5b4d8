/**
 * Node's module compile cache for zonectl: compiled code is kept between runs in the user's
 * cache dir, so a cold run skips most of compiling the CLI's chunks.
 */
import { homedir } from "node:os";
import { join } from "node:path";
import * as nodeModule from "node:module";

/**
 * Where compiled code is kept between runs: the user's cache dir (XDG), like other per-user
 * caches. Node keys entries by file content and its own version, so a rebuilt or upgraded
 * zonectl never reads a stale entry.
 */
export function compileCacheDir(env: NodeJS.ProcessEnv): string {
  const base = env["XDG_CACHE_HOME"] && env["XDG_CACHE_HOME"].startsWith("/") ? env["XDG_CACHE_HOME"] : "";
  return join(base || join(homedir(), ".cache"), "styrolite-zones", "compile-cache");
}

/**
 * Turns the cache on. Only a speed-up: a Node without the API (VS Code's Electron, run as Node
 * for the ssh ProxyCommand, may lack it), an unwritable directory, or NODE_DISABLE_COMPILE_CACHE
 * simply leave it off, and zonectl runs as before.
 */
export function enableCompileCache(env: NodeJS.ProcessEnv): void {
  const enable = (nodeModule as { enableCompileCache?: (dir?: string) => unknown }).enableCompileCache;
  if (typeof enable !== "function") return;
  try {
    enable(compileCacheDir(env));
  } catch {
    // A cache that cannot be used only costs the time it would have saved.
  }
}
