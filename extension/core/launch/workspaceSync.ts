import { readFileSync } from "node:fs";
import { lstat, mkdir, readdir, readlink, symlink } from "node:fs/promises";
import { posix } from "node:path";
import { abortReason } from "../abort";
import { SyncFilter } from "../devcontainer/syncFilter";
import type { WorkspaceSync } from "../devcontainer/plan";
import type { SyncProgress } from "./events";
import type { HostFileInfo, HostFiles } from "./hostFiles";
import { localInfo } from "./hostFiles";

/** The tally of one sync. */
export interface SyncResult extends SyncProgress {
  readonly directoriesCreated: number;
  readonly symlinksWritten: number;
  /** Files left alone because the other side changed them later (relative paths). */
  readonly conflicts: readonly string[];
  /** Entries that are neither files, directories nor symlinks (sockets, fifos), not copied. */
  readonly skipped: readonly string[];
  /** Pull: host entries not brought back, each with the reason (config that runs here, unsafe links). */
  readonly withheld: readonly { readonly path: string; readonly reason: string }[];
  /** Whether the top folder itself was created by this sync (rollback removes only what it made). */
  readonly createdRoot: boolean;
  readonly ms: number;
}

/** Options of {@link pushWorkspace} and {@link pullWorkspace}. */
export interface SyncOptions {
  readonly files: HostFiles;
  readonly sync: Pick<WorkspaceSync, "localFolder" | "hostPath" | "exclude" | "respectGitignore">;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: SyncProgress) => void;
  /** File copies in flight at once. Default 8. */
  readonly concurrency?: number;
  /** Pull: overwrite local files even when they changed after the host's copy. */
  readonly force?: boolean;
  /**
   * Pull: also bring back `.devcontainer/`, `.vscode/` and `.git*`, which run on this machine
   * (initializeCommand, tasks, hooks). Off by default: the zone may be compromised.
   */
  readonly includeConfig?: boolean;
}

interface LocalEntry {
  readonly name: string;
  readonly info: HostFileInfo;
  readonly target?: string;
}

/** Runs at most `n` tasks at once. */
class Limiter {
  #running = 0;
  readonly #queue: (() => void)[] = [];
  constructor(private readonly n: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#running >= this.n) await new Promise<void>((resolve) => this.#queue.push(resolve));
    this.#running++;
    try {
      return await task();
    } finally {
      this.#running--;
      this.#queue.shift()?.();
    }
  }
}

class Tally {
  filesChecked = 0;
  filesTotal = 0;
  filesCopied = 0;
  bytesCopied = 0;
  bytesToCopy = 0;
  directoriesCreated = 0;
  symlinksWritten = 0;
  readonly conflicts: string[] = [];
  readonly skipped: string[] = [];
  #last = 0;

  constructor(private readonly report: ((p: SyncProgress) => void) | undefined) {}

  progress(current?: string, force = false): void {
    if (!this.report) return;
    // Progress arrives per file; a UI needs a few updates a second, not thousands.
    const now = Date.now();
    if (!force && now - this.#last < 100) return;
    this.#last = now;
    this.report(this.snapshot(current));
  }

  snapshot(current?: string): SyncProgress {
    return {
      filesChecked: this.filesChecked,
      filesTotal: this.filesTotal,
      filesCopied: this.filesCopied,
      bytesCopied: this.bytesCopied,
      bytesToCopy: this.bytesToCopy,
      ...(current !== undefined ? { current } : {}),
    };
  }
}

function checkAbort(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortReason(signal);
}

function filterFor(sync: SyncOptions["sync"]): SyncFilter {
  return new SyncFilter(sync, (folder) => {
    try {
      return readFileSync(posix.join(sync.localFolder, folder, ".gitignore"), "utf8");
    } catch {
      return undefined;
    }
  });
}

/** Walks the local project (symlinks are entries, never followed), minus what the filter excludes. */
async function walkLocal(
  root: string,
  filter: SyncFilter,
  signal: AbortSignal | undefined,
): Promise<Map<string, LocalEntry[]>> {
  const tree = new Map<string, LocalEntry[]>();
  const visit = async (rel: string): Promise<void> => {
    checkAbort(signal);
    const entries: LocalEntry[] = [];
    tree.set(rel, entries);
    const names = (await readdir(posix.join(root, rel))).sort();
    const subdirs: string[] = [];
    for (const name of names) {
      const childRel = rel ? `${rel}/${name}` : name;
      let info: HostFileInfo;
      try {
        info = localInfo(await lstat(posix.join(root, childRel)));
      } catch {
        continue; // vanished while we looked
      }
      if (filter.isExcluded(childRel, info.kind === "directory")) continue;
      if (info.kind === "symlink") {
        entries.push({ name, info, target: await readlink(posix.join(root, childRel)) });
      } else {
        entries.push({ name, info });
        if (info.kind === "directory") subdirs.push(childRel);
      }
    }
    for (const d of subdirs) await visit(d);
  };
  await visit("");
  return tree;
}

/**
 * Creates `path` and its missing parents on the host (like mkdir -p). Returns the topmost
 * directory it created, or undefined when everything existed (rollback removes exactly that).
 */
export async function ensureHostDirectory(
  files: HostFiles,
  path: string,
  mode = 0o755,
): Promise<string | undefined> {
  if (!posix.isAbsolute(path)) throw new Error(`host path ${path} is not absolute`);
  const missing: string[] = [];
  for (let p = posix.normalize(path); ; p = posix.dirname(p)) {
    const info = await files.lstat(p);
    if (info?.kind === "directory") break;
    if (info) throw new Error(`${p} on the host exists and is not a directory`);
    missing.unshift(p);
    if (p === "/") break;
  }
  for (const p of missing) await files.mkdir(p, mode);
  return missing[0];
}

/**
 * Removes a host directory tree without following symlinks, in it or below it: the zone may
 * swap any of its directories for a link while this runs (`path` itself is trusted). Missing is fine.
 */
export async function removeHostTree(files: HostFiles, path: string): Promise<void> {
  const inside = files.beneath(path);
  const remove = async (at: string): Promise<void> => {
    const info = await inside.lstat(at);
    if (!info) return;
    if (info.kind !== "directory") return inside.removeFile(at);
    let entries: { name: string; info: HostFileInfo }[];
    try {
      entries = await inside.list(at);
    } catch (err) {
      // A directory a moment ago, a link now: the link goes, what it points to stays.
      if ((err as NodeJS.ErrnoException).code === "ELOOP") return inside.removeFile(at);
      throw err;
    }
    for (const entry of entries) {
      const child = posix.join(at, entry.name);
      if (entry.info.kind === "directory") await remove(child);
      else await inside.removeFile(child);
    }
    await inside.removeDirectory(at);
  };
  await remove(path);
}

/**
 * Copies the project to its host folder: new and changed files (size or mtime differ), new
 * directories and symlinks. Incremental: an unchanged file costs one directory listing, not a
 * copy. Never deletes anything on this machine; on the host it replaces only entries whose kind
 * changed, and leaves files that changed on the host after our copy alone (reported as
 * conflicts; `zonectl sync --pull` brings them back).
 */
export async function pushWorkspace(options: SyncOptions): Promise<SyncResult> {
  const started = Date.now();
  const { files, sync, signal } = options;
  const tally = new Tally(options.onProgress);
  const limiter = new Limiter(options.concurrency ?? 8);
  const tree = await walkLocal(sync.localFolder, filterFor(sync), signal);
  for (const entries of tree.values())
    for (const e of entries) if (e.info.kind === "file") tally.filesTotal++;
  tally.progress(undefined, true);
  const createdTop = await ensureHostDirectory(files, sync.hostPath);
  // Everything below the host folder is the zone's to change: no link in it is ever followed.
  const inside = files.beneath(sync.hostPath);

  const syncDir = async (rel: string, fresh: boolean): Promise<void> => {
    checkAbort(signal);
    const entries = tree.get(rel) ?? [];
    const hostDir = rel ? posix.join(sync.hostPath, rel) : sync.hostPath;
    const remote = new Map<string, HostFileInfo>();
    if (!fresh) for (const e of await inside.list(hostDir)) remote.set(e.name, e.info);
    const copies: Promise<void>[] = [];
    const subdirs: { rel: string; fresh: boolean }[] = [];
    for (const entry of entries) {
      const childRel = rel ? `${rel}/${entry.name}` : entry.name;
      const hostChild = posix.join(hostDir, entry.name);
      const there = remote.get(entry.name);
      const kindChanged = there !== undefined && there.kind !== entry.info.kind;
      if (kindChanged && there.kind === "directory") await removeHostTree(inside, hostChild);
      else if (kindChanged && entry.info.kind !== "file") await inside.removeFile(hostChild);
      const existing = kindChanged ? undefined : there;
      switch (entry.info.kind) {
        case "directory":
          if (!existing) {
            await inside.mkdir(hostChild, entry.info.mode | 0o700);
            tally.directoriesCreated++;
          }
          subdirs.push({ rel: childRel, fresh: !existing });
          break;
        case "symlink":
          if (existing && (await inside.readlink(hostChild)) === entry.target) break;
          if (existing) await inside.removeFile(hostChild);
          await inside.symlink(entry.target ?? "", hostChild);
          tally.symlinksWritten++;
          break;
        case "file": {
          tally.filesChecked++;
          if (existing && existing.size === entry.info.size && existing.mtime === entry.info.mtime) {
            tally.progress(childRel);
            break;
          }
          if (existing && existing.mtime > entry.info.mtime) {
            tally.conflicts.push(childRel);
            break;
          }
          tally.bytesToCopy += entry.info.size;
          const local = posix.join(sync.localFolder, childRel);
          copies.push(
            limiter.run(async () => {
              checkAbort(signal);
              // An upload renames a temp file over the destination: a symlink there is replaced, not followed.
              await inside.upload(local, hostChild, { mode: entry.info.mode, mtime: entry.info.mtime });
              tally.filesCopied++;
              tally.bytesCopied += entry.info.size;
              tally.progress(childRel);
            }),
          );
          break;
        }
        case "other":
          tally.skipped.push(childRel);
          break;
      }
    }
    const settled = await Promise.allSettled(copies);
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
    if (failed) throw failed.reason;
    for (const d of subdirs) await syncDir(d.rel, d.fresh);
  };
  await syncDir("", createdTop !== undefined);
  tally.progress(undefined, true);
  return {
    ...tally.snapshot(),
    directoriesCreated: tally.directoriesCreated,
    symlinksWritten: tally.symlinksWritten,
    conflicts: tally.conflicts,
    skipped: tally.skipped,
    withheld: [],
    createdRoot: createdTop !== undefined,
    ms: Date.now() - started,
  };
}

/**
 * Copies the host folder back into the project (`zonectl sync --pull`): files that are new or
 * changed on the host, and missing directories and symlinks. It never deletes local files and
 * never writes through a local symlink; a local file changed after the host's copy is left
 * alone (a conflict) unless `force`.
 */
export async function pullWorkspace(options: SyncOptions): Promise<SyncResult> {
  const started = Date.now();
  const { sync, signal } = options;
  // Everything below the host folder is the zone's to change: no link in it is ever followed.
  const files = options.files.beneath(sync.hostPath);
  const filter = filterFor(sync);
  const tally = new Tally(options.onProgress);
  const limiter = new Limiter(options.concurrency ?? 8);
  const withheld: { path: string; reason: string }[] = [];
  const root = await files.lstat(sync.hostPath);
  if (root?.kind !== "directory")
    throw new Error(
      `${sync.hostPath} is not a directory on the host (was this project launched with zonectl up?)`,
    );

  const syncDir = async (rel: string): Promise<void> => {
    checkAbort(signal);
    const hostDir = rel ? posix.join(sync.hostPath, rel) : sync.hostPath;
    const localDir = rel ? posix.join(sync.localFolder, rel) : sync.localFolder;
    const copies: Promise<void>[] = [];
    const subdirs: string[] = [];
    for (const entry of (await files.list(hostDir)).sort((a, b) => a.name.localeCompare(b.name))) {
      const childRel = rel ? `${rel}/${entry.name}` : entry.name;
      // Leftover temp files of an interrupted copy are ours, not the project's.
      if (/^\..*\.zsync-[0-9a-f]{12}$/.test(entry.name)) continue;
      if (filter.isExcluded(childRel, entry.info.kind === "directory")) continue;
      if (!options.includeConfig && runsHere(entry.name)) {
        withheld.push({ path: childRel, reason: "runs on this machine (--include-config brings it back)" });
        continue;
      }
      const localPath = posix.join(localDir, entry.name);
      let here: HostFileInfo | undefined;
      try {
        here = localInfo(await lstat(localPath));
      } catch {
        here = undefined;
      }
      if (here && here.kind !== entry.info.kind) {
        tally.conflicts.push(childRel);
        continue;
      }
      switch (entry.info.kind) {
        case "directory":
          if (!here) {
            await mkdir(localPath, { mode: entry.info.mode | 0o700 });
            tally.directoriesCreated++;
          }
          subdirs.push(childRel);
          break;
        case "symlink": {
          if (here) break;
          const target = await files.readlink(posix.join(hostDir, entry.name));
          const unsafe = linkEscapes(childRel, target);
          if (unsafe) {
            withheld.push({ path: childRel, reason: `a link ${unsafe} (${target})` });
            break;
          }
          await symlink(target, localPath);
          tally.symlinksWritten++;
          break;
        }
        case "file": {
          tally.filesTotal++;
          tally.filesChecked++;
          if (here && here.size === entry.info.size && here.mtime === entry.info.mtime) break;
          if (here && here.mtime > entry.info.mtime && !options.force) {
            tally.conflicts.push(childRel);
            break;
          }
          tally.bytesToCopy += entry.info.size;
          copies.push(
            limiter.run(async () => {
              checkAbort(signal);
              await files.download(posix.join(hostDir, entry.name), localPath, {
                mode: entry.info.mode,
                mtime: entry.info.mtime,
              });
              tally.filesCopied++;
              tally.bytesCopied += entry.info.size;
              tally.progress(childRel);
            }),
          );
          break;
        }
        case "other":
          tally.skipped.push(childRel);
          break;
      }
    }
    const settled = await Promise.allSettled(copies);
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
    if (failed) throw failed.reason;
    for (const d of subdirs) await syncDir(d);
  };
  await syncDir("");
  tally.progress(undefined, true);
  return {
    ...tally.snapshot(),
    directoriesCreated: tally.directoriesCreated,
    symlinksWritten: tally.symlinksWritten,
    conflicts: tally.conflicts,
    skipped: tally.skipped,
    withheld,
    createdRoot: false,
    ms: Date.now() - started,
  };
}

/** Names whose content this machine runs: devcontainer.json (initializeCommand), tasks, git hooks. */
function runsHere(name: string): boolean {
  return name === ".devcontainer" || name === ".vscode" || name.startsWith(".git");
}

/** Why a link at `rel` pointing at `target` must not be created here, or undefined when it stays inside. */
export function linkEscapes(rel: string, target: string): string | undefined {
  if (posix.isAbsolute(target)) return "to an absolute path";
  const resolved = posix.normalize(posix.join(posix.dirname(rel), target));
  if (resolved === ".." || resolved.startsWith("../")) return "out of the project";
  return undefined;
}
