import { createHash } from "node:crypto";
import * as z from "zod";
import { parseReference } from "../registry/reference";
import { RegistryClient } from "../registry/registryClient";
import type { OciArtifactFetcher } from "./source";

const descriptor = z.object({
  mediaType: z.string(),
  digest: z.string(),
  size: z.number().int().nonnegative(),
});
/** An OCI artifact manifest: what a template or feature is published as. */
const artifactManifest = z.object({
  schemaVersion: z.literal(2),
  config: descriptor,
  layers: z.array(descriptor),
});

/** Artifact layers (templates) are configuration files: a bound that no real one comes near. */
const maxLayerBytes = 64 * 1024 * 1024;

/**
 * Fetches a Dev Container artifact's layer with the registry client: anonymous or
 * token auth as the registry asks, plain HTTP only for loopback registries, the manifest's
 * config media type checked, the layer's sha256 verified while it downloads.
 */
export const registryArtifactFetcher: OciArtifactFetcher = {
  async fetchLayer(reference, configMediaType, layerMediaType, signal) {
    const ref = parseReference(reference);
    const client = new RegistryClient(ref.domain, ref.path, signal ? { signal } : {});
    const manifest = await client.getManifest(ref.digest ?? ref.tag ?? "latest");
    const parsed = artifactManifest.safeParse(JSON.parse(manifest.bytes.toString("utf8")));
    if (!parsed.success) throw new Error(`${ref.domain}: the manifest is not an OCI artifact manifest`);
    if (parsed.data.config.mediaType !== configMediaType)
      throw new Error(
        `${ref.domain}: config media type is ${parsed.data.config.mediaType}, not ${configMediaType}: not a Dev Container artifact`,
      );
    const layer = parsed.data.layers.find((l) => l.mediaType === layerMediaType);
    if (!layer) throw new Error(`${ref.domain}: the artifact has no ${layerMediaType} layer`);
    if (layer.size > maxLayerBytes) throw new Error(`${ref.domain}: the layer is ${layer.size} bytes`);
    const blob = await client.openBlob(layer.digest);
    const hash = createHash("sha256");
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of blob.body) {
      size += chunk.length;
      if (size > maxLayerBytes)
        throw new Error(`${ref.domain}: the layer is larger than ${maxLayerBytes} bytes`);
      hash.update(chunk);
      chunks.push(Buffer.from(chunk));
    }
    const digest = `sha256:${hash.digest("hex")}`;
    if (digest !== layer.digest)
      throw new Error(`${ref.domain}: layer ${layer.digest} arrived as ${digest}: refused`);
    return Buffer.concat(chunks);
  },
};
