/**
 * Publishes Dev Container features to a test registry the way the features distribution spec
 * says they are published: an OCI manifest whose config has media type
 * `application/vnd.devcontainers` (an empty `{}` blob), one layer of type
 * `application/vnd.devcontainers.layer.v1+tar` holding the feature folder as a plain tar
 * (devcontainer-feature.json, install.sh, …), and the `dev.containers.metadata` annotation
 * repeating devcontainer-feature.json. Blobs and the manifest are uploaded with the registry's
 * own HTTP API (POST upload, PUT with the digest).
 */
import { createHash } from "node:crypto";
import { buildTar } from "./testImage";
import type { TestRegistry } from "./registry";

/** A feature to publish: its devcontainer-feature.json and the other files of its folder. */
export interface FeatureArtifact {
  readonly json: Record<string, unknown> & { id: string; version: string };
  /** install.sh and anything else, by path in the folder. */
  readonly files: Readonly<Record<string, string>>;
  /** Leave the metadata annotation out (older publishers did). */
  readonly withoutAnnotation?: boolean;
}

function digestOf(bytes: Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

function authHeader(registry: TestRegistry): Record<string, string> {
  return registry.username && registry.auth === "basic"
    ? {
        Authorization: `Basic ${Buffer.from(`${registry.username}:${registry.password}`).toString("base64")}`,
      }
    : {};
}

async function putBlob(registry: TestRegistry, repository: string, bytes: Uint8Array): Promise<string> {
  const digest = digestOf(bytes);
  const start = await fetch(`${registry.url}/v2/${repository}/blobs/uploads/`, {
    method: "POST",
    headers: authHeader(registry),
  });
  await start.body?.cancel();
  if (start.status !== 202) throw new Error(`blob upload start: ${start.status}`);
  const location = new URL(start.headers.get("location") ?? "", registry.url);
  location.searchParams.set("digest", digest);
  const put = await fetch(location, {
    method: "PUT",
    headers: { "Content-Type": "application/octet-stream", ...authHeader(registry) },
    body: bytes,
  });
  await put.body?.cancel();
  if (put.status !== 201) throw new Error(`blob upload: ${put.status}`);
  return digest;
}

/**
 * Publishes `feature` as `<registry>/<repository>:<tag>` for every tag; resolves with the
 * manifest digest (what a lockfile pins).
 */
export async function publishFeature(
  registry: TestRegistry,
  repository: string,
  tags: readonly string[],
  feature: FeatureArtifact,
): Promise<string> {
  const jsonText = JSON.stringify(feature.json, null, 2);
  const entries = [
    { path: "devcontainer-feature.json", data: jsonText },
    ...Object.entries(feature.files).map(([path, data]) => ({
      path,
      data,
      mode: path.endsWith(".sh") ? 0o755 : 0o644,
    })),
  ];
  const layer = buildTar(entries);
  const config = Buffer.from("{}");
  const layerDigest = await putBlob(registry, repository, layer);
  const configDigest = await putBlob(registry, repository, config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.devcontainers", digest: configDigest, size: config.length },
      layers: [
        {
          mediaType: "application/vnd.devcontainers.layer.v1+tar",
          digest: layerDigest,
          size: layer.length,
          annotations: { "org.opencontainers.image.title": `devcontainer-feature-${feature.json.id}.tgz` },
        },
      ],
      ...(feature.withoutAnnotation
        ? {}
        : { annotations: { "dev.containers.metadata": JSON.stringify(feature.json) } }),
    }),
  );
  for (const tag of tags) {
    const res = await fetch(`${registry.url}/v2/${repository}/manifests/${tag}`, {
      method: "PUT",
      headers: { "Content-Type": "application/vnd.oci.image.manifest.v1+json", ...authHeader(registry) },
      body: manifest,
    });
    await res.body?.cancel();
    if (res.status !== 201) throw new Error(`manifest ${repository}:${tag}: ${res.status}`);
  }
  return digestOf(manifest);
}
