import ignore from "ignore";
import type { Ignore } from "ignore";
import { posix } from "node:path";
import type { WorkspaceSync } from "./plan";

/**
 * Decides which workspace files the sync copies, as a plan's `sync` says: `exclude` (`.git/`
 * and the root .gitignore) applies everywhere; with `respectGitignore`, each subfolder's own
 * .gitignore applies below it, as git does. The sync walker asks before descending or copying.
 * `readGitignore` returns a folder's .gitignore text (or undefined), relative to the sync root.
 */
export class SyncFilter {
  private readonly root: Ignore;
  private readonly nested = new Map<string, Ignore | undefined>();

  constructor(
    private readonly sync: Pick<WorkspaceSync, "exclude" | "respectGitignore">,
    private readonly readGitignore: (relativeFolder: string) => string | undefined,
  ) {
    this.root = ignore().add([...sync.exclude]);
  }

  /** True when a path (relative to the sync root, "/"-separated) is not copied. */
  isExcluded(relativePath: string, isDirectory: boolean): boolean {
    const path = relativePath.replace(/^\.\/+/, "").replace(/\/+$/, "");
    if (!path || path.startsWith("../") || path === "..") return path !== "";
    const asked = isDirectory ? `${path}/` : path;
    if (this.root.ignores(asked)) return true;
    if (!this.sync.respectGitignore) return false;
    // A nested .gitignore governs the paths below its folder, relative to that folder.
    const parts = path.split("/");
    for (let depth = 1; depth < parts.length; depth++) {
      const folder = parts.slice(0, depth).join("/");
      const rules = this.rulesOf(folder);
      if (!rules) continue;
      const below = posix.relative(folder, path);
      if (rules.ignores(isDirectory ? `${below}/` : below)) return true;
    }
    return false;
  }

  private rulesOf(folder: string): Ignore | undefined {
    if (!this.nested.has(folder)) {
      const text = this.readGitignore(folder);
      this.nested.set(folder, text === undefined ? undefined : ignore().add(text));
    }
    return this.nested.get(folder);
  }
}
