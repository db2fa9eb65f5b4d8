import { mkdtemp, readFile } from "node:fs/promises";
import { dirname, join, resolve as resolvePath } from "node:path";
import { messageOf } from "../errors";
import type { Logger } from "../log";
import { ImageError } from "../registry/imageError";
import type { RegistryAuth } from "../registry/registryClient";
import { BuildError } from "../build/buildError";
import type { FeatureJson, FeatureValue } from "./featureJson";
import { parseFeatureJson } from "./featureJson";
import { formatSource, parseFeatureRef } from "./featureRef";
import type { FeatureSource } from "./featureRef";
import {
  downloadBlob,
  downloadTarball,
  featureClient,
  fetchFeatureManifest,
  folderDigest,
  unpackFeature,
} from "./fetch";
import type { LockEntry, Lockfile } from "./lockfile";
import { optionValues } from "./options";
import { canonicalOptions, installOrder } from "./order";
import type { OrderNode } from "./order";

/** A feature as devcontainer.json asks for it. */
export interface FeatureRequest {
  /** The key in `features` as written. */
  readonly userId: string;
  readonly value: FeatureValue;
}

/** A feature resolved to exact content, ready to install. */
export interface ResolvedFeature {
  /** The reference as written in devcontainer.json, or in the dependsOn that added it. */
  readonly userId: string;
  readonly source: FeatureSource;
  readonly json: FeatureJson;
  /** Manifest digest (OCI), tarball digest, or the local folder's content digest. */
  readonly digest: string;
  readonly value: FeatureValue;
  /** Options with defaults filled in. */
  readonly options: Readonly<Record<string, string | boolean>>;
  /** True for features in devcontainer.json; false for those dependsOn added. */
  readonly userProvided: boolean;
  /** OCI: `registry/repository@digest`. */
  readonly resolved: string;
  /** Folder holding its files, once fetched (local features: their own folder). */
  dir: string | undefined;
  /** OCI: the layer still to fetch. */
  readonly layer?: { readonly digest: string; readonly size: number };
}

/** What the resolver needs from around it. */
export interface ResolveOptions {
  /** The devcontainer.json; local features are relative to its folder. */
  readonly configFile: string;
  /** The project folder; local features must lie in its `.devcontainer/`. */
  readonly localFolder: string;
  readonly lockfile?: Lockfile | undefined;
  /** overrideFeatureInstallOrder. */
  readonly overrideOrder?: readonly string[];
  /** A folder for downloads and unpacked features (the caller removes it). */
  readonly workDir: string;
  readonly credentials?: (registry: string) => Promise<RegistryAuth | undefined>;
  readonly signal?: AbortSignal;
  readonly logger?: Logger;
}

/** The resolved features in install order, and the lockfile entries they pin. */
export interface Resolution {
  readonly features: readonly ResolvedFeature[];
  readonly lock: Readonly<Record<string, LockEntry>>;
}

interface Node {
  readonly feature: ResolvedFeature;
  readonly key: string;
  readonly dependsOn: string[];
  readonly installsAfter: string[];
  priority: number;
}

/**
 * Resolves the features of a devcontainer.json: each reference to exact content (honouring the
 * lockfile's pins), their `dependsOn` recursively (which may add features), and the install
 * order from dependsOn, installsAfter and overrideFeatureInstallOrder. Fetches manifests,
 * tarballs and local metadata; OCI layers wait for `fetchContent`. Failures are BuildError
 * `featureFailed` naming the feature and, for registries, the registry.
 */
export async function resolveFeatures(
  requests: readonly FeatureRequest[],
  options: ResolveOptions,
): Promise<Resolution> {
  const nodes: Node[] = [];
  const queue: Array<{ request: FeatureRequest; userProvided: boolean; parent?: Node }> = requests.map(
    (request) => ({
      request,
      userProvided: true,
    }),
  );
  while (queue.length) {
    const { request, userProvided, parent } = queue.shift()!;
    const feature = await resolveOne(request, userProvided, options);
    const key = nodeKey(feature);
    const existing = nodes.find((n) => n.key === key);
    parent?.dependsOn.push(key);
    if (existing) continue;
    const node: Node = {
      feature,
      key,
      dependsOn: [],
      installsAfter: (feature.json.installsAfter ?? []).flatMap((ref) => matchOf(ref, options) ?? []),
      priority: 0,
    };
    nodes.push(node);
    for (const [userId, value] of Object.entries(feature.json.dependsOn ?? {}))
      queue.push({ request: { userId, value }, userProvided: false, parent: node });
  }
  const override = options.overrideOrder ?? [];
  override.forEach((ref, i) => {
    const match = matchOf(ref, options);
    if (!match)
      throw new BuildError(
        "featureFailed",
        `overrideFeatureInstallOrder: "${ref}" is not a feature reference`,
        {
          feature: ref,
        },
      );
    for (const n of nodes)
      if (matchesOf(n.feature).includes(match)) n.priority = Math.max(n.priority, override.length - i);
  });
  const ordered = installOrder(nodes.map(toOrderNode));
  if ("stuck" in ordered) throw new BuildError("featureFailed", ordered.message);
  const features = ordered.order.map((o) => nodes.find((n) => n.key === o.key)!.feature);
  const lock: Record<string, LockEntry> = {};
  for (const f of features) {
    if (f.source.kind === "local") continue;
    const deps = Object.keys(f.json.dependsOn ?? {});
    lock[f.userId] = {
      version: f.json.version ?? "",
      resolved: f.resolved,
      integrity: f.digest,
      ...(deps.length ? { dependsOn: deps } : {}),
    };
  }
  return { features, lock };
}

/** Fetches what is still missing of each feature (OCI layers), verified, into the work folder. */
export async function fetchContent(
  features: readonly ResolvedFeature[],
  options: ResolveOptions,
): Promise<void> {
  for (const f of features) {
    if (f.dir || f.source.kind !== "oci" || !f.layer) continue;
    const source = f.source;
    await withFeatureErrors(f.userId, source, async () => {
      const client = featureClient(
        source.registry,
        source.repository,
        await options.credentials?.(source.registry),
        options.signal,
      );
      const dir = await mkdtemp(join(options.workDir, `${f.json.id}-`));
      const file = `${dir}.tar`;
      await downloadBlob(client, f.layer!.digest, file, `${f.userId} layer ${f.layer!.digest}`);
      await unpackFeature(file, dir);
      f.dir = dir;
    });
  }
}

async function resolveOne(
  request: FeatureRequest,
  userProvided: boolean,
  options: ResolveOptions,
): Promise<ResolvedFeature> {
  const parsed = parseFeatureRef(request.userId);
  if ("refused" in parsed) throw new BuildError("featureFailed", parsed.refused, { feature: request.userId });
  const value: FeatureValue =
    parsed.addedOptions && typeof request.value === "object"
      ? { ...request.value, ...parsed.addedOptions }
      : (parsed.addedOptions ?? request.value);
  const source = parsed.source;
  const pin = options.lockfile?.features[request.userId];
  return withFeatureErrors(request.userId, source, async () => {
    switch (source.kind) {
      case "local": {
        const dir = localDir(source.path, options);
        const json = parseFeatureJson(
          await readFile(join(dir, "devcontainer-feature.json"), "utf8"),
          join(dir, "devcontainer-feature.json"),
        );
        const digest = await folderDigest(dir);
        return finish(request.userId, source, json, digest, value, userProvided, dir, dir);
      }
      case "tarball": {
        const dir = await mkdtemp(join(options.workDir, `${source.id}-`));
        const file = `${dir}.tgz`;
        const digest = await downloadTarball(source.url, file, pin?.integrity, options.signal);
        await unpackFeature(file, dir);
        const json = parseFeatureJson(
          await readFile(join(dir, "devcontainer-feature.json"), "utf8"),
          `${source.url}: devcontainer-feature.json`,
        );
        return finish(request.userId, source, json, digest, value, userProvided, source.url, dir);
      }
      case "oci": {
        const client = featureClient(
          source.registry,
          source.repository,
          await options.credentials?.(source.registry),
          options.signal,
        );
        const reference = pin?.integrity ?? source.digest ?? source.tag ?? "latest";
        const manifest = await fetchFeatureManifest(client, reference, request.userId);
        let json: FeatureJson;
        let dir: string | undefined;
        if (manifest.annotation)
          json = parseFeatureJson(
            manifest.annotation,
            `${request.userId} (${"dev.containers.metadata"} annotation)`,
          );
        else {
          // Older publishers left the annotation out: the metadata is only in the layer.
          dir = await mkdtemp(join(options.workDir, `${source.id}-`));
          await downloadBlob(client, manifest.layer.digest, `${dir}.tar`, `${request.userId} layer`);
          await unpackFeature(`${dir}.tar`, dir);
          json = parseFeatureJson(
            await readFile(join(dir, "devcontainer-feature.json"), "utf8"),
            `${request.userId}: devcontainer-feature.json`,
          );
        }
        const resolved = `${source.registry}/${source.repository}@${manifest.digest}`;
        return {
          ...finish(request.userId, source, json, manifest.digest, value, userProvided, resolved, dir),
          layer: manifest.layer,
        };
      }
    }
  });
}

function finish(
  userId: string,
  source: FeatureSource,
  json: FeatureJson,
  digest: string,
  value: FeatureValue,
  userProvided: boolean,
  resolved: string,
  dir: string | undefined,
): ResolvedFeature {
  return {
    userId,
    source,
    json,
    digest,
    value,
    options: optionValues(json, value),
    userProvided,
    resolved,
    dir,
  };
}

/** The folder of a local feature; it must lie inside the project's `.devcontainer/` folder. */
export function localDir(path: string, options: { configFile: string; localFolder: string }): string {
  const dir = resolvePath(dirname(options.configFile), path);
  const root = join(options.localFolder, ".devcontainer");
  if (!(dir + "/").startsWith(root + "/"))
    throw new Error(
      `the local feature "${path}" resolves to ${dir}, outside ${root}/ where local features must live`,
    );
  return dir;
}

/** Wraps a feature's failures into BuildError `featureFailed` naming it (and its registry). */
async function withFeatureErrors<T>(
  userId: string,
  source: FeatureSource,
  body: () => Promise<T>,
): Promise<T> {
  try {
    return await body();
  } catch (err) {
    if (BuildError.is(err)) throw err;
    if (source.kind === "oci" && ImageError.is(err)) {
      const what =
        err.reason === "unreachable"
          ? `cannot reach the registry ${source.registry}`
          : err.reason === "notFound"
            ? `the registry ${source.registry} has no ${source.repository}:${source.digest ?? source.tag ?? "latest"}`
            : err.reason === "unauthorized" || err.reason === "denied"
              ? `the registry ${source.registry} refused access (log in with docker login ${source.registry}, or set DEVCONTAINERS_OCI_AUTH)`
              : `the registry ${source.registry} failed`;
      throw new BuildError(
        "featureFailed",
        `feature "${userId}": ${what}: ${err.message}`,
        { feature: userId },
        { cause: err },
      );
    }
    if ((err as Error).name === "AbortError") throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const message =
      code === "ENOENT"
        ? `${(err as NodeJS.ErrnoException).path ?? "a file"} does not exist`
        : messageOf(err);
    throw new BuildError(
      "featureFailed",
      `feature "${userId}" (${formatSource(source)}): ${message}`,
      { feature: userId },
      { cause: err },
    );
  }
}

function nodeKey(f: ResolvedFeature): string {
  return `${f.source.kind}|${identityOf(f)}|${f.digest}|${canonicalOptions(f.value)}`;
}

function identityOf(f: ResolvedFeature): string {
  switch (f.source.kind) {
    case "oci":
      return `${f.source.registry}/${f.source.repository}`;
    case "local":
      return f.dir ?? f.source.path;
    case "tarball":
      return f.source.url;
  }
}

/** What references this feature answers to in installsAfter and overrideFeatureInstallOrder. */
function matchesOf(f: ResolvedFeature): string[] {
  const own = identityOf(f);
  if (f.source.kind !== "oci") return [own];
  const namespace = own.slice(0, own.lastIndexOf("/"));
  return [own, ...(f.json.legacyIds ?? []).map((id) => `${namespace}/${id}`)];
}

/** The match string of a soft reference, or undefined when it does not parse. */
function matchOf(ref: string, options: { configFile: string; localFolder: string }): string | undefined {
  const parsed = parseFeatureRef(ref);
  if ("refused" in parsed) return undefined;
  const s = parsed.source;
  if (s.kind === "oci") return `${s.registry}/${s.repository}`;
  if (s.kind === "tarball") return s.url;
  return resolvePath(dirname(options.configFile), s.path);
}

function toOrderNode(n: Node): OrderNode {
  const f = n.feature;
  const options = canonicalOptions(f.value);
  const identity = identityOf(f);
  const sort =
    f.source.kind === "oci"
      ? [identity.slice(0, identity.lastIndexOf("/")), f.source.id, f.source.tag ?? "", options, f.digest]
      : [identity, options];
  return {
    key: n.key,
    userId: f.userId,
    kind: f.source.kind,
    matches: matchesOf(f),
    sort,
    dependsOn: n.dependsOn,
    installsAfter: n.installsAfter,
    priority: n.priority,
  };
}
