import { stat } from "node:fs/promises";
import { isAbsolute, resolve } from "node:path";
import { Parser } from "tar";
import type { ReadEntry } from "tar";
import { TemplateError, maxTemplateBytes, readTemplateFolder, templateFromFiles } from "./apply";
import type { TemplateFile, TemplateSource } from "./apply";

/** The OCI media types of a Dev Container Template artifact (the same as a feature's). */
export const templateMediaTypes = {
  config: "application/vnd.devcontainers",
  layer: "application/vnd.devcontainers.layer.v1+tar",
} as const;

/**
 * Fetches one layer of an OCI artifact: the registry client of the features fetcher does this
 * (auth, loopback-over-HTTP, digest checks); templates only need the narrow interface.
 */
export interface OciArtifactFetcher {
  /**
   * The blob of `reference`'s layer with `layerMediaType`, after checking the manifest's config
   * media type is `configMediaType` and the blob's digest. Rejects with a message naming the
   * reference and the registry.
   */
  fetchLayer(
    reference: string,
    configMediaType: string,
    layerMediaType: string,
    signal?: AbortSignal,
  ): Promise<Uint8Array>;
}

/** Well-known templates of the public collection, offered in pickers. */
export const wellKnownTemplates: readonly string[] = [
  "ghcr.io/devcontainers/templates/debian:latest",
  "ghcr.io/devcontainers/templates/ubuntu:latest",
  "ghcr.io/devcontainers/templates/alpine:latest",
  "ghcr.io/devcontainers/templates/python:latest",
  "ghcr.io/devcontainers/templates/javascript-node:latest",
  "ghcr.io/devcontainers/templates/typescript-node:latest",
  "ghcr.io/devcontainers/templates/go:latest",
  "ghcr.io/devcontainers/templates/rust:latest",
  "ghcr.io/devcontainers/templates/java:latest",
  "ghcr.io/devcontainers/templates/javascript-node-postgres:latest",
];

/** Whether a template reference names a folder on this machine rather than an OCI artifact. */
export function isLocalTemplateReference(reference: string): boolean {
  return (
    reference.startsWith("./") ||
    reference.startsWith("../") ||
    reference === "." ||
    isAbsolute(reference) ||
    reference.startsWith("~")
  );
}

/**
 * A template from a folder (`./x`, `/abs`, or any existing folder) or an OCI reference. Rejects
 * with TemplateError: `notFound`, `invalid`, `unsafe`, or `fetch` (the registry's failure).
 */
export async function loadTemplateSource(
  reference: string,
  options: { cwd: string; home?: string; fetcher?: OciArtifactFetcher; signal?: AbortSignal },
): Promise<TemplateSource> {
  const expanded = reference.startsWith("~") ? `${options.home ?? ""}${reference.slice(1)}` : reference;
  const folder = resolve(options.cwd, expanded);
  const isFolder = await stat(folder).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (isFolder) return readTemplateFolder(folder);
  if (isLocalTemplateReference(reference))
    throw new TemplateError("notFound", `${folder}: no such template folder`);
  if (!options.fetcher)
    throw new TemplateError(
      "fetch",
      `${reference}: fetching templates from a registry is not available here`,
    );
  let blob: Uint8Array;
  try {
    blob = await options.fetcher.fetchLayer(
      reference,
      templateMediaTypes.config,
      templateMediaTypes.layer,
      options.signal,
    );
  } catch (err) {
    throw new TemplateError(
      "fetch",
      `${reference}: ${err instanceof Error ? err.message : String(err)}`,
      {},
      {
        cause: err,
      },
    );
  }
  return templateFromFiles(reference, await untar(blob, reference));
}

/** The regular files of a tar held in memory; links and devices are skipped, sizes bounded. */
export async function untar(blob: Uint8Array, reference: string): Promise<TemplateFile[]> {
  const files: TemplateFile[] = [];
  let total = 0;
  await new Promise<void>((resolvePromise, reject) => {
    const parser = new Parser({
      onReadEntry: (entry: ReadEntry) => {
        if (entry.type !== "File" && entry.type !== "OldFile") {
          entry.resume();
          return;
        }
        const chunks: Buffer[] = [];
        entry.on("data", (c: Buffer) => {
          total += c.length;
          if (total > maxTemplateBytes)
            reject(
              new TemplateError(
                "unsafe",
                `${reference}: the template is larger than ${maxTemplateBytes} bytes`,
              ),
            );
          else chunks.push(c);
        });
        entry.on("end", () => {
          const path = entry.path.replace(/^\.\//, "");
          if (path) files.push({ path, bytes: Buffer.concat(chunks), mode: entry.mode ?? 0o644 });
        });
      },
    });
    parser.on("error", (err: Error) => reject(new TemplateError("invalid", `${reference}: ${err.message}`)));
    parser.on("end", () => resolvePromise());
    parser.end(Buffer.from(blob));
  });
  return files;
}
