import { ImageError } from "./imageError";

/**
 * An image reference split the way Docker's distribution/reference package splits it, after
 * normalisation: `busybox` → domain `docker.io`, path `library/busybox`, tag `latest`.
 */
export interface ImageReference {
  /** Registry host, with port when given: `docker.io`, `127.0.0.1:5000`, `ghcr.io`. */
  readonly domain: string;
  /** Repository path inside the registry: `library/busybox`, `test/busybox`. */
  readonly path: string;
  /** Tag; `latest` when the input named neither tag nor digest. */
  readonly tag?: string;
  /** Content digest (`sha256:<hex>`) when the input pinned one. */
  readonly digest?: string;
}

/** Docker Hub's canonical domain; `index.docker.io` is an alias users still type. */
export const dockerHubDomain = "docker.io";
const defaultTag = "latest";
const maxNameLength = 255;

// The grammar of github.com/distribution/reference, written out so errors can say which part failed.
const alphaNumeric = "[a-z0-9]+";
const separator = "(?:[._]|__|[-]+)";
const pathComponent = `${alphaNumeric}(?:${separator}${alphaNumeric})*`;
const pathPattern = new RegExp(`^${pathComponent}(?:/${pathComponent})*$`);
const domainComponent = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const domainPattern = new RegExp(
  `^(?:${domainComponent}(?:\\.${domainComponent})*|\\[[0-9a-fA-F:.]+\\])(?::[0-9]+)?$`,
);
const tagPattern = /^[\w][\w.-]{0,127}$/;
const digestPattern = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const sha256DigestPattern = /^sha256:[a-f0-9]{64}$/;

/**
 * Parses and normalises a reference the way `docker pull` does. Throws ImageError
 * `invalidReference` with a message naming the offending part.
 */
export function parseReference(input: string): ImageReference {
  const text = input.trim();
  if (text === "") throw invalid(input, "it is empty");

  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!digestPattern.test(digest)) throw invalid(input, `"${digest}" is not a digest`);
    // Only sha256 is hashed and checked here: another algorithm would be taken on trust.
    if (!digest.startsWith("sha256:"))
      throw invalid(
        input,
        `"${digest.split(":")[0]}" digests cannot be verified here; pin the image by its sha256 digest`,
      );
    if (!sha256DigestPattern.test(digest)) {
      throw invalid(input, "a sha256 digest is 64 lowercase hex characters");
    }
  }

  let tag: string | undefined;
  // A colon after the last slash separates the tag; one before it belongs to a registry port.
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!tagPattern.test(tag)) throw invalid(input, `"${tag}" is not a valid tag`);
  }

  let domain = dockerHubDomain;
  let path = rest;
  const slash = rest.indexOf("/");
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (
      first.includes(".") ||
      first.includes(":") ||
      first === "localhost" ||
      first !== first.toLowerCase()
    ) {
      domain = first;
      path = rest.slice(slash + 1);
    }
  }
  if (domain === "index.docker.io") domain = dockerHubDomain;
  if (domain === dockerHubDomain && !path.includes("/")) path = `library/${path}`;

  if (!domainPattern.test(domain)) throw invalid(input, `"${domain}" is not a valid registry host`);
  if (path !== path.toLowerCase()) throw invalid(input, "repository names must be lowercase");
  if (!pathPattern.test(path)) throw invalid(input, `"${path}" is not a valid repository path`);
  if (domain.length + 1 + path.length > maxNameLength) {
    throw invalid(input, `the name is longer than ${maxNameLength} characters`);
  }

  if (tag === undefined && digest === undefined) tag = defaultTag;
  return { domain, path, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** `domain/path[:tag][@digest]` — the fully qualified form names are stored and listed in. */
export function formatReference(ref: ImageReference): string {
  return `${repositoryName(ref)}${ref.tag !== undefined ? `:${ref.tag}` : ""}${ref.digest !== undefined ? `@${ref.digest}` : ""}`;
}

/** `domain/path`, without tag or digest. */
export function repositoryName(ref: ImageReference): string {
  return `${ref.domain}/${ref.path}`;
}

/**
 * The name an image is filed under in the store: the tagged form when there is a tag (a pinned
 * digest is dropped, as Docker does for RepoTags), else `repo@digest`.
 */
export function storedName(ref: ImageReference): string {
  if (ref.tag !== undefined) return `${repositoryName(ref)}:${ref.tag}`;
  return formatReference(ref);
}

/** Normalises a user-typed name to its stored form, or undefined when it does not parse. */
export function normalizeName(input: string): string | undefined {
  try {
    return storedName(parseReference(input));
  } catch (err) {
    if (ImageError.is(err, "invalidReference")) return undefined;
    throw err;
  }
}

/** True for `sha256:<64 hex>`, the only digest algorithm the store files content under. */
export function isSha256Digest(value: string): boolean {
  return sha256DigestPattern.test(value);
}

function invalid(input: string, why: string): ImageError {
  return new ImageError("invalidReference", `invalid image reference "${input}": ${why}`);
}
