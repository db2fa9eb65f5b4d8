import { createHash } from "node:crypto";
import {
  chmodSync,
  closeSync,
  createReadStream,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  rmSync,
  symlinkSync,
  writeSync,
  type Stats,
} from "node:fs";
import { open, readdir, rm, statfs } from "node:fs/promises";
import { join } from "node:path";
import { pipeline, type Readable, type Transform } from "node:stream";
import * as zlib from "node:zlib";
import type { ReadEntry } from "tar";
import { abortReason } from "../../core/abort";
import { silentLogger, type Logger } from "../../core/log";
import { ImageError } from "../../core/registry/imageError";
import { cleanArchivePath, ensureDirectories, resolveInRoot } from "./safePath";
import { readTarStream } from "./tarStream";

/** What unpacking one image may take at most, over all its layers. */
export interface ExtractLimits {
  /** Uncompressed tar bytes (headers included): a small gzip layer can inflate a thousandfold. */
  readonly maxBytes: number;
  /** Tar entries, whiteouts and skipped ones included: each costs an inode. */
  readonly maxEntries: number;
  /** Free space the unpacking must leave on the store's file system. */
  readonly reserveBytes: number;
}

/** Defaults: far above real development images (a few GiB, a few hundred thousand files). */
export const defaultExtractLimits: ExtractLimits = {
  maxBytes: 64 * 1024 ** 3,
  maxEntries: 4_000_000,
  reserveBytes: 1024 ** 3,
};

/**
 * What is left of an image's {@link ExtractLimits} while its layers are applied, one budget per
 * image. The byte allowance is also capped by the free space on the staging file system when
 * the budget is made, less the reserve, so a bomb fails before the disk is full.
 */
export class ExtractBudget {
  #bytes: number;
  #entries: number;
  readonly #bytesLimit: string;
  readonly #entriesLimit: number;

  private constructor(bytes: number, entries: number, bytesLimit: string) {
    this.#bytes = bytes;
    this.#entries = entries;
    this.#bytesLimit = bytesLimit;
    this.#entriesLimit = entries;
  }

  static async for(staging: string, limits: ExtractLimits = defaultExtractLimits): Promise<ExtractBudget> {
    const fs = await statfs(staging);
    const free = Math.max(0, Number(fs.bavail) * Number(fs.bsize) - limits.reserveBytes);
    if (free < limits.maxBytes)
      return new ExtractBudget(
        free,
        limits.maxEntries,
        `the ${formatSize(free)} free on the image store's disk (${formatSize(limits.reserveBytes)} kept free)`,
      );
    return new ExtractBudget(
      limits.maxBytes,
      limits.maxEntries,
      `the limit of ${formatSize(limits.maxBytes)}`,
    );
  }

  /** Counts uncompressed bytes of `layer`; throws ImageError `tooLarge` past the allowance. */
  spendBytes(n: number, layer: string): void {
    this.#bytes -= n;
    if (this.#bytes < 0)
      throw new ImageError(
        "tooLarge",
        `the image unpacks to more than ${this.#bytesLimit} (stopped in layer ${layer})`,
      );
  }

  /** Counts one tar entry; throws ImageError `tooLarge` past the allowance. */
  spendEntry(): void {
    if (--this.#entries < 0)
      throw new ImageError("tooLarge", `the image has more than ${this.#entriesLimit} entries (the limit)`);
  }
}

/** `1.5 GiB` style for messages. */
function formatSize(bytes: number): string {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} bytes` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** How a layer is applied. */
export interface ApplyLayerOptions {
  /** The image's remaining allowance; none: unlimited (tests, trusted callers). */
  readonly budget?: ExtractBudget;
  /** Apply the owners recorded in the tar. Needs root; defaults to whether we are root. */
  readonly preserveOwners?: boolean;
  readonly logger?: Logger;
  readonly signal?: AbortSignal;
}

/** What applying one layer did. */
export interface LayerStats {
  /** Entries written (files, directories, links). */
  entries: number;
  /** Whiteouts applied (`.wh.<name>` and opaque markers). */
  whiteouts: number;
  /** Entries skipped because Node cannot create them (devices, FIFOs) or tar metadata we ignore. */
  skipped: number;
}

const whiteoutPrefix = ".wh.";
const opaqueMarker = ".wh..wh..opq";

/**
 * Applies one uncompressed layer (a tar stream) on top of `root`, with OCI whiteouts: `.wh.<name>`
 * deletes `<name>` from lower layers, `.wh..wh..opq` hides everything lower layers put in its
 * directory. Nothing is ever written outside `root`: entry paths and hard-link targets that climb
 * out are refused (ImageError `unsafePath`), symlinks met on the way are resolved inside `root`,
 * and existing symlinks at an entry's own path are replaced, never followed. Symlink targets are
 * stored verbatim: they are only interpreted later, inside the workload's root.
 *
 * Not applied: extended attributes (file capabilities) and device nodes / FIFOs, which Node cannot
 * create; directory mtimes, which later entries would change again anyway.
 */
export async function applyLayer(
  root: string,
  tarStream: AsyncIterable<Uint8Array>,
  options: ApplyLayerOptions = {},
): Promise<LayerStats> {
  const applier = new LayerApplier(root, options);
  return applier.run(tarStream);
}

/** Options for applying a stored (possibly compressed) layer blob. */
export interface ApplyLayerBlobOptions extends ApplyLayerOptions {
  /** The layer's uncompressed digest from the image config; checked after the last byte. */
  readonly diffId?: string;
  /** Called with the number of (compressed) blob bytes read so far. */
  readonly onProgress?: (bytesRead: number) => void;
}

/**
 * Applies a layer blob file: sniffs gzip / zstd / plain tar by magic bytes (media types lie in
 * the wild), decompresses while streaming, and verifies the uncompressed digest (`diffId`).
 * Returns the stats and the diff id it computed.
 */
export async function applyLayerBlob(
  root: string,
  blobPath: string,
  options: ApplyLayerBlobOptions = {},
): Promise<LayerStats & { diffId: string }> {
  const head = Buffer.alloc(4);
  const fh = await open(blobPath, "r");
  try {
    await fh.read(head, 0, 4, 0);
  } finally {
    await fh.close();
  }
  let decompressor: Transform | undefined;
  if (head[0] === 0x1f && head[1] === 0x8b) {
    decompressor = zlib.createGunzip();
  } else if (head.readUInt32LE(0) === 0xfd2fb528) {
    const zstd = (zlib as { createZstdDecompress?: () => Transform }).createZstdDecompress;
    if (!zstd)
      throw new ImageError(
        "unsupported",
        `zstd-compressed layers need Node 22.15 or newer (this is ${process.version})`,
      );
    decompressor = zstd();
  }

  const layerName = blobPath.split("/").pop() ?? blobPath;
  let read = 0;
  const source = createReadStream(blobPath, { highWaterMark: 256 * 1024 });
  source.on("data", (chunk) => {
    read += chunk.length;
    options.onProgress?.(read);
  });
  const plain: Readable = decompressor ? pipeline(source, decompressor, () => {}) : source;
  const hash = createHash("sha256");
  async function* hashed(): AsyncGenerator<Uint8Array> {
    try {
      for await (const chunk of plain as AsyncIterable<Buffer>) {
        options.budget?.spendBytes(chunk.length, layerName);
        hash.update(chunk);
        yield chunk;
      }
    } catch (err) {
      if (err instanceof ImageError) throw err;
      throw new ImageError(
        "invalidImage",
        `layer ${layerName} cannot be decompressed: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  }
  try {
    const stats = await applyLayer(root, hashed(), options);
    const diffId = `sha256:${hash.digest("hex")}`;
    if (options.diffId !== undefined && options.diffId !== diffId) {
      throw new ImageError(
        "digestMismatch",
        `layer content is ${diffId}, but the image config says ${options.diffId}`,
      );
    }
    return { ...stats, diffId };
  } finally {
    source.destroy();
  }
}

/** A parent directory resolved inside root, and whether new entries in it inherit its group. */
interface ParentDirectory {
  readonly rel: string[];
  readonly setgid: boolean;
}

class LayerApplier {
  readonly #root: string;
  readonly #preserveOwners: boolean;
  readonly #logger: Logger;
  readonly #signal: AbortSignal | undefined;
  readonly #budget: ExtractBudget | undefined;
  /** Paths this layer wrote, with their ancestors: whiteouts only hide what lower layers made. */
  readonly #written = new Set<string>();
  readonly #stats: LayerStats = { entries: 0, whiteouts: 0, skipped: 0 };
  readonly #uid = process.getuid?.() ?? 0;
  readonly #gid = process.getgid?.() ?? 0;
  /** Archive parent path → its resolved, existing directory (see #parentDirectory). */
  readonly #dirCache = new Map<string, ParentDirectory>();

  constructor(root: string, options: ApplyLayerOptions) {
    this.#root = root;
    this.#preserveOwners = options.preserveOwners ?? process.getuid?.() === 0;
    this.#logger = options.logger ?? silentLogger;
    this.#signal = options.signal;
    this.#budget = options.budget;
  }

  async run(input: AsyncIterable<Uint8Array>): Promise<LayerStats> {
    await readTarStream(input, {
      entry: (entry) => this.#entry(entry),
      invalid: (text) => new ImageError("invalidImage", `layer is not a valid tar stream: ${text}`),
      logger: this.#logger,
      ...(this.#signal ? { signal: this.#signal } : {}),
    });
    return this.#stats;
  }

  async #entry(entry: ReadEntry): Promise<void> {
    if (this.#signal?.aborted) throw abortReason(this.#signal);
    this.#budget?.spendEntry();
    const components = cleanArchivePath(entry.path);
    const name = components.at(-1);
    if (name === undefined) {
      entry.resume(); // the root directory itself: its owner and mode are the store's
      return;
    }
    const parentComponents = components.slice(0, -1);
    if (name.startsWith(whiteoutPrefix)) {
      entry.resume();
      const parent =
        this.#dirCache.get(parentComponents.join("/"))?.rel ??
        (await resolveInRoot(this.#root, parentComponents));
      await this.#whiteout(parent, name);
      return;
    }
    const { rel: parent, setgid } = await this.#parentDirectory(parentComponents);
    const rel = [...parent, name];
    const target = join(this.#root, ...rel);
    switch (entry.type) {
      case "Directory":
      case "GNUDumpDir":
        entry.resume();
        this.#directory(target, entry, setgid);
        this.#dirCache.set(components.join("/"), { rel, setgid: (lstatSync(target).mode & 0o2000) !== 0 });
        break;
      case "File":
      case "OldFile":
      case "ContiguousFile":
        await this.#file(target, entry, setgid);
        break;
      case "SymbolicLink":
        entry.resume();
        this.#symlink(target, entry, setgid);
        break;
      case "Link":
        entry.resume();
        await this.#hardlink(target, entry);
        break;
      default:
        entry.resume();
        this.#stats.skipped++;
        this.#logger.debug(
          `layer entry ${entry.path} (${entry.type}) skipped: not supported by the dev host`,
        );
        return;
    }
    this.#stats.entries++;
    this.#markWritten(rel);
  }

  /**
   * Resolves an entry's parent directory inside root and makes it exist. Layers list thousands of
   * entries in a few directories, so resolved parents are remembered; any removal or replacement
   * of a directory or symlink forgets them all, as either can change where a path leads.
   */
  async #parentDirectory(components: readonly string[]): Promise<ParentDirectory> {
    const key = components.join("/");
    const cached = this.#dirCache.get(key);
    if (cached) return cached;
    const rel = await resolveInRoot(this.#root, components);
    const path = await ensureDirectories(this.#root, rel);
    const parent = { rel, setgid: (lstatSync(path).mode & 0o2000) !== 0 };
    this.#dirCache.set(key, parent);
    return parent;
  }

  #markWritten(rel: readonly string[]): void {
    for (let i = 1; i <= rel.length; i++) this.#written.add(rel.slice(0, i).join("/"));
  }

  // The writers below use synchronous calls for metadata: each is microseconds, and a layer has
  // thousands of entries, where a thread-pool round trip per call made extraction 3x slower.
  // Every create is exclusive (O_EXCL / EEXIST): whatever is in the way is removed, then the
  // create is retried, so an existing symlink is never followed.

  #directory(target: string, entry: ReadEntry, inSetgidDir: boolean): void {
    let existing = false;
    try {
      mkdirSync(target, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      existing = lstatSync(target).isDirectory();
      if (!existing) {
        this.#clear(target);
        mkdirSync(target, { mode: 0o700 });
      }
    }
    if (this.#needsChown(entry, inSetgidDir, existing)) lchownSync(target, entry.uid ?? 0, entry.gid ?? 0);
    chmodSync(target, this.#mode(entry, 0o755, true));
  }

  async #file(target: string, entry: ReadEntry, inSetgidDir: boolean): Promise<void> {
    const fd = this.#create(target, () => openSync(target, "wx", 0o600));
    let written = 0;
    try {
      for await (const chunk of entry as AsyncIterable<Buffer>) {
        for (let offset = 0; offset < chunk.length;) offset += writeSync(fd, chunk, offset);
        written += chunk.length;
      }
      if (written !== entry.size) {
        throw new ImageError(
          "invalidImage",
          `layer is truncated: ${entry.path} has ${written} of ${entry.size} bytes`,
        );
      }
      if (this.#needsChown(entry, inSetgidDir)) fchownSync(fd, entry.uid ?? 0, entry.gid ?? 0);
      // After chown, which clears set-id bits.
      fchmodSync(fd, this.#mode(entry, 0o644, false));
      if (entry.mtime) futimesSync(fd, entry.atime ?? entry.mtime, entry.mtime);
    } finally {
      closeSync(fd);
    }
  }

  #symlink(target: string, entry: ReadEntry, inSetgidDir: boolean): void {
    const linkpath = entry.linkpath;
    if (!linkpath) throw new ImageError("invalidImage", `symlink ${entry.path} has no target`);
    this.#create(target, () => symlinkSync(linkpath, target));
    if (this.#needsChown(entry, inSetgidDir)) lchownSync(target, entry.uid ?? 0, entry.gid ?? 0);
    if (entry.mtime) {
      try {
        lutimesSync(target, entry.atime ?? entry.mtime, entry.mtime);
      } catch {
        // not every filesystem keeps symlink times; nothing depends on them
      }
    }
  }

  async #hardlink(target: string, entry: ReadEntry): Promise<void> {
    const linkComponents = cleanArchivePath(entry.linkpath ?? "", "hard link target");
    const linkName = linkComponents.at(-1);
    if (linkName === undefined) throw new ImageError("invalidImage", `hard link ${entry.path} has no target`);
    const linkParent = await resolveInRoot(this.#root, linkComponents.slice(0, -1));
    const source = join(this.#root, ...linkParent, linkName);
    if (source === target) return;
    const stat = lstatOrUndefined(source);
    if (!stat)
      throw new ImageError(
        "invalidImage",
        `hard link ${entry.path} points at ${entry.linkpath ?? ""}, which the layer does not have`,
      );
    if (stat.isDirectory())
      throw new ImageError("invalidImage", `hard link ${entry.path} points at a directory`);
    // link(2) does not follow a symlink source on Linux: a link to a symlink stays inside root.
    this.#create(target, () => linkSync(source, target));
  }

  /** Runs an exclusive create; if something is in the way, removes it and tries once more. */
  #create<T>(target: string, make: () => T): T {
    try {
      return make();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      this.#clear(target);
      return make();
    }
  }

  /**
   * Whether owners must be set: a new entry already belongs to us, and to our group unless its
   * directory is set-group-ID (then it takes the directory's), so chown is only needed when the
   * tar says otherwise. An existing directory kept as is may have any owner: always set.
   */
  #needsChown(entry: ReadEntry, inSetgidDir: boolean, existing = false): boolean {
    if (!this.#preserveOwners) return false;
    return existing || inSetgidDir || (entry.uid ?? 0) !== this.#uid || (entry.gid ?? 0) !== this.#gid;
  }

  async #whiteout(parent: readonly string[], name: string): Promise<void> {
    this.#stats.whiteouts++;
    if (name === opaqueMarker) {
      await this.#hideLower(parent);
      return;
    }
    if (name.startsWith(`${whiteoutPrefix}${whiteoutPrefix}`)) {
      this.#stats.whiteouts--;
      this.#stats.skipped++; // other .wh..wh. names are AUFS bookkeeping, not whiteouts
      return;
    }
    const hidden = name.slice(whiteoutPrefix.length);
    if (hidden === "" || hidden === "." || hidden === "..") {
      throw new ImageError("unsafePath", `whiteout "${[...parent, name].join("/")}" names no file`);
    }
    const rel = [...parent, hidden];
    if (this.#written.has(rel.join("/"))) return; // whiteouts hide lower layers only
    this.#dirCache.clear();
    await rm(join(this.#root, ...rel), { force: true, recursive: true });
  }

  /** Removes everything under `dir` that this layer did not write (an opaque directory). */
  async #hideLower(dir: readonly string[]): Promise<void> {
    let names: string[];
    try {
      names = await readdir(join(this.#root, ...dir));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") return;
      throw err;
    }
    for (const child of names) {
      const rel = [...dir, child];
      const key = rel.join("/");
      if (!this.#written.has(key)) {
        this.#dirCache.clear();
        await rm(join(this.#root, ...rel), { force: true, recursive: true });
      } else if (lstatOrUndefined(join(this.#root, ...rel))?.isDirectory()) {
        await this.#hideLower(rel);
      }
    }
  }

  /** Removes whatever is at `target` so a new entry can take its place (never follows it). */
  #clear(target: string): void {
    const existing = lstatOrUndefined(target);
    if (!existing) return;
    if (existing.isDirectory() || existing.isSymbolicLink()) this.#dirCache.clear();
    rmSync(target, { force: true, recursive: existing.isDirectory() });
  }

  #mode(entry: ReadEntry, fallback: number, directory: boolean): number {
    const mode = entry.mode !== undefined ? entry.mode & 0o7777 : fallback;
    // Without root we must still be able to write into directories later layers fill.
    return directory && !this.#preserveOwners ? mode | 0o700 : mode;
  }
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw err;
  }
}
