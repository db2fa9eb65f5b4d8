import { readFileSync } from "node:fs";
import { lstat, readdir, readlink } from "node:fs/promises";
import { posix } from "node:path";
import { messageOf } from "../errors";
import { SyncFilter } from "../devcontainer/syncFilter";
import type { WorkspaceSync } from "../devcontainer/plan";
import { Emitter } from "../events";
import type { Event } from "../events";
import { Disposable } from "../lifecycle";
import type { HostFileInfo, HostFiles } from "./hostFiles";
import { localInfo } from "./hostFiles";
import { ensureHostDirectory, removeHostTree } from "./workspaceSync";

/** What one push did to the host copy. */
export type PushAction = "uploaded" | "removed" | "linked" | "created" | "unchanged" | "conflict";

/** One path pushed (or found unchanged), in the order changes were noticed. */
export interface PushEvent {
  /** Relative to the project folder, "/"-separated. */
  readonly path: string;
  readonly action: PushAction;
  /** From the moment the change was noticed until the host had it. */
  readonly ms: number;
}

/** A path that could not be pushed. */
export interface PushFailure {
  readonly path: string;
  readonly error: Error;
}

/** Options of {@link WorkspacePushQueue}. */
export interface PushQueueOptions {
  /** The host's files; called again after a failure (the connection may have been replaced). */
  readonly files: () => Promise<HostFiles>;
  readonly sync: Pick<WorkspaceSync, "localFolder" | "hostPath" | "exclude" | "respectGitignore">;
  /** How long to let a burst of changes settle before pushing starts. Default 30 ms. */
  readonly settleMs?: number;
}

/**
 * Pushes single changes of a launched project to its host copy, as they happen: an editor's
 * save, a new file, a rename (the old path goes, the new one comes), a deletion, a `git
 * checkout` of hundreds of files. Changes are taken as paths ("something here changed"); each
 * is looked at again when its turn comes, so the host gets the latest state, never a stale one.
 *
 * Paths are pushed one at a time, in the order they were first noticed (a path noticed again
 * while waiting keeps its place; a folder's entries follow the folder, by name): a burst
 * arrives complete and in order. The same exclusions as the full sync apply (.gitignore,
 * excludes); a changed .gitignore is read again. Like the full sync it never follows a symlink —
 * local ones are recreated as links — and it leaves a file that changed on the host after this
 * machine's copy alone (a `conflict`).
 */
export class WorkspacePushQueue extends Disposable {
  readonly #options: PushQueueOptions;
  readonly #settleMs: number;
  /** Paths waiting, in first-noticed order, with when they were noticed. */
  readonly #pending = new Map<string, number>();
  /** Paths the watcher itself reported (not only found inside a folder) since they were last pushed. */
  readonly #reported = new Set<string>();
  /**
   * The local mtime (ms, full precision) of each file as this queue uploaded it. Host mtimes are
   * whole seconds, so a save of the same size in the same second as the last looks unchanged there.
   */
  readonly #uploaded = new Map<string, number>();
  #filter: SyncFilter;
  #files: HostFiles | undefined;
  #running: Promise<void> | undefined;
  #idle: (() => void)[] = [];
  #disposed = false;
  readonly #onDidPush = this.register(new Emitter<PushEvent>());
  readonly #onDidFail = this.register(new Emitter<PushFailure>());
  /** Every path handled, in order. */
  readonly onDidPush: Event<PushEvent> = this.#onDidPush.event;
  /** A path that failed; later changes are still pushed. */
  readonly onDidFail: Event<PushFailure> = this.#onDidFail.event;

  constructor(options: PushQueueOptions) {
    super();
    this.#options = options;
    this.#settleMs = options.settleMs ?? 30;
    this.#filter = this.#newFilter();
    this.register({
      dispose: () => {
        this.#disposed = true;
        this.#pending.clear();
        this.#files?.close();
        this.#files = undefined;
      },
    });
  }

  /** Something at `path` (relative to the project, or absolute inside it) may have changed or gone. */
  notify(path: string): void {
    if (this.#disposed) return;
    const rel = this.#relative(path);
    // Excluded trees (.git/ during a checkout, node_modules/) are dropped before they queue up.
    if (rel === undefined || (rel && this.#filter.isExcluded(rel, false))) return;
    if (!this.#pending.has(rel)) this.#pending.set(rel, Date.now());
    this.#reported.add(rel);
    this.#running ??= this.#drain();
  }

  /** Resolves once every change noticed so far was handled. */
  idle(): Promise<void> {
    if (!this.#running) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #relative(path: string): string | undefined {
    const root = this.#options.sync.localFolder;
    const rel = (posix.isAbsolute(path) ? posix.relative(root, path) : posix.normalize(path)).replace(
      /\/+$/,
      "",
    );
    if (rel === "" || rel === ".") return "";
    return rel.startsWith("../") || rel === ".." ? undefined : rel;
  }

  async #drain(): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, this.#settleMs));
    while (this.#pending.size && !this.#disposed) {
      const [path, noticed] = this.#pending.entries().next().value as [string, number];
      this.#pending.delete(path);
      const reported = this.#reported.delete(path);
      if (path === ".gitignore" || path.endsWith("/.gitignore")) this.#filter = this.#newFilter();
      try {
        const action = await this.#pushWithRetry(path, reported);
        if (action) this.#onDidPush.fire({ path: path || ".", action, ms: Date.now() - noticed });
      } catch (err) {
        this.#onDidFail.fire({
          path: path || ".",
          error: err instanceof Error ? err : new Error(messageOf(err)),
        });
      }
    }
    this.#running = undefined;
    for (const resolve of this.#idle.splice(0)) resolve();
  }

  /** One retry with freshly opened host files: a dropped connection is replaced between tries. */
  async #pushWithRetry(path: string, reported: boolean): Promise<PushAction | undefined> {
    try {
      return await this.#push(path, await this.#hostFiles(), reported);
    } catch {
      this.#files?.close();
      this.#files = undefined;
      return this.#push(path, await this.#hostFiles(), reported);
    }
  }

  async #hostFiles(): Promise<HostFiles> {
    // Everything below the host folder is the zone's to change: no link in it is ever followed.
    this.#files ??= (await this.#options.files()).beneath(this.#options.sync.hostPath);
    return this.#files;
  }

  /**
   * Makes the host's copy of `path` what this machine has now. Undefined: excluded, nothing to do.
   * `reported`: the watcher named this path (a change, not just an entry of a folder).
   */
  async #push(path: string, files: HostFiles, reported: boolean): Promise<PushAction | undefined> {
    const { localFolder, hostPath } = this.#options.sync;
    const local = posix.join(localFolder, path);
    const host = path ? posix.join(hostPath, path) : hostPath;
    let here: HostFileInfo | undefined;
    let hereMs = 0;
    try {
      const stats = await lstat(local);
      here = localInfo(stats);
      hereMs = stats.mtimeMs;
    } catch {
      here = undefined;
    }
    if (path && this.#filter.isExcluded(path, here?.kind === "directory")) return undefined;
    const there = await files.lstat(host);
    if (!here) {
      this.#uploaded.delete(path);
      if (!there) return "unchanged";
      if (there.kind === "directory") await removeHostTree(files, host);
      else await files.removeFile(host);
      return "removed";
    }
    if (here.kind === "other") return undefined;
    await ensureHostDirectory(files, posix.dirname(host));
    if (there && there.kind !== here.kind) {
      if (there.kind === "directory") await removeHostTree(files, host);
      else if (here.kind !== "file") await files.removeFile(host); // an upload replaces a file or link itself
    }
    const existing = there && there.kind === here.kind ? there : undefined;
    switch (here.kind) {
      case "file": {
        // Same size and second: unchanged if it is the version this queue uploaded; when that is
        // not known, a path the watcher reported is sent again, a folder's entry is left.
        const pushed = this.#uploaded.get(path);
        const looksSame = existing && existing.size === here.size && existing.mtime === here.mtime;
        if (looksSame && (pushed === hereMs || (pushed === undefined && !reported))) return "unchanged";
        if (existing && existing.mtime > here.mtime) return "conflict";
        await files.upload(local, host, { mode: here.mode, mtime: here.mtime });
        this.#uploaded.set(path, hereMs);
        return "uploaded";
      }
      case "symlink": {
        const target = await readlink(local);
        if (existing && (await files.readlink(host)) === target) return "unchanged";
        if (existing) await files.removeFile(host);
        await files.symlink(target, host);
        return "linked";
      }
      case "directory":
        if (!existing) await files.mkdir(host, here.mode | 0o700);
        await this.#mirror(path, files);
        return existing ? "unchanged" : "created";
    }
  }

  /**
   * A directory event can stand for anything inside it (a folder moved in, or removed and made
   * again: file watchers report only the folder, and a recursive watcher misses what was written
   * into a new folder before it watched it): its entries, and host entries it no longer has, are
   * pushed next, by name, ahead of anything noticed later.
   */
  async #mirror(path: string, files: HostFiles): Promise<void> {
    const { localFolder, hostPath } = this.#options.sync;
    const names = new Set(await readdir(posix.join(localFolder, path)));
    const inside: string[] = [];
    for (const name of [...names].sort()) {
      const rel = path ? `${path}/${name}` : name;
      if (!this.#filter.isExcluded(rel, false)) inside.push(rel);
    }
    const hostDir = path ? posix.join(hostPath, path) : hostPath;
    for (const entry of await files.list(hostDir)) {
      if (names.has(entry.name) || /^\..*\.zsync-[0-9a-f]{12}$/.test(entry.name)) continue;
      const rel = path ? `${path}/${entry.name}` : entry.name;
      if (this.#filter.isExcluded(rel, entry.info.kind === "directory")) continue; // not ours to remove
      inside.push(rel);
    }
    this.#queueFirst(inside);
  }

  /** Puts `paths` at the head of the queue, in this order (one already waiting keeps its time). */
  #queueFirst(paths: readonly string[]): void {
    if (this.#disposed || !paths.length) return;
    const now = Date.now();
    const waiting = new Map(this.#pending);
    this.#pending.clear();
    for (const p of paths) this.#pending.set(p, waiting.get(p) ?? now);
    for (const [p, noticed] of waiting) if (!this.#pending.has(p)) this.#pending.set(p, noticed);
  }

  #newFilter(): SyncFilter {
    const root = this.#options.sync.localFolder;
    return new SyncFilter(this.#options.sync, (folder) => {
      try {
        return readFileSync(posix.join(root, folder, ".gitignore"), "utf8");
      } catch {
        return undefined;
      }
    });
  }
}
