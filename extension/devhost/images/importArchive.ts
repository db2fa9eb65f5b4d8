import { createHash, randomUUID } from "node:crypto";
import { mkdir, open, readFile } from "node:fs/promises";
import { join, posix } from "node:path";
import type { ReadEntry } from "tar";
import * as z from "zod";
import { ImageError } from "../../core/registry/imageError";
import {
  choosePlatform,
  imageIndexSchema,
  parseManifest,
  type Descriptor,
  type ImageManifest,
} from "./manifest";
import { mediaTypes } from "../../core/registry/mediaTypes";
import { normalizeName, parseReference } from "../../core/registry/reference";
import { cleanArchivePath } from "./safePath";
import { readTarStream } from "./tarStream";

/** A regular file received from an uploaded archive, stored flat under the staging directory. */
export interface ReceivedFile {
  /** Where the bytes were written (a flat name: archive paths never become host paths). */
  readonly path: string;
  readonly size: number;
  /** `sha256:<hex>` of the content, computed while it streamed in. */
  readonly digest: string;
}

/** Everything an uploaded tarball held, indexed by its cleaned archive path. */
export interface ReceivedArchive {
  readonly files: ReadonlyMap<string, ReceivedFile>;
  /** Symlinks and hard links: archive path → cleaned archive path of the target. */
  readonly links: ReadonlyMap<string, string>;
  readonly bytes: number;
}

/**
 * Streams an uploaded tarball into `dir`: each regular file goes to a fresh flat name and is
 * hashed on the way, so no archive path ever names a host path and blob digests are known without
 * a second read. Directories are implied; devices and the like are ignored.
 */
export async function receiveArchive(
  chunks: AsyncIterable<Uint8Array>,
  dir: string,
  options: { onBytes?: (received: number) => void; signal?: AbortSignal } = {},
): Promise<ReceivedArchive> {
  await mkdir(dir, { recursive: true });
  const files = new Map<string, ReceivedFile>();
  const links = new Map<string, string>();
  const handle = async (entry: ReadEntry): Promise<void> => {
    const components = cleanArchivePath(entry.path);
    const key = components.join("/");
    switch (entry.type) {
      case "File":
      case "OldFile":
      case "ContiguousFile": {
        const path = join(dir, randomUUID());
        const hash = createHash("sha256");
        const fh = await open(path, "wx", 0o600);
        let size = 0;
        try {
          for await (const chunk of entry as AsyncIterable<Buffer>) {
            hash.update(chunk);
            await fh.write(chunk);
            size += chunk.length;
          }
        } finally {
          await fh.close();
        }
        if (size !== entry.size)
          throw new ImageError("invalidArchive", `the archive is truncated inside ${entry.path}`);
        files.set(key, { path, size, digest: `sha256:${hash.digest("hex")}` });
        return;
      }
      case "SymbolicLink": {
        entry.resume();
        const target = entry.linkpath ?? "";
        // Relative to the link's directory; an absolute target means the archive root.
        const joined = target.startsWith("/")
          ? target
          : posix.join(components.slice(0, -1).join("/"), target);
        links.set(key, cleanArchivePath(joined, "link target").join("/"));
        return;
      }
      case "Link":
        entry.resume();
        links.set(key, cleanArchivePath(entry.linkpath ?? "", "link target").join("/"));
        return;
      default:
        entry.resume();
    }
  };

  const bytes = await readTarStream(chunks, {
    async entry(entry) {
      try {
        await handle(entry);
      } catch (err) {
        throw ImageError.is(err, "unsafePath") ? new ImageError("invalidArchive", err.message) : err;
      }
    },
    invalid: (text) => new ImageError("invalidArchive", `the upload is not a valid tar archive: ${text}`),
    ...(options.onBytes ? { onBytes: options.onBytes } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  if (bytes === 0) throw new ImageError("invalidArchive", "the upload was empty");
  return { files, links, bytes };
}

/** One layer of an image found in an archive. */
export interface ArchiveLayer {
  readonly digest: string;
  readonly size: number;
  readonly mediaType: string;
  readonly file: ReceivedFile;
}

/** The image an archive holds, ready for the store. */
export interface ArchiveImage {
  readonly kind: "oci-layout" | "docker-save";
  readonly manifestBytes: Buffer;
  readonly manifestDigest: string;
  readonly manifest: ImageManifest;
  readonly configBytes: Buffer;
  readonly configDigest: string;
  readonly layers: readonly ArchiveLayer[];
  /** Names the archive gives the image, normalised (`docker.io/test/busybox:1`). */
  readonly names: readonly string[];
}

const dockerSaveManifestSchema = z.array(
  z.object({
    Config: z.string(),
    RepoTags: z.array(z.string()).nullish(),
    Layers: z.array(z.string()),
  }),
);

const containerdNameAnnotation = "io.containerd.image.name";
const refNameAnnotation = "org.opencontainers.image.ref.name";

/**
 * Finds the image in a received archive: an OCI image layout (`index.json` + `blobs/`), or a
 * `docker save` tarball (`manifest.json` + config + layer tars; Docker 25+ writes both, and the
 * OCI layout wins). With several images, `name` (or `digest`) picks one; an index entry that is
 * itself a multi-platform index resolves to this platform. Every blob is checked against its
 * digest. For `docker save` archives, which carry no distribution manifest, a Docker v2 schema 2
 * manifest is written from manifest.json; `digest` may then name it or the config (Docker's
 * image ID).
 */
export async function resolveArchive(
  archive: ReceivedArchive,
  options: { name?: string; digest?: string } = {},
): Promise<ArchiveImage> {
  const lookup = (path: string): ReceivedFile | undefined => {
    let key = cleanArchivePath(path).join("/");
    for (let hops = 0; hops < 16; hops++) {
      const file = archive.files.get(key);
      if (file) return file;
      const next = archive.links.get(key);
      if (next === undefined) return undefined;
      key = next;
    }
    return undefined;
  };
  if (lookup("index.json")) return resolveOciLayout(lookup, options);
  if (lookup("manifest.json")) return resolveDockerSave(lookup, options);
  throw new ImageError(
    "invalidArchive",
    "the archive is neither an OCI image layout (index.json) nor a docker save tarball (manifest.json)",
  );
}

type Lookup = (path: string) => ReceivedFile | undefined;

/** Index, manifest and docker-save manifest.json: what a registry would send is at most 4 MiB. */
const maxManifestBytes = 4 * 1024 * 1024;
/** An image config (Env, history, labels). */
const maxConfigBytes = 8 * 1024 * 1024;

/**
 * Reads an archive member that is parsed in memory, refusing one past `limit` before reading it
 * (the upload's metadata files are the uploader's to make as large as they like).
 */
async function readSmall(file: ReceivedFile, what: string, limit: number): Promise<Buffer> {
  if (file.size > limit)
    throw new ImageError(
      "invalidArchive",
      `${what} in the archive is ${file.size} bytes; the limit is ${limit}`,
    );
  const bytes = await readFile(file.path);
  // The file is ours (a flat name in the upload folder), but a length check costs nothing.
  if (bytes.length > limit)
    throw new ImageError("invalidArchive", `${what} in the archive is over the limit of ${limit} bytes`);
  return bytes;
}

async function readJson(file: ReceivedFile, what: string): Promise<{ bytes: Buffer; json: unknown }> {
  const bytes = await readSmall(file, what, maxManifestBytes);
  try {
    return { bytes, json: JSON.parse(bytes.toString("utf8")) };
  } catch {
    throw new ImageError("invalidArchive", `${what} in the archive is not JSON`);
  }
}

function blobFile(lookup: Lookup, digest: string, what: string): ReceivedFile {
  const [algorithm, hex] = digest.split(":");
  const file = lookup(`blobs/${algorithm}/${hex}`);
  if (!file) throw new ImageError("invalidArchive", `the archive lacks ${what} ${digest}`);
  if (algorithm !== "sha256")
    throw new ImageError("unsupported", `${what} ${digest}: only sha256 digests are supported`);
  if (file.digest !== digest)
    throw new ImageError("digestMismatch", `${what} in the archive hashes to ${file.digest}, not ${digest}`);
  return file;
}

async function resolveOciLayout(
  lookup: Lookup,
  options: { name?: string; digest?: string },
): Promise<ArchiveImage> {
  const { json } = await readJson(lookup("index.json")!, "index.json");
  const parsed = imageIndexSchema.safeParse(json);
  if (!parsed.success)
    throw new ImageError(
      "invalidArchive",
      `index.json is not an OCI image index: ${z.prettifyError(parsed.error)}`,
    );
  const entries = parsed.data.manifests;

  let chosen: Descriptor | undefined;
  if (options.digest !== undefined) {
    chosen = entries.find((d) => d.digest === options.digest);
    if (!chosen && lookup(`blobs/sha256/${options.digest.slice("sha256:".length)}`)) {
      chosen = { mediaType: "", digest: options.digest, size: 0 };
    }
    if (!chosen) throw new ImageError("notFound", `the archive has no manifest ${options.digest}`);
  } else if (entries.length === 1) {
    chosen = entries[0];
  } else if (options.name !== undefined) {
    const wanted = options.name;
    const wantedTag = parseReference(wanted).tag;
    chosen =
      entries.find((d) => normalizeAnnotation(d.annotations?.[containerdNameAnnotation]) === wanted) ??
      entries.find((d) => normalizeAnnotation(d.annotations?.[refNameAnnotation]) === wanted) ??
      entries.find((d) => d.annotations?.[refNameAnnotation] === wantedTag);
    if (!chosen)
      throw new ImageError(
        "notFound",
        `the archive has no image named ${wanted} (it has ${describeEntries(entries)})`,
      );
  }
  if (!chosen) {
    throw new ImageError(
      "invalidArchive",
      `the archive holds ${entries.length} images (${describeEntries(entries)}); say which one by name`,
    );
  }

  let manifestFile = blobFile(lookup, chosen.digest, "manifest");
  let manifestBytes = await readSmall(manifestFile, "the manifest", maxManifestBytes);
  let manifest = parseManifest(manifestBytes, chosen.mediaType || undefined);
  if (manifest.kind === "index") {
    const platformEntry = choosePlatform(manifest.index);
    manifestFile = blobFile(lookup, platformEntry.digest, "manifest");
    manifestBytes = await readSmall(manifestFile, "the manifest", maxManifestBytes);
    manifest = parseManifest(manifestBytes, platformEntry.mediaType);
    if (manifest.kind !== "image")
      throw new ImageError("invalidImage", "an image index points at another index");
  }
  const image = manifest.manifest;
  const configFile = blobFile(lookup, image.config.digest, "config");
  const layers = image.layers.map((l) => ({
    digest: l.digest,
    size: l.size,
    mediaType: l.mediaType,
    file: blobFile(lookup, l.digest, "layer"),
  }));

  const names = new Set<string>();
  if (options.name !== undefined) names.add(options.name);
  else {
    for (const annotation of [
      chosen.annotations?.[containerdNameAnnotation],
      chosen.annotations?.[refNameAnnotation],
    ]) {
      // A bare tag in ref.name ("1") is not a name; a full reference is.
      const name = annotation?.includes("/") ? normalizeAnnotation(annotation) : undefined;
      if (name) names.add(name);
    }
  }
  return {
    kind: "oci-layout",
    manifestBytes,
    manifestDigest: manifestFile.digest,
    manifest: image,
    configBytes: await readSmall(configFile, "the image config", maxConfigBytes),
    configDigest: configFile.digest,
    layers,
    names: [...names],
  };
}

async function resolveDockerSave(
  lookup: Lookup,
  options: { name?: string; digest?: string },
): Promise<ArchiveImage> {
  const { json } = await readJson(lookup("manifest.json")!, "manifest.json");
  const parsed = dockerSaveManifestSchema.safeParse(json);
  if (!parsed.success || parsed.data.length === 0) {
    throw new ImageError(
      "invalidArchive",
      "manifest.json is not a docker save manifest (an array of {Config, RepoTags, Layers})",
    );
  }
  const entries = parsed.data;
  const tagsOf = (e: (typeof entries)[number]): string[] =>
    (e.RepoTags ?? []).map((t) => normalizeName(t)).filter((t): t is string => t !== undefined);

  let chosen = entries.length === 1 ? entries[0] : undefined;
  if (options.name !== undefined) {
    chosen =
      entries.find((e) => tagsOf(e).includes(options.name!)) ??
      (entries.length === 1 ? entries[0] : undefined);
  }
  if (!chosen) {
    const all = entries.flatMap(tagsOf).join(", ") || "untagged images";
    throw new ImageError(
      "invalidArchive",
      `the archive holds ${entries.length} images (${all}); say which one by name`,
    );
  }

  const configFile = lookup(chosen.Config);
  if (!configFile) throw new ImageError("invalidArchive", `the archive lacks the config ${chosen.Config}`);
  const layers: ArchiveLayer[] = [];
  for (const path of chosen.Layers) {
    const file = lookup(path);
    if (!file) throw new ImageError("invalidArchive", `the archive lacks the layer ${path}`);
    const head = Buffer.alloc(2);
    const fh = await open(file.path, "r");
    try {
      await fh.read(head, 0, 2, 0);
    } finally {
      await fh.close();
    }
    const gzip = head[0] === 0x1f && head[1] === 0x8b;
    layers.push({
      digest: file.digest,
      size: file.size,
      mediaType: gzip ? mediaTypes.dockerLayerGzip : mediaTypes.dockerLayerTar,
      file,
    });
  }
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: mediaTypes.dockerManifest,
    config: { mediaType: mediaTypes.dockerConfig, size: configFile.size, digest: configFile.digest },
    layers: layers.map((l) => ({ mediaType: l.mediaType, size: l.size, digest: l.digest })),
  };
  // Fixed key order, so the same archive always yields the same manifest digest.
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  const manifestDigest = `sha256:${createHash("sha256").update(manifestBytes).digest("hex")}`;
  if (
    options.digest !== undefined &&
    options.digest !== manifestDigest &&
    options.digest !== configFile.digest
  ) {
    throw new ImageError(
      "notFound",
      `the archive's image is ${manifestDigest} (config ${configFile.digest}), not ${options.digest}`,
    );
  }
  return {
    kind: "docker-save",
    manifestBytes,
    manifestDigest,
    manifest,
    configBytes: await readSmall(configFile, "the image config", maxConfigBytes),
    configDigest: configFile.digest,
    layers,
    names: options.name !== undefined ? [options.name] : tagsOf(chosen),
  };
}

function normalizeAnnotation(value: string | undefined): string | undefined {
  return value === undefined ? undefined : normalizeName(value);
}

function describeEntries(entries: readonly Descriptor[]): string {
  return entries
    .map(
      (d) =>
        d.annotations?.[containerdNameAnnotation] ??
        d.annotations?.[refNameAnnotation] ??
        d.digest.slice(0, 19),
    )
    .join(", ");
}
