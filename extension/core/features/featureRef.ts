import { posix } from "node:path";

/** Where a feature comes from. */
export type FeatureSource =
  | {
      readonly kind: "oci";
      /** Registry host (with port): the first segment, always — feature references never default to Docker Hub. */
      readonly registry: string;
      /** Repository path inside the registry: `devcontainers/features/node`. */
      readonly repository: string;
      readonly tag?: string;
      readonly digest?: string;
      /** The last path segment: `node`. */
      readonly id: string;
    }
  | {
      readonly kind: "local";
      /** The reference as written (`./myFeature`), relative to the devcontainer.json's folder. */
      readonly path: string;
      readonly id: string;
    }
  | { readonly kind: "tarball"; readonly url: string; readonly id: string };

/** One entry of `features` understood: its source, and what the legacy mapping changed. */
export interface ParsedFeatureRef {
  readonly source: FeatureSource;
  /** The short id it was mapped from (`node` → ghcr.io/devcontainers/features/node:1). */
  readonly mappedFrom?: string;
  /** Options the mapping adds (`gradle` → java with installGradle). */
  readonly addedOptions?: Readonly<Record<string, boolean>>;
}

/** Why an entry of `features` cannot be used. */
export interface RefusedFeatureRef {
  readonly refused: string;
}

const featuresNamespace = "ghcr.io/devcontainers/features";
// Short ids of the features that moved from vscode-dev-containers to ghcr.io/devcontainers/features
// (major version 1, as the reference CLI pins them), renamed ones, and ones that became options.
const migratedShortIds = new Set([
  "aws-cli",
  "azure-cli",
  "desktop-lite",
  "docker-in-docker",
  "docker-from-docker",
  "dotnet",
  "git",
  "git-lfs",
  "github-cli",
  "java",
  "kubectl-helm-minikube",
  "node",
  "powershell",
  "python",
  "ruby",
  "rust",
  "sshd",
  "terraform",
]);
const renamedShortIds: Record<string, string> = { golang: "go", common: "common-utils" };
const shortIdsIntoOptions: Record<string, { id: string; option: string }> = {
  gradle: { id: "java", option: "installGradle" },
  maven: { id: "java", option: "installMaven" },
  jupyterlab: { id: "python", option: "installJupyterlab" },
};

const pathPattern = /^[a-z0-9]+([._-][a-z0-9]+)*(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/;
const tagPattern = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
const featureIdPattern = /^[a-zA-Z0-9_-]+$/;

/**
 * Parses one key of `features` the way the Dev Container spec and its reference CLI do:
 * `https://…/devcontainer-feature-<id>.tgz` tarballs, `./` and `../` folders (which must stay
 * inside the project's `.devcontainer/` folder), OCI references whose first segment is always
 * the registry, and the legacy short ids of the features that moved to
 * ghcr.io/devcontainers/features. The GitHub-release form `owner/repo/id[@version]` and other
 * short ids are refused with what to write instead.
 */
export function parseFeatureRef(userId: string): ParsedFeatureRef | RefusedFeatureRef {
  if (!userId.includes("/") && !userId.includes("\\")) return shortId(userId);
  if (userId.startsWith("https://")) return tarball(userId);
  if (userId.startsWith("http://"))
    return { refused: `"${userId}": feature tarballs are fetched over https only` };
  if (userId.startsWith("./") || userId.startsWith("../"))
    return { source: { kind: "local", path: userId, id: posix.basename(userId) } };
  if (userId.startsWith("/"))
    return {
      refused: `"${userId}": a local feature is named relative to devcontainer.json ("./${posix.basename(userId)}"), never by absolute path`,
    };
  return oci(userId);
}

function shortId(id: string): ParsedFeatureRef | RefusedFeatureRef {
  if (migratedShortIds.has(id))
    return { source: ociSource(`${featuresNamespace}/${id}`, "1"), mappedFrom: id };
  const renamed = renamedShortIds[id];
  if (renamed) return { source: ociSource(`${featuresNamespace}/${renamed}`, "1"), mappedFrom: id };
  const into = shortIdsIntoOptions[id];
  if (into)
    return {
      source: ociSource(`${featuresNamespace}/${into.id}`, "1"),
      mappedFrom: id,
      addedOptions: { [into.option]: true },
    };
  return {
    refused: `"${id}" is a legacy feature id that is no longer supported: use a published feature (https://containers.dev/features), or "./${id}" for a folder next to devcontainer.json`,
  };
}

function tarball(url: string): ParsedFeatureRef | RefusedFeatureRef {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { refused: `"${url}" is not a valid URL` };
  }
  const name = posix.basename(parsed.pathname);
  const match = /^devcontainer-feature-(.*)\.tgz$/.exec(name);
  if (!match) return { refused: `"${url}": a feature tarball must be named devcontainer-feature-<id>.tgz` };
  const id = match[1]!;
  if (!featureIdPattern.test(id))
    return { refused: `"${url}": "${id}" is not a feature id (letters, digits, "-" and "_")` };
  return { source: { kind: "tarball", url: parsed.toString(), id } };
}

function oci(userId: string): ParsedFeatureRef | RefusedFeatureRef {
  const input = userId.toLowerCase();
  if (input.startsWith(".")) return { refused: `"${userId}" is not a feature reference` };
  let resource = input;
  let tag: string | undefined;
  let digest: string | undefined;
  const at = input.lastIndexOf("@");
  const colon = input.lastIndexOf(":");
  if (at >= 0) {
    resource = input.slice(0, at);
    digest = input.slice(at + 1);
    if (!/^sha256:[a-f0-9]{64}$/.test(digest)) {
      if (!digest.includes(":") && githubReleaseForm(resource)) return deprecatedGithub(userId, resource);
      return { refused: `"${userId}": "${digest}" is not a sha256 digest` };
    }
  } else if (colon > input.lastIndexOf("/")) {
    resource = input.slice(0, colon);
    tag = input.slice(colon + 1);
    if (!tagPattern.test(tag)) return { refused: `"${userId}": "${tag}" is not a valid tag` };
  } else {
    tag = "latest";
  }
  const segments = resource.split("/");
  if (githubReleaseForm(resource)) return deprecatedGithub(userId, resource);
  if (segments.length < 2 || segments.some((s) => s === ""))
    return { refused: `"${userId}" is not a feature reference (registry/namespace/id[:tag])` };
  const registry = segments[0]!;
  // The reference CLI follows the devcontainers-contrib collection to its new name.
  if (segments[1] === "devcontainers-contrib") segments[1] = "devcontainers-extra";
  const repository = segments.slice(1).join("/");
  if (!pathPattern.test(repository))
    return { refused: `"${userId}": "${repository}" is not a valid repository path` };
  return {
    source: {
      kind: "oci",
      registry,
      repository,
      ...(tag !== undefined ? { tag } : {}),
      ...(digest !== undefined ? { digest } : {}),
      id: segments.at(-1)!,
    },
  };
}

function ociSource(resource: string, tag: string): FeatureSource {
  const [registry = "", ...rest] = resource.split("/");
  return { kind: "oci", registry, repository: rest.join("/"), tag, id: rest.at(-1) ?? "" };
}

/** `owner/repo/id`: three segments, the first not a registry host. */
function githubReleaseForm(resource: string): boolean {
  const segments = resource.split("/");
  const first = segments[0] ?? "";
  return segments.length === 3 && !first.includes(".") && !first.includes(":") && first !== "localhost";
}

function deprecatedGithub(userId: string, resource: string): RefusedFeatureRef {
  return {
    refused: `"${userId}" is the deprecated GitHub-release form of a feature, no longer supported: use the OCI reference ghcr.io/${resource} (with a version tag, e.g. ghcr.io/${resource}:1) once the feature is published there`,
  };
}

/** `registry/repository[:tag][@digest]`: the reference a source names (for messages and the lockfile). */
export function formatSource(source: FeatureSource): string {
  switch (source.kind) {
    case "oci":
      return `${source.registry}/${source.repository}${source.digest ? `@${source.digest}` : `:${source.tag ?? "latest"}`}`;
    case "local":
      return source.path;
    case "tarball":
      return source.url;
  }
}
