import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { lstat, mkdir, readFile, readdir, rm } from "node:fs/promises";
import { join, relative } from "node:path";
import { pipeline } from "node:stream/promises";
import { Readable, Transform } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { extract } from "tar";
import * as z from "zod";
import { isAbortError } from "../abort";
import { messageOf } from "../errors";
import { ImageError } from "../registry/imageError";
import { RegistryClient, redirectRefusal } from "../registry/registryClient";
import type { RegistryAuth } from "../registry/registryClient";

/** Media types of the Dev Container features distribution. */
export const featureMediaTypes = {
  config: "application/vnd.devcontainers",
  layer: "application/vnd.devcontainers.layer.v1+tar",
  collection: "application/vnd.devcontainers.collection.layer.v1+json",
} as const;

/** The manifest annotation that repeats devcontainer-feature.json, so dependencies resolve without the blob. */
export const metadataAnnotation = "dev.containers.metadata";

const maxArtifactBytes = 256 * 1024 * 1024;

const descriptor = z.object({
  mediaType: z.string(),
  digest: z.string().regex(/^sha256:[a-f0-9]{64}$/, { error: "not a sha256 digest" }),
  size: z.number().int().nonnegative(),
});
const featureManifestSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  config: descriptor,
  layers: z.array(descriptor),
  annotations: z.record(z.string(), z.string()).optional(),
});

/** A feature's OCI manifest, checked: its digest, the layer to fetch, the metadata annotation if any. */
export interface FeatureManifest {
  readonly digest: string;
  readonly layer: { readonly digest: string; readonly size: number };
  readonly annotation: string | undefined;
}

/**
 * Fetches and checks a feature manifest (by tag, or by digest when pinned): its config must have
 * the media type `application/vnd.devcontainers`, one layer must be the feature tar. Throws
 * Error with the registry's words; ImageError reasons pass through for the caller to word.
 */
export async function fetchFeatureManifest(
  client: RegistryClient,
  reference: string,
  where: string,
): Promise<FeatureManifest> {
  const fetched = await client.getManifest(reference);
  let parsed: z.infer<typeof featureManifestSchema>;
  try {
    parsed = featureManifestSchema.parse(JSON.parse(fetched.bytes.toString("utf8")));
  } catch (err) {
    throw new Error(`${where}: the manifest is not an OCI image manifest (${messageOf(err).slice(0, 200)})`, {
      cause: err,
    });
  }
  if (parsed.config.mediaType !== featureMediaTypes.config)
    throw new Error(
      `${where} is not a Dev Container feature: its config media type is "${parsed.config.mediaType}", not "${featureMediaTypes.config}"`,
    );
  const layer = parsed.layers.find((l) => l.mediaType === featureMediaTypes.layer);
  if (!layer) throw new Error(`${where}: the manifest has no layer of type ${featureMediaTypes.layer}`);
  if (layer.size > maxArtifactBytes)
    throw new Error(`${where}: its layer is ${layer.size} bytes; the limit is ${maxArtifactBytes}`);
  return { digest: fetched.digest, layer, annotation: parsed.annotations?.[metadataAnnotation] };
}

/** A client for one feature repository. */
export function featureClient(
  registry: string,
  repository: string,
  auth: RegistryAuth | undefined,
  signal: AbortSignal | undefined,
): RegistryClient {
  return new RegistryClient(registry, repository, {
    ...(auth ? { auth } : {}),
    ...(signal ? { signal } : {}),
  });
}

/** Downloads a blob to `file`, checking its sha256 against `digest` as it streams. */
export async function downloadBlob(
  client: RegistryClient,
  digest: string,
  file: string,
  where: string,
): Promise<void> {
  const blob = await client.openBlob(digest);
  await writeVerified(Readable.from(blob.body), file, digest, where);
}

/**
 * Downloads an https tarball to `file`; resolves with its sha256. Redirects must stay on https.
 * `expected` (a lockfile's integrity) must match when given.
 */
export async function downloadTarball(
  url: string,
  file: string,
  expected: string | undefined,
  signal: AbortSignal | undefined,
): Promise<string> {
  // Redirects are followed here, each hop checked as the registry client checks its own (HTTPS,
  // no private addresses): GitHub release downloads redirect to a storage host.
  let res: Response;
  let current = new URL(url);
  for (let hop = 0; ; hop++) {
    try {
      res = await fetch(current, { redirect: "manual", ...(signal ? { signal } : {}) });
    } catch (err) {
      if (signal?.aborted || isAbortError(err)) throw err;
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new ImageError(
        "unreachable",
        `cannot reach ${current.origin}: ${cause?.code ?? cause?.message ?? messageOf(err)}`,
        { cause: err },
      );
    }
    const location = res.status >= 300 && res.status < 400 ? res.headers.get("location") : null;
    if (location === null) break;
    await res.body?.cancel();
    const next = new URL(location, current);
    const why = hop >= 5 ? "too many redirects" : redirectRefusal(url, next);
    if (why) throw new Error(`${url} redirected to ${next.origin}: ${why}`);
    current = next;
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel();
    throw new Error(`${url} answered ${res.status}`);
  }
  return writeVerified(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), file, expected, url);
}

async function writeVerified(
  source: Readable,
  file: string,
  expected: string | undefined,
  where: string,
): Promise<string> {
  const hash = createHash("sha256");
  let bytes = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      if (bytes > maxArtifactBytes)
        return done(new Error(`${where} is larger than ${maxArtifactBytes} bytes`));
      hash.update(chunk);
      done(null, chunk);
    },
  });
  await pipeline(source, meter, createWriteStream(file));
  const digest = `sha256:${hash.digest("hex")}`;
  if (expected !== undefined && digest !== expected) {
    await rm(file, { force: true });
    throw new ImageError("digestMismatch", `${where} hashes to ${digest}, expected ${expected}`);
  }
  return digest;
}

/**
 * Unpacks a feature tar (gzipped or not) into `dir`. Only files and folders are taken: links
 * and devices have no place in a feature, and paths leaving `dir` are refused by tar itself.
 */
export async function unpackFeature(file: string, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const skipped: string[] = [];
  await extract({
    file,
    cwd: dir,
    strict: true,
    preserveOwner: false,
    filter: (path, entry) => {
      const type = "type" in entry ? entry.type : "File";
      const ok = type === "File" || type === "OldFile" || type === "Directory" || type === "ContiguousFile";
      if (!ok) skipped.push(path);
      return ok;
    },
  });
  if (skipped.length > 20)
    throw new Error(`${file}: ${skipped.length} entries that are not files or folders`);
}

/**
 * A digest of a local feature folder's content: every file's path, executable bit and bytes, in
 * path order. Changes to install.sh change it, so a cached image is not reused.
 */
export async function folderDigest(dir: string): Promise<string> {
  const hash = createHash("sha256");
  const walk = async (d: string): Promise<void> => {
    const names = (await readdir(d)).sort();
    for (const name of names) {
      const path = join(d, name);
      const info = await lstat(path);
      const rel = relative(dir, path);
      if (info.isDirectory()) {
        hash.update(`d ${rel}\n`);
        await walk(path);
      } else if (info.isFile()) {
        hash.update(`f ${rel} ${info.mode & 0o111 ? "x" : "-"} ${info.size}\n`);
        hash.update(await readFile(path));
      }
    }
  };
  await walk(dir);
  return `sha256:${hash.digest("hex")}`;
}
