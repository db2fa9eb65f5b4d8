import { createHash, randomUUID } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { mkdir, open, readdir, rename, rm, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as z from "zod";
import { abortReason, anySignal } from "../../core/abort";
import { messageOf } from "../../core/errors";
import { formatBytes } from "../../core/format";
import { silentLogger, type Logger } from "../../core/log";
import { OciImageFormat, OciImageProgressPhase } from "../../proto/gen/protect/control/v1/common_pb";
import { ImageError } from "../../core/registry/imageError";
import { receiveArchive, resolveArchive } from "./importArchive";
import { applyLayerBlob, defaultExtractLimits, ExtractBudget } from "./layerExtract";
import type { ExtractLimits } from "./layerExtract";
import {
  choosePlatform,
  parseImageConfig,
  parseManifest,
  type Descriptor,
  type ImageManifest,
  type ImageRuntimeConfig,
} from "./manifest";
import { ImageProgress, type ProgressSink } from "./progress";
import { isSha256Digest, parseReference, storedName } from "../../core/registry/reference";
import { RegistryClient, type RegistryAuth } from "../../core/registry/registryClient";

/**
 * An image in the store. `digest` is the image manifest's digest (`sha256:…`), the identity the
 * API uses (OciImageSpec.digest); `rootfsDir` is its unpacked root filesystem, which callers treat
 * as read-only (a workload that writes needs an overlay or a copy).
 */
export interface StoredImage {
  readonly digest: string;
  /** Fully qualified names (`docker.io/library/busybox:latest`); a name belongs to one image at a time. */
  readonly names: string[];
  /** What the store produced: always OCI_IMAGE_FORMAT_DIRECTORY on the dev host. */
  readonly format: OciImageFormat;
  readonly rootfsDir: string;
  /** Entrypoint/Cmd/Env/WorkingDir/User from the image config. */
  readonly config: ImageRuntimeConfig;
  /** The manifest and config exactly as received (OciImageMetadata). */
  readonly manifestJson: Uint8Array;
  readonly configJson: Uint8Array;
}

/** Options for `ImageStore.pull`. */
export interface PullOptions {
  readonly auth?: RegistryAuth;
  /** Download and unpack again even if the store has the image. */
  readonly overwriteCache?: boolean;
  /**
   * Ask the registry what the name points at now. Without it, a name the store already has is
   * served from the store with no network traffic (PullImageRequest.update).
   */
  readonly update?: boolean;
  readonly onProgress?: ProgressSink;
  readonly signal?: AbortSignal;
}

/** Options for `ImageStore.import`. */
export interface ImportOptions {
  /** Name to file the image under; defaults to the names the archive carries. */
  readonly name?: string;
  /** Which image of the archive to take, and a check that it is that one. */
  readonly digest?: string;
  readonly overwriteCache?: boolean;
  readonly onProgress?: ProgressSink;
  readonly signal?: AbortSignal;
}

const indexSchema = z.object({
  version: z.literal(1),
  images: z.array(
    z.object({
      digest: z.string(),
      names: z.array(z.string()),
      configDigest: z.string(),
      layers: z.array(z.string()),
      created: z.string(),
    }),
  ),
});
type IndexEntry = z.infer<typeof indexSchema>["images"][number];

interface Entry extends IndexEntry {
  manifestJson: Buffer;
  configJson: Buffer;
  config: ImageRuntimeConfig;
}

const maxConfigBytes = 8 * 1024 * 1024;
const downloadConcurrency = 3;

/**
 * The dev host's image store, on disk under the directory it is opened on (`<stateDir>/images`):
 *
 *   blobs/sha256/<hex>   content-addressed blobs: manifests, configs, layers as received
 *   rootfs/<hex>/        one unpacked root filesystem per image (hex of the manifest digest)
 *   index.json           names → manifest digests, written atomically after each change
 *   tmp/                 downloads, uploads and staging roots; emptied on open
 *
 * Pulls and imports build a root filesystem in tmp/ and rename it into place, then record it in
 * the index, so a crash leaves either the old state or the new one; `open` drops what is half
 * done. Blobs no image needs are removed after `remove`.
 */
export class ImageStore {
  readonly dir: string;
  readonly #logger: Logger;
  readonly #images = new Map<string, Entry>();
  /** Blobs an operation in flight relies on: garbage collection leaves them alone. */
  readonly #pinned = new Map<string, number>();
  #removalGuard: ((digest: string) => string | undefined) | undefined;

  readonly #limits: ExtractLimits;

  private constructor(dir: string, logger: Logger, limits: ExtractLimits) {
    this.dir = dir;
    this.#logger = logger;
    this.#limits = limits;
  }

  /**
   * Opens (creating if needed) the store in `dir`. Images whose blobs or root filesystem went
   * missing are dropped with a warning rather than failing the dev host.
   */
  static async open(
    dir: string,
    logger: Logger = silentLogger,
    options: { extractLimits?: ExtractLimits } = {},
  ): Promise<ImageStore> {
    const store = new ImageStore(dir, logger, options.extractLimits ?? defaultExtractLimits);
    await store.#load();
    return store;
  }

  /** The image with this manifest digest. */
  get(digest: string): StoredImage | undefined {
    const entry = this.#images.get(digest);
    return entry && this.#view(entry);
  }

  /**
   * The image a name refers to, normalised as Docker does (`busybox` →
   * `docker.io/library/busybox:latest`); `name@sha256:…` or a bare digest finds by digest.
   */
  findByName(name: string): StoredImage | undefined {
    if (isSha256Digest(name)) return this.get(name);
    let ref;
    try {
      ref = parseReference(name);
    } catch {
      return undefined;
    }
    if (ref.digest !== undefined) return this.get(ref.digest);
    const wanted = storedName(ref);
    for (const entry of this.#images.values()) {
      if (entry.names.includes(wanted)) return this.#view(entry);
    }
    return undefined;
  }

  /** Every image, oldest first. */
  list(): StoredImage[] {
    return [...this.#images.values()]
      .sort((a, b) => a.created.localeCompare(b.created))
      .map((e) => this.#view(e));
  }

  /**
   * Lets the owner of running workloads veto removals: `guard(digest)` returns why the image is
   * still needed (e.g. "workload web-1 runs from it"), or undefined to allow it.
   */
  setRemovalGuard(guard: (digest: string) => string | undefined): void {
    this.#removalGuard = guard;
  }

  /**
   * Forgets an image and deletes its root filesystem; blobs no other image shares follow in the
   * background. Returns false when there is no such image; throws ImageError `inUse` when the
   * removal guard says a workload still needs it.
   */
  remove(digest: string): boolean {
    const entry = this.#images.get(digest);
    if (!entry) return false;
    const busy = this.#removalGuard?.(digest);
    if (busy !== undefined)
      throw new ImageError("inUse", `image ${entry.names[0] ?? digest} is in use: ${busy}`);
    this.#images.delete(digest);
    this.#persist();
    const rootfs = this.#rootfsPath(digest);
    const trash = join(this.dir, "tmp", `trash-${randomUUID()}`);
    try {
      renameSync(rootfs, trash);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    this.#logger.info(`removed image ${digest} (${entry.names.join(", ") || "no names"})`);
    void this.#discard(trash); // background: a large tree takes a while; open() sweeps leftovers
    void this.#collectGarbage(); // background: errors are logged, the next run retries
    return true;
  }

  /**
   * Pulls `reference` from its registry over the distribution API: resolves the tag (a manifest
   * list picks linux/<this arch>), downloads config and layers (three at a time, each verified
   * against its digest while streaming), applies the layers in order and files the image under
   * its manifest digest. Progress goes to `onProgress` as OciImageProgress snapshots:
   * STARTED → RESOLVING → RESOLVED → CONFIG_DOWNLOAD → LAYER_DOWNLOAD (per layer DOWNLOADING with
   * bytes, DOWNLOADED, EXTRACTING, EXTRACTED) → ASSEMBLE → COMPLETE. Blobs already in the store are
   * not downloaded again; an image already in the store is not unpacked again.
   */
  async pull(reference: string, options: PullOptions = {}): Promise<StoredImage> {
    const progress = new ImageProgress(options.onProgress);
    const ref = parseReference(reference);
    const name = storedName(ref);
    progress.phase(OciImageProgressPhase.STARTED, { kind: "spinner", message: `pulling ${name}` });

    if (!options.update && !options.overwriteCache) {
      const cached = ref.digest !== undefined ? this.get(ref.digest) : this.findByName(name);
      if (cached) {
        this.#logger.debug(`pull ${name}: served from the store (${cached.digest})`);
        return this.#finishCached(cached.digest, name, progress);
      }
    }

    progress.phase(OciImageProgressPhase.RESOLVING, { kind: "spinner", message: `resolving ${name}` });
    const client = new RegistryClient(ref.domain, ref.path, {
      ...(options.auth ? { auth: options.auth } : {}),
      logger: this.#logger,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    let fetched = await client.getManifest(ref.digest ?? ref.tag!);
    let parsed = parseManifest(fetched.bytes, fetched.contentType);
    if (parsed.kind === "index") {
      const chosen = choosePlatform(parsed.index);
      fetched = await client.getManifest(chosen.digest);
      parsed = parseManifest(fetched.bytes, fetched.contentType ?? chosen.mediaType);
      if (parsed.kind !== "image")
        throw new ImageError("invalidImage", `${name}: a manifest list points at another list`);
    }
    const digest = fetched.digest;
    const manifest = parsed.manifest;
    checkLayerTypes(manifest, name);
    progress.phase(OciImageProgressPhase.RESOLVED, {
      kind: "completed",
      message: digest,
      total: 0,
      isBytes: false,
    });

    if (this.#images.has(digest) && !options.overwriteCache)
      return this.#finishCached(digest, name, progress);

    const blobs = [digest, manifest.config.digest, ...manifest.layers.map((l) => l.digest)];
    this.#pin(blobs);
    const staging = join(this.dir, "tmp", `rootfs-${randomUUID()}`);
    const controller = new AbortController();
    const signal = anySignal(options.signal, controller.signal);
    try {
      progress.phase(OciImageProgressPhase.CONFIG_DOWNLOAD, {
        kind: "spinner",
        message: "downloading config",
      });
      if (manifest.config.size > maxConfigBytes)
        throw new ImageError("invalidImage", `${name}: the config is ${manifest.config.size} bytes`);
      await this.#download(client, manifest.config, { overwrite: options.overwriteCache === true, signal });
      const configJson = readFileSync(this.#blobPath(manifest.config.digest));
      const { file: configFile } = parseImageConfig(configJson);
      checkDiffIds(manifest, configFile.rootfs.diff_ids, name);
      await this.#putBlob(digest, fetched.bytes);

      progress.setLayers(manifest.layers.map((l) => ({ id: l.digest, size: l.size })));
      progress.phase(OciImageProgressPhase.LAYER_DOWNLOAD);
      const limit = semaphore(downloadConcurrency);
      const downloads = manifest.layers.map((layer) =>
        limit(async () => {
          const cached = await this.#download(client, layer, {
            overwrite: options.overwriteCache === true,
            signal,
            onBytes: (n) => progress.downloading(layer.digest, n),
          });
          progress.downloaded(layer.digest, cached);
        }),
      );
      // Awaited in order below; a failure aborts the rest, so no rejection goes unobserved.
      for (const d of downloads) void d.catch(() => controller.abort(new Error("another layer failed")));

      await mkdir(staging, { mode: 0o755 });
      const budget = await ExtractBudget.for(staging, this.#limits);
      for (const [i, layer] of manifest.layers.entries()) {
        await downloads[i];
        progress.extracting(layer.digest, 0);
        await applyLayerBlob(staging, this.#blobPath(layer.digest), {
          diffId: configFile.rootfs.diff_ids[i]!,
          onProgress: (n) => progress.extracting(layer.digest, n),
          logger: this.#logger,
          signal,
          budget,
        });
        progress.extracted(layer.digest);
      }

      progress.phase(OciImageProgressPhase.ASSEMBLE, {
        kind: "spinner",
        message: "assembling root filesystem",
      });
      const image = this.#commit({
        digest,
        staging,
        manifestJson: fetched.bytes,
        configJson,
        configDigest: manifest.config.digest,
        layers: manifest.layers.map((l) => l.digest),
        names: [name],
        overwrite: options.overwriteCache === true,
      });
      progress.phase(OciImageProgressPhase.COMPLETE, {
        kind: "completed",
        message: `pulled ${name}`,
        total: totalSize(manifest),
        isBytes: true,
      });
      this.#logger.info(`pulled ${name} as ${digest}`);
      return image;
    } catch (err) {
      controller.abort(err);
      throw err;
    } finally {
      this.#unpin(blobs);
      await rm(staging, { recursive: true, force: true });
    }
  }

  /**
   * Imports an uploaded tarball — an OCI image layout or a `docker save` archive — streamed in
   * as chunks. The bytes are received (and hashed) first, then the image is resolved inside the
   * archive (see resolveArchive), its blobs move into the store and its layers are applied. Progress
   * as for pull: STARTED, RESOLVING while receiving, RESOLVED, then ASSEMBLE with per-layer
   * EXTRACTING/EXTRACTED, COMPLETE.
   */
  async import(chunks: AsyncIterable<Uint8Array>, options: ImportOptions = {}): Promise<StoredImage> {
    const progress = new ImageProgress(options.onProgress);
    let name: string | undefined;
    if (options.name !== undefined && options.name !== "") {
      name = storedName(parseReference(options.name));
    }
    if (options.digest !== undefined && options.digest !== "" && !isSha256Digest(options.digest)) {
      throw new ImageError("invalidReference", `"${options.digest}" is not a sha256 digest`);
    }
    const digestOption = options.digest || undefined;
    progress.phase(OciImageProgressPhase.STARTED, {
      kind: "spinner",
      message: `importing${name ? ` ${name}` : ""}`,
    });
    progress.phase(OciImageProgressPhase.RESOLVING, { kind: "spinner", message: "receiving archive" });

    const uploadDir = join(this.dir, "tmp", `upload-${randomUUID()}`);
    const staging = join(this.dir, "tmp", `rootfs-${randomUUID()}`);
    let pinned: string[] = [];
    try {
      const archive = await receiveArchive(chunks, uploadDir, {
        onBytes: (n) => progress.indicate({ kind: "spinner", message: `received ${formatBytes(n)}` }),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      const image = await resolveArchive(archive, {
        ...(name !== undefined ? { name } : {}),
        ...(digestOption !== undefined ? { digest: digestOption } : {}),
      });
      const digest = image.manifestDigest;
      const names = [...image.names];
      checkLayerTypes(image.manifest, names[0] ?? digest);
      progress.phase(OciImageProgressPhase.RESOLVED, {
        kind: "completed",
        message: digest,
        total: archive.bytes,
        isBytes: true,
      });
      if (this.#images.has(digest) && !options.overwriteCache)
        return this.#finishCached(digest, names, progress);

      const { file: configFile } = parseImageConfig(image.configBytes);
      checkDiffIds(image.manifest, configFile.rootfs.diff_ids, names[0] ?? digest);
      pinned = [digest, image.configDigest, ...image.layers.map((l) => l.digest)];
      this.#pin(pinned);
      await this.#putBlob(digest, image.manifestBytes);
      await this.#putBlob(image.configDigest, image.configBytes);
      for (const layer of image.layers) {
        const target = this.#blobPath(layer.digest);
        // Two layers may share one received file (docker save links duplicates): move once.
        if (existsSync(target) && !options.overwriteCache) continue;
        await rename(layer.file.path, target).catch(async (err: NodeJS.ErrnoException) => {
          if (err.code !== "ENOENT" || !existsSync(target)) throw err;
        });
      }

      progress.setLayers(image.layers.map((l) => ({ id: l.digest, size: l.size })));
      for (const layer of image.layers) progress.downloaded(layer.digest, true);
      progress.phase(OciImageProgressPhase.ASSEMBLE, { kind: "spinner", message: "extracting layers" });
      await mkdir(staging, { mode: 0o755 });
      const budget = await ExtractBudget.for(staging, this.#limits);
      for (const [i, layer] of image.layers.entries()) {
        progress.extracting(layer.digest, 0);
        await applyLayerBlob(staging, this.#blobPath(layer.digest), {
          diffId: configFile.rootfs.diff_ids[i]!,
          onProgress: (n) => progress.extracting(layer.digest, n),
          logger: this.#logger,
          budget,
          ...(options.signal ? { signal: options.signal } : {}),
        });
        progress.extracted(layer.digest);
      }
      const stored = this.#commit({
        digest,
        staging,
        manifestJson: image.manifestBytes,
        configJson: image.configBytes,
        configDigest: image.configDigest,
        layers: image.layers.map((l) => l.digest),
        names,
        overwrite: options.overwriteCache === true,
      });
      progress.phase(OciImageProgressPhase.COMPLETE, {
        kind: "completed",
        message: `imported ${names[0] ?? digest}`,
        total: archive.bytes,
        isBytes: true,
      });
      this.#logger.info(`imported ${image.kind} archive as ${digest} (${names.join(", ") || "no names"})`);
      return stored;
    } finally {
      this.#unpin(pinned);
      await rm(uploadDir, { recursive: true, force: true });
      await rm(staging, { recursive: true, force: true });
    }
  }

  #finishCached(digest: string, names: string | readonly string[], progress: ImageProgress): StoredImage {
    const entry = this.#images.get(digest);
    if (!entry) throw new ImageError("notFound", `image ${digest} vanished from the store`);
    for (const name of typeof names === "string" ? [names] : names) this.#assignName(name, digest);
    this.#persist();
    progress.phase(OciImageProgressPhase.COMPLETE, {
      kind: "completed",
      message: "already present",
      total: 0,
      isBytes: false,
    });
    return this.#view(entry);
  }

  #commit(args: {
    digest: string;
    staging: string;
    manifestJson: Buffer;
    configJson: Buffer;
    configDigest: string;
    layers: string[];
    names: readonly string[];
    overwrite: boolean;
  }): StoredImage {
    const { digest } = args;
    // A concurrent pull of the same image may have finished first: keep its tree. The check and
    // the swap are synchronous (renames within one directory tree are quick), so two commits of
    // one image cannot interleave — with an await between them, the second found the first's
    // tree on disk but not yet in the index, and replaced it.
    if (!this.#images.has(digest) || args.overwrite) {
      const target = this.#rootfsPath(digest);
      if (existsSync(target)) {
        const trash = join(this.dir, "tmp", `trash-${randomUUID()}`);
        renameSync(target, trash);
        void this.#discard(trash); // background; open() sweeps leftovers
      }
      renameSync(args.staging, target);
      const previous = this.#images.get(digest);
      this.#images.set(digest, {
        digest,
        names: previous?.names ?? [],
        configDigest: args.configDigest,
        layers: args.layers,
        created: previous?.created ?? new Date().toISOString(),
        manifestJson: args.manifestJson,
        configJson: args.configJson,
        config: parseImageConfig(args.configJson).runtime,
      });
    }
    for (const name of args.names) this.#assignName(name, digest);
    this.#persist();
    return this.#view(this.#images.get(digest)!);
  }

  /** Gives `name` to `digest`, taking it from any other image (as a Docker tag moves). */
  #assignName(name: string, digest: string): void {
    for (const entry of this.#images.values()) {
      if (entry.digest !== digest && entry.names.includes(name))
        entry.names = entry.names.filter((n) => n !== name);
    }
    const entry = this.#images.get(digest);
    if (entry && !entry.names.includes(name)) entry.names = [...entry.names, name];
  }

  /**
   * Downloads a blob into the store unless present, hashing while streaming. Returns true when
   * it was already there.
   */
  async #download(
    client: RegistryClient,
    descriptor: Descriptor,
    options: { overwrite: boolean; signal: AbortSignal; onBytes?: (n: number) => void },
  ): Promise<boolean> {
    const target = this.#blobPath(descriptor.digest);
    if (!options.overwrite && existsSync(target)) {
      options.onBytes?.(descriptor.size);
      return true;
    }
    if (!descriptor.digest.startsWith("sha256:")) {
      throw new ImageError("unsupported", `blob ${descriptor.digest}: only sha256 digests are supported`);
    }
    const blob = await client.openBlob(descriptor.digest);
    const temp = join(this.dir, "tmp", `blob-${randomUUID()}`);
    const hash = createHash("sha256");
    const fh = await open(temp, "wx", 0o600);
    let received = 0;
    try {
      for await (const chunk of blob.body) {
        if (options.signal.aborted) throw abortReason(options.signal);
        received += chunk.length;
        if (received > descriptor.size) {
          throw new ImageError(
            "digestMismatch",
            `blob ${descriptor.digest} is larger than the ${descriptor.size} bytes its descriptor says`,
          );
        }
        hash.update(chunk);
        await fh.write(chunk);
        options.onBytes?.(received);
      }
      await fh.close();
      const actual = `sha256:${hash.digest("hex")}`;
      if (actual !== descriptor.digest) {
        throw new ImageError(
          "digestMismatch",
          `blob ${descriptor.digest} arrived as ${actual} (${received} of ${descriptor.size} bytes)`,
        );
      }
      await rename(temp, target);
      return false;
    } catch (err) {
      await fh.close().catch(() => undefined);
      await unlink(temp).catch(() => undefined);
      const body = blob.body as { destroy?: () => void };
      body.destroy?.();
      throw err;
    }
  }

  async #putBlob(digest: string, bytes: Buffer): Promise<void> {
    const target = this.#blobPath(digest);
    if (existsSync(target)) return;
    const temp = join(this.dir, "tmp", `blob-${randomUUID()}`);
    await writeFile(temp, bytes, { mode: 0o600 });
    await rename(temp, target);
  }

  #pin(digests: readonly string[]): void {
    for (const d of digests) this.#pinned.set(d, (this.#pinned.get(d) ?? 0) + 1);
  }

  #unpin(digests: readonly string[]): void {
    for (const d of digests) {
      const n = (this.#pinned.get(d) ?? 1) - 1;
      if (n <= 0) this.#pinned.delete(d);
      else this.#pinned.set(d, n);
    }
  }

  /** Deletes blobs no image refers to and no operation in flight holds. */
  async #collectGarbage(): Promise<void> {
    try {
      const dir = join(this.dir, "blobs", "sha256");
      let freed = 0;
      for (const hex of await readdir(dir)) {
        // Decided and deleted synchronously, per blob: a pull may pin a blob between two awaits.
        if (this.#isReferenced(`sha256:${hex}`)) continue;
        const path = join(dir, hex);
        try {
          freed += statSync(path).size;
          rmSync(path, { force: true });
        } catch {
          // gone already
        }
      }
      if (freed > 0) this.#logger.debug(`image store: freed ${formatBytes(freed)} of unused blobs`);
    } catch (err) {
      this.#logger.warn(`image store: garbage collection failed: ${messageOf(err)}`);
    }
  }

  #isReferenced(digest: string): boolean {
    if (this.#pinned.has(digest)) return true;
    for (const e of this.#images.values()) {
      if (e.digest === digest || e.configDigest === digest || e.layers.includes(digest)) return true;
    }
    return false;
  }

  async #discard(path: string): Promise<void> {
    try {
      await rm(path, { recursive: true, force: true });
    } catch (err) {
      this.#logger.warn(`image store: could not delete ${path}: ${messageOf(err)}`);
    }
  }

  async #load(): Promise<void> {
    for (const sub of ["blobs/sha256", "rootfs", "tmp"])
      await mkdir(join(this.dir, sub), { recursive: true, mode: 0o700 });
    // Leftovers of operations a crash interrupted.
    for (const name of await readdir(join(this.dir, "tmp")))
      await rm(join(this.dir, "tmp", name), { recursive: true, force: true });

    const indexPath = join(this.dir, "index.json");
    let entries: IndexEntry[] = [];
    if (existsSync(indexPath)) {
      try {
        entries = indexSchema.parse(JSON.parse(readFileSync(indexPath, "utf8"))).images;
      } catch (err) {
        const aside = `${indexPath}.corrupt-${Date.now()}`;
        renameSync(indexPath, aside);
        this.#logger.error(
          `image store: ${indexPath} is unreadable (${messageOf(err)}); moved it to ${aside} and starting empty`,
        );
      }
    }
    let dropped = false;
    for (const e of entries) {
      try {
        if (!existsSync(this.#rootfsPath(e.digest))) throw new Error("its root filesystem is missing");
        const manifestJson = readFileSync(this.#blobPath(e.digest));
        const configJson = readFileSync(this.#blobPath(e.configDigest));
        this.#images.set(e.digest, {
          ...e,
          manifestJson,
          configJson,
          config: parseImageConfig(configJson).runtime,
        });
      } catch (err) {
        dropped = true;
        this.#logger.warn(`image store: dropping ${e.digest} (${e.names.join(", ")}): ${messageOf(err)}`);
      }
    }
    for (const hex of readdirSync(join(this.dir, "rootfs"))) {
      if (!this.#images.has(`sha256:${hex}`)) {
        this.#logger.debug(`image store: removing unindexed root filesystem ${hex}`);
        rmSync(join(this.dir, "rootfs", hex), { recursive: true, force: true });
      }
    }
    if (dropped) this.#persist();
    this.#logger.debug(`image store at ${this.dir}: ${this.#images.size} images`);
    void this.#collectGarbage(); // background: reclaims blobs of interrupted or dropped work
  }

  /** Writes index.json atomically (temp file + rename); synchronous so `remove` can be. */
  #persist(): void {
    const index = {
      version: 1 as const,
      images: [...this.#images.values()].map(({ digest, names, configDigest, layers, created }) => ({
        digest,
        names,
        configDigest,
        layers,
        created,
      })),
    };
    const path = join(this.dir, "index.json");
    const temp = `${path}.${process.pid}.tmp`;
    mkdirSync(this.dir, { recursive: true });
    writeFileSync(temp, `${JSON.stringify(index, null, 2)}\n`, { mode: 0o600 });
    renameSync(temp, path);
  }

  #view(entry: Entry): StoredImage {
    return {
      digest: entry.digest,
      names: [...entry.names],
      format: OciImageFormat.DIRECTORY,
      rootfsDir: this.#rootfsPath(entry.digest),
      config: entry.config,
      manifestJson: entry.manifestJson,
      configJson: entry.configJson,
    };
  }

  #blobPath(digest: string): string {
    if (!isSha256Digest(digest)) throw new ImageError("invalidImage", `"${digest}" is not a sha256 digest`);
    return join(this.dir, "blobs", "sha256", digest.slice("sha256:".length));
  }

  #rootfsPath(digest: string): string {
    if (!isSha256Digest(digest)) throw new ImageError("invalidImage", `"${digest}" is not a sha256 digest`);
    return join(this.dir, "rootfs", digest.slice("sha256:".length));
  }
}

/** Refuses artifacts that are not container images (Helm charts, WASM, signatures). */
function checkLayerTypes(manifest: ImageManifest, name: string): void {
  for (const layer of manifest.layers) {
    const t = layer.mediaType;
    if (!t.includes("tar") && !t.includes("rootfs.diff")) {
      throw new ImageError("unsupported", `${name} has a layer of type ${t}: not a container image`);
    }
  }
}

function checkDiffIds(manifest: ImageManifest, diffIds: readonly string[], name: string): void {
  if (diffIds.length !== manifest.layers.length) {
    throw new ImageError(
      "invalidImage",
      `${name}: the manifest has ${manifest.layers.length} layers but the config lists ${diffIds.length}`,
    );
  }
}

function totalSize(manifest: ImageManifest): number {
  return manifest.layers.reduce((sum, l) => sum + l.size, 0);
}

/** At most `n` of the returned function's tasks run at once. */
function semaphore(n: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (active >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await task();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}
