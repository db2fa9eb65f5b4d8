import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { isAbortError } from "../abort";
import { messageOf } from "../errors";
import { silentLogger, type Logger } from "../log";
import { ImageError, type ImageErrorReason } from "./imageError";
import { manifestAccept } from "./mediaTypes";
import { dockerHubDomain } from "./reference";

/**
 * Registry credentials, one per `OciRegistryAuthentication` method:
 * - `usernamePassword` / `rawBasic` (base64 of `user:password`): HTTP basic, sent to the registry
 *   when it asks for basic auth, or to the token service when it asks for a bearer token;
 * - `identityToken`: an OAuth2 refresh token, exchanged at the token service (`grant_type=refresh_token`);
 * - `registryToken`: a bearer token sent to the registry as is.
 */
export type RegistryAuth =
  | { readonly kind: "usernamePassword"; readonly username: string; readonly password: string }
  | { readonly kind: "rawBasic"; readonly value: string }
  | { readonly kind: "identityToken"; readonly token: string }
  | { readonly kind: "registryToken"; readonly token: string };

/** Options for a client bound to one repository. */
export interface RegistryClientOptions {
  readonly auth?: RegistryAuth;
  readonly logger?: Logger;
  readonly signal?: AbortSignal;
}

/** A fetched manifest, verified against its digest. */
export interface FetchedManifest {
  readonly bytes: Buffer;
  readonly contentType: string | undefined;
  readonly digest: string;
}

/** An open blob download. */
export interface BlobStream {
  readonly body: AsyncIterable<Uint8Array>;
  /** From Content-Length, when the registry sent it. */
  readonly size: number | undefined;
}

/** A parsed `WWW-Authenticate` challenge. */
export interface AuthChallenge {
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

const maxManifestBytes = 4 * 1024 * 1024;
const clientId = "styrolite-zones";

/**
 * Whether a registry host is spoken to over plain HTTP. Like Docker's default insecure range,
 * only loopback: `localhost`, 127.0.0.0/8 and `[::1]`, with any port. Everything else is HTTPS.
 */
export function isLoopbackRegistry(domain: string): boolean {
  const host = domain.startsWith("[") ? domain.slice(0, domain.indexOf("]") + 1) : domain.split(":")[0]!;
  return host === "localhost" || host === "[::1]" || /^127(?:\.\d{1,3}){3}$/.test(host);
}

/** The base URL of a registry's v2 API: Docker Hub's real host, http for loopback, https otherwise. */
export function registryBaseUrl(domain: string): string {
  if (domain === dockerHubDomain) return "https://registry-1.docker.io";
  return `${isLoopbackRegistry(domain) ? "http" : "https"}://${domain}`;
}

/**
 * Parses a `WWW-Authenticate` header (RFC 7235): `Bearer realm="…",service="…",scope="…"`.
 * Returns the first challenge; quoted values may contain commas.
 */
export function parseChallenge(header: string | null | undefined): AuthChallenge | undefined {
  if (!header) return undefined;
  const match = /^\s*([A-Za-z][A-Za-z0-9_-]*)\s*(.*)$/s.exec(header);
  if (!match) return undefined;
  const params: Record<string, string> = {};
  const paramPattern = /([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?\s*/gy;
  const rest = match[2] ?? "";
  let m: RegExpExecArray | null;
  while ((m = paramPattern.exec(rest)) !== null && m[0] !== "") {
    params[m[1]!.toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, "$1") : (m[3] ?? "");
  }
  return { scheme: match[1]!.toLowerCase(), params };
}

/**
 * A client for one repository on one registry, speaking the OCI distribution API: manifests and
 * blobs, with the auth dance Docker does — try anonymously, and on a 401 follow the challenge:
 * basic credentials, or a bearer token from the realm the challenge names (scope
 * `repository:<repo>:pull`). Credentials never go to a plain-HTTP token service off loopback.
 */
export class RegistryClient {
  readonly baseUrl: string;
  readonly #domain: string;
  readonly #repository: string;
  readonly #auth: RegistryAuth | undefined;
  readonly #logger: Logger;
  readonly #signal: AbortSignal | undefined;
  #authorization: string | undefined;

  constructor(domain: string, repository: string, options: RegistryClientOptions = {}) {
    this.#domain = domain;
    this.#repository = repository;
    this.baseUrl = registryBaseUrl(domain);
    this.#auth = options.auth;
    this.#logger = options.logger ?? silentLogger;
    this.#signal = options.signal;
    if (options.auth?.kind === "registryToken") this.#authorization = `Bearer ${options.auth.token}`;
  }

  /** GET a manifest by tag or digest. Verifies its digest when the reference or registry names one. */
  async getManifest(reference: string): Promise<FetchedManifest> {
    const res = await this.#request(`/v2/${this.#repository}/manifests/${reference}`, {
      Accept: manifestAccept,
    });
    if (!res.ok) throw await this.#failure(res, `manifest ${this.#repository}:${reference}`);
    const declared = Number(res.headers.get("content-length") ?? "0");
    if (declared > maxManifestBytes) {
      await res.body?.cancel();
      throw new ImageError(
        "invalidImage",
        `manifest ${reference} is ${declared} bytes; the limit is ${maxManifestBytes}`,
      );
    }
    // Read with the limit as it comes: a body without Content-Length must not be taken whole first.
    const bytes = await readLimited(res, maxManifestBytes, `manifest ${reference}`);
    const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
    const expected = reference.includes(":") ? reference : res.headers.get("docker-content-digest");
    if (expected && !expected.startsWith("sha256:"))
      throw new ImageError(
        "digestMismatch",
        `manifest ${this.#repository}:${reference}: "${expected}" cannot be verified (sha256 only)`,
      );
    if (expected && expected !== digest) {
      throw new ImageError(
        "digestMismatch",
        `manifest ${this.#repository}:${reference} hashes to ${digest}, expected ${expected}`,
      );
    }
    return { bytes, contentType: res.headers.get("content-type") ?? undefined, digest };
  }

  /** GET a blob; the caller verifies its digest while consuming it. */
  async openBlob(digest: string): Promise<BlobStream> {
    const res = await this.#request(`/v2/${this.#repository}/blobs/${digest}`, {});
    if (!res.ok || !res.body) throw await this.#failure(res, `blob ${digest}`);
    const length = res.headers.get("content-length");
    return {
      body: Readable.fromWeb(res.body as WebReadableStream<Uint8Array>),
      size: length !== null ? Number(length) : undefined,
    };
  }

  async #request(path: string, headers: Record<string, string>): Promise<Response> {
    const url = `${this.baseUrl}${path}`;
    for (let attempt = 0; ; attempt++) {
      const sentAuthorization = this.#authorization;
      const res = await this.#fetch(url, {
        headers: { ...headers, ...(sentAuthorization ? { Authorization: sentAuthorization } : {}) },
      });
      this.#logger.debug(`registry GET ${url} → ${res.status}`);
      if (res.status !== 401 || attempt > 0) return res;
      const challenge = parseChallenge(res.headers.get("www-authenticate"));
      if (!challenge) return res;
      if (challenge.scheme === "bearer") {
        if (this.#auth?.kind === "registryToken") return res; // the token we were given was refused
        await res.body?.cancel();
        this.#authorization = `Bearer ${await this.#fetchToken(challenge)}`;
      } else if (challenge.scheme === "basic") {
        const basic = this.#basic();
        if (!basic) return res;
        await res.body?.cancel();
        this.#authorization = `Basic ${basic}`;
      } else {
        return res;
      }
      if (this.#authorization === sentAuthorization) return res;
    }
  }

  async #fetchToken(challenge: AuthChallenge): Promise<string> {
    const realm = challenge.params.realm;
    if (!realm)
      throw new ImageError(
        "registryError",
        `${this.#domain} asked for a bearer token without naming a realm`,
      );
    let realmUrl: URL;
    try {
      realmUrl = new URL(realm);
    } catch {
      throw new ImageError("registryError", `${this.#domain} named an invalid token realm "${realm}"`);
    }
    const hasCredentials = this.#auth !== undefined;
    if (hasCredentials && realmUrl.protocol !== "https:" && !isLoopbackRegistry(realmUrl.host)) {
      throw new ImageError(
        "denied",
        `refusing to send credentials to a plain-HTTP token service (${realmUrl.origin})`,
      );
    }
    if (hasCredentials && realmUrl.host !== new URL(this.baseUrl).host)
      this.#logger.warn(
        `registry ${this.#domain} sends credentials for a token to another host: ${realmUrl.origin}`,
      );
    const scope = challenge.params.scope ?? `repository:${this.#repository}:pull`;
    const service = challenge.params.service;
    let res: Response;
    if (this.#auth?.kind === "identityToken") {
      const form = new URLSearchParams({
        grant_type: "refresh_token",
        refresh_token: this.#auth.token,
        client_id: clientId,
        scope,
      });
      if (service) form.set("service", service);
      res = await this.#fetch(realmUrl.toString(), {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: form.toString(),
      });
    } else {
      realmUrl.searchParams.set("scope", scope);
      if (service) realmUrl.searchParams.set("service", service);
      realmUrl.searchParams.set("client_id", clientId);
      const basic = this.#basic();
      res = await this.#fetch(realmUrl.toString(), {
        headers: basic ? { Authorization: `Basic ${basic}` } : {},
      });
    }
    this.#logger.debug(
      `registry token from ${realmUrl.origin}${realmUrl.pathname} (scope ${scope}) → ${res.status}`,
    );
    if (!res.ok) {
      const detail = await errorDetail(res);
      const reason: ImageErrorReason =
        res.status === 401 ? "unauthorized" : res.status === 403 ? "denied" : "registryError";
      throw new ImageError(
        reason,
        `token service for ${this.#domain} refused (${res.status})${detail ? `: ${detail}` : ""}`,
      );
    }
    let body: unknown;
    try {
      body = await res.json();
    } catch {
      throw new ImageError("registryError", `token service for ${this.#domain} did not answer with JSON`);
    }
    const token =
      (body as { token?: unknown; access_token?: unknown }).token ??
      (body as { access_token?: unknown }).access_token;
    if (typeof token !== "string" || token === "") {
      throw new ImageError("registryError", `token service for ${this.#domain} answered without a token`);
    }
    return token;
  }

  #basic(): string | undefined {
    const auth = this.#auth;
    if (auth?.kind === "usernamePassword")
      return Buffer.from(`${auth.username}:${auth.password}`).toString("base64");
    if (auth?.kind === "rawBasic") return auth.value;
    return undefined;
  }

  /**
   * One request, following redirects ourselves: fetch would follow any Location, to any scheme
   * and host. Each hop must stay HTTPS (plain HTTP only from a loopback registry to loopback)
   * and may not lead to a private, loopback or link-local address (a loopback registry may stay
   * on loopback);
   * credentials never go to another host.
   */
  async #fetch(url: string, init: RequestInit): Promise<Response> {
    let current = new URL(url);
    let request = init;
    for (let hop = 0; ; hop++) {
      const res = await this.#fetchOnce(current.toString(), request);
      const location = res.status >= 300 && res.status < 400 ? res.headers.get("location") : null;
      if (location === null) return res;
      await res.body?.cancel();
      if (hop >= 5) throw new ImageError("registryError", `${this.#domain}: too many redirects`);
      const next = new URL(location, current);
      const why = redirectRefusal(this.baseUrl, next);
      if (why) throw new ImageError("registryError", `${this.#domain} redirected to ${next.origin}: ${why}`);
      if (next.host !== current.host) {
        const headers = new Headers(request.headers);
        headers.delete("authorization");
        request = { ...request, headers };
      }
      current = next;
    }
  }

  async #fetchOnce(url: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(url, {
        ...init,
        redirect: "manual",
        ...(this.#signal ? { signal: this.#signal } : {}),
      });
    } catch (err) {
      if (this.#signal?.aborted || isAbortError(err)) throw err;
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? messageOf(err);
      throw new ImageError("unreachable", `cannot reach ${new URL(url).origin}: ${why}`, { cause: err });
    }
  }

  async #failure(res: Response, what: string): Promise<ImageError> {
    const detail = await errorDetail(res);
    const suffix = detail ? `: ${detail}` : "";
    switch (res.status) {
      case 401:
        return new ImageError("unauthorized", `${this.#domain} requires authentication for ${what}${suffix}`);
      case 403:
        return new ImageError("denied", `${this.#domain} denied access to ${what}${suffix}`);
      case 404:
        return new ImageError("notFound", `${this.#domain} has no ${what}${suffix}`);
      default:
        return new ImageError("registryError", `${this.#domain} answered ${res.status} for ${what}${suffix}`);
    }
  }
}

/** The registry's own words from an error body (`{"errors":[{"code","message"}]}`), one line. */
async function errorDetail(res: Response): Promise<string> {
  let text: string;
  try {
    text = await res.text();
  } catch {
    return "";
  }
  try {
    const body = JSON.parse(text) as {
      errors?: { code?: string; message?: string }[];
      error?: string;
      details?: string;
    };
    if (Array.isArray(body.errors) && body.errors.length > 0) {
      return body.errors.map((e) => [e.code, e.message].filter(Boolean).join(": ")).join("; ");
    }
    if (typeof body.error === "string") return body.details ? `${body.error}: ${body.details}` : body.error;
  } catch {
    // not JSON: fall through to the text itself
  }
  return text.replace(/\s+/g, " ").trim().slice(0, 200);
}

/** A response body, refused as soon as it passes `limit` bytes. */
async function readLimited(res: Response, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  const reader = res.body?.getReader();
  if (!reader) return Buffer.alloc(0);
  for (;;) {
    const next = (await reader.read()) as { done: boolean; value?: Uint8Array };
    if (next.done || !next.value) break;
    const value = next.value;
    total += value.length;
    if (total > limit) {
      await reader.cancel();
      throw new ImageError("invalidImage", `${what} is larger than ${limit} bytes`);
    }
    chunks.push(Buffer.from(value));
  }
  return Buffer.concat(chunks);
}

/** Why a redirect from the registry at `base` to `next` is refused, or undefined. */
export function redirectRefusal(base: string, next: URL): string | undefined {
  const fromLoopback = isLoopbackRegistry(new URL(base).host);
  if (
    next.protocol !== "https:" &&
    !(next.protocol === "http:" && fromLoopback && isLoopbackRegistry(next.host))
  )
    return "only HTTPS redirects are followed";
  if (isPrivateHost(next.hostname) && !(fromLoopback && isLoopbackRegistry(next.host)))
    return "a private or local address";
  return undefined;
}

/** Loopback, private, link-local and unspecified addresses (IP literals and localhost). */
function isPrivateHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (h === "localhost" || h.endsWith(".localhost")) return true;
  const v4 = /^(\d{1,3})\.(\d{1,3})\.\d{1,3}\.\d{1,3}$/.exec(h);
  if (v4) {
    const [a, b] = [Number(v4[1]), Number(v4[2])];
    return (
      a === 0 ||
      a === 10 ||
      a === 127 ||
      (a === 169 && b === 254) ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 100 && b >= 64 && b <= 127)
    );
  }
  return (
    h === "::" ||
    h === "::1" ||
    h.startsWith("fe80:") ||
    h.startsWith("fc") ||
    h.startsWith("fd") ||
    h.startsWith("::ffff:")
  );
}
