/**
 * A real OCI registry on loopback for tests: Debian's `docker-registry` (distribution 2.8) on a
 * free 127.0.0.1 port with its own temporary storage, optionally behind htpasswd basic auth or
 * token auth. For token auth this process runs the token service (Docker's
 * `WWW-Authenticate: Bearer realm=…` flow): it signs ES256 JWTs with a key whose self-signed
 * certificate the registry trusts, answers GET with basic credentials and POST with a refresh
 * token (identity token) or password grant, and records each request for assertions.
 * Images are pushed with skopeo. `stop()` stops everything and deletes the storage, also after
 * a failed start.
 *
 *   const registry = await startRegistry({ auth: "token" });
 *   try { await pushTestImage(registry, image); … } finally { await registry.stop(); }
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import {
  createPrivateKey,
  createPublicKey,
  createHash,
  randomBytes,
  sign,
  type KeyObject,
} from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { TestImage } from "./testImage";

const execFileAsync = promisify(execFile);

/** Which auth the registry demands. */
export type RegistryAuthMode = "none" | "basic" | "token";

export interface RegistryOptions {
  readonly auth?: RegistryAuthMode;
  /** Token mode: whether the token service grants `pull` to anonymous clients (default false). */
  readonly anonymousPull?: boolean;
}

/** One request the token service answered. */
export interface TokenRequest {
  readonly method: "GET" | "POST";
  /** `basic:<user>`, `refresh_token`, `password:<user>` or `anonymous`. */
  readonly credential: string;
  readonly scope: string;
  readonly status: number;
}

/** A running registry. */
export interface TestRegistry {
  /** `127.0.0.1:PORT`: the registry part of image references. */
  readonly host: string;
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  readonly auth: RegistryAuthMode;
  /** Basic and token modes: the one account (push and pull). */
  readonly username?: string;
  readonly password?: string;
  /** Token mode: a refresh token the token service accepts (OciRegistryAuthentication.identity_token). */
  readonly identityToken?: string;
  /** Token mode: every token request so far. */
  readonly tokenRequests: readonly TokenRequest[];
  /** Token mode: signs a registry token for a scope such as `repository:test/busybox:pull`. */
  issueToken(scope: string, options?: { expiresInSeconds?: number }): string;
  /**
   * Copies the layout's image tagged `from` (default: `tag`) to `<host>/<repository>:<tag>` with
   * skopeo, digests preserved; `all` pushes a whole index with every platform. Returns the
   * reference pushed, e.g. `127.0.0.1:PORT/test/busybox:1`.
   */
  push(
    layoutDir: string,
    repository: string,
    tag: string,
    options?: { from?: string; all?: boolean },
  ): Promise<string>;
  /** The registry's own log so far (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

const service = "styrolite-test-registry";
const issuer = "styrolite-test-issuer";

/** Starts a registry; see the file comment. Rejects (after cleaning up) when it does not come up in 15 s. */
export async function startRegistry(options: RegistryOptions = {}): Promise<TestRegistry> {
  const auth = options.auth ?? "none";
  const dir = await mkdtemp(join(tmpdir(), "zones-registry-"));
  let child: ChildProcess | undefined;
  let tokenServer: Server | undefined;
  let output = "";
  const tokenRequests: TokenRequest[] = [];

  const stop = async (): Promise<void> => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child!.once("exit", () => resolve()));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child?.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    }
    if (tokenServer) {
      tokenServer.closeAllConnections();
      await new Promise<void>((resolve) => tokenServer!.close(() => resolve()));
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const username = auth === "none" ? undefined : "zones";
    const password = auth === "none" ? undefined : randomBytes(12).toString("base64url");
    const identityToken = auth === "token" ? randomBytes(24).toString("base64url") : undefined;
    let authConfig = "";
    let issueToken: TestRegistry["issueToken"] = () => {
      throw new Error("issueToken needs a registry started with auth: 'token'");
    };

    if (auth === "basic") {
      const htpasswd = join(dir, "htpasswd");
      await writeFile(htpasswd, `${username!}:${await bcrypt(password!)}\n`, { mode: 0o600 });
      authConfig = `auth:\n  htpasswd:\n    realm: styrolite-test\n    path: ${htpasswd}\n`;
    } else if (auth === "token") {
      const keyPath = join(dir, "token.key");
      const certPath = join(dir, "token.crt");
      await execFileAsync("openssl", [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        keyPath,
        "-out",
        certPath,
        "-days",
        "2",
        "-subj",
        "/CN=styrolite-test-token",
      ]);
      const key = createPrivateKey(await readFile(keyPath));
      const kid = libtrustKeyId(createPublicKey(await readFile(certPath)));
      issueToken = (scope, opts) =>
        signToken(key, kid, username!, parseScopes([scope]), opts?.expiresInSeconds ?? 300);
      tokenServer = createServer((req, res) => {
        void handleTokenRequest(req, res, {
          username: username!,
          password: password!,
          identityToken: identityToken!,
          anonymousPull: options.anonymousPull === true,
          key,
          kid,
          record: (r) => tokenRequests.push(r),
        });
      });
      const tokenPort = await listen(tokenServer);
      authConfig =
        `auth:\n  token:\n    realm: http://127.0.0.1:${tokenPort}/token\n    service: ${service}\n` +
        `    issuer: ${issuer}\n    rootcertbundle: ${certPath}\n`;
    }

    const port = await freePort();
    const config = join(dir, "config.yml");
    await writeFile(
      config,
      `version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, "data")}\n` +
        `  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n  secret: ${randomBytes(16).toString("hex")}\n${authConfig}`,
    );
    child = spawn("/usr/bin/docker-registry", ["serve", config], { stdio: ["ignore", "pipe", "pipe"] });
    const collect = (chunk: Buffer): void => {
      output = (output + chunk.toString("utf8")).slice(-64 * 1024);
    };
    child.stdout!.on("data", collect);
    child.stderr!.on("data", collect);
    const url = `http://127.0.0.1:${port}`;
    await waitForRegistry(url, child, () => output);

    const host = `127.0.0.1:${port}`;
    return {
      host,
      url,
      auth,
      ...(username !== undefined ? { username } : {}),
      ...(password !== undefined ? { password } : {}),
      ...(identityToken !== undefined ? { identityToken } : {}),
      tokenRequests,
      issueToken,
      async push(layoutDir, repository, tag, pushOptions = {}) {
        const dest = `${host}/${repository}:${tag}`;
        const args = [
          "--insecure-policy",
          "copy",
          "--quiet",
          "--preserve-digests",
          "--dest-tls-verify=false",
          ...(username !== undefined ? ["--dest-creds", `${username}:${password!}`] : ["--dest-no-creds"]),
          ...(pushOptions.all ? ["--all"] : []),
          `oci:${layoutDir}:${pushOptions.from ?? tag}`,
          `docker://${dest}`,
        ];
        // Its own HOME: skopeo must not read or write the machine's container auth files.
        await execFileAsync("skopeo", args, {
          env: { ...process.env, HOME: dir, XDG_RUNTIME_DIR: dir },
        }).catch((err: Error & { stderr?: string }) => {
          throw new Error(
            `skopeo push to ${dest} failed: ${err.stderr?.trim() ?? err.message}\nregistry log:\n${output.slice(-2000)}`,
          );
        });
        return dest;
      },
      log: () => output,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Pushes the test image as `test/busybox:1` and its two-platform index as `test/busybox:multi`. */
export async function pushTestImage(
  registry: TestRegistry,
  image: TestImage,
  repository = "test/busybox",
): Promise<{ single: string; multi: string }> {
  const single = await registry.push(image.layoutDir, repository, "1", { from: image.tag });
  const multi = await registry.push(image.layoutDir, repository, "multi", {
    from: image.multiTag,
    all: true,
  });
  return { single, multi };
}

async function waitForRegistry(url: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `docker-registry exited (${child.exitCode ?? child.signalCode}) before serving:\n${log()}`,
      );
    }
    try {
      const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      if (res.status === 200 || res.status === 401) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline)
      throw new Error(`docker-registry did not answer on ${url} within 15 s:\n${log()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function freePort(): Promise<number> {
  const server = createNetServer();
  const port = await listen(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function listen(server: Server | ReturnType<typeof createNetServer>): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      if (typeof address === "object" && address) resolve(address.port);
      else reject(new Error("no port"));
    });
  });
}

/**
 * bcrypt through the system's libcrypt (Debian's libxcrypt knows `$2b$`), via perl, which every
 * Debian has. Cost 4, the minimum: the registry checks the hash on every request.
 */
async function bcrypt(password: string): Promise<string> {
  const alphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  const salt = [...randomBytes(22)].map((b) => alphabet[b % 64]).join("");
  const { stdout } = await execFileAsync("perl", ["-e", "print crypt($ENV{PW}, $ENV{SALT})"], {
    env: { ...process.env, PW: password, SALT: `$2b$04$${salt}` },
  });
  if (!stdout.startsWith("$2b$04$"))
    throw new Error(`this libcrypt cannot make bcrypt hashes (got "${stdout.slice(0, 10)}")`);
  return stdout;
}

/** The key ID distribution's token auth looks up (libtrust: base32 of SHA-256(SPKI)[:30], 4-char groups). */
function libtrustKeyId(publicKey: KeyObject): string {
  const der = publicKey.export({ type: "spki", format: "der" });
  const digest = createHash("sha256").update(der).digest().subarray(0, 30);
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0;
  let value = 0;
  let out = "";
  for (const byte of digest) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out.match(/.{4}/g)!.join(":");
}

interface Access {
  readonly type: string;
  readonly name: string;
  readonly actions: string[];
}

function parseScopes(scopes: readonly string[]): Access[] {
  const out: Access[] = [];
  for (const scope of scopes) {
    for (const part of scope.split(" ")) {
      const first = part.indexOf(":");
      const last = part.lastIndexOf(":");
      if (first <= 0 || last === first) continue;
      out.push({
        type: part.slice(0, first),
        name: part.slice(first + 1, last),
        actions: part
          .slice(last + 1)
          .split(",")
          .filter(Boolean),
      });
    }
  }
  return out;
}

function signToken(
  key: KeyObject,
  kid: string,
  subject: string,
  access: readonly Access[],
  expiresInSeconds: number,
): string {
  const now = Math.floor(Date.now() / 1000);
  const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString("base64url");
  const header = b64({ typ: "JWT", alg: "ES256", kid });
  const claims = b64({
    iss: issuer,
    sub: subject,
    aud: service,
    exp: now + expiresInSeconds,
    nbf: now - 5,
    iat: now,
    jti: randomBytes(8).toString("hex"),
    access,
  });
  const signature = sign("sha256", Buffer.from(`${header}.${claims}`), {
    key,
    dsaEncoding: "ieee-p1363",
  }).toString("base64url");
  return `${header}.${claims}.${signature}`;
}

async function handleTokenRequest(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: {
    username: string;
    password: string;
    identityToken: string;
    anonymousPull: boolean;
    key: KeyObject;
    kid: string;
    record: (r: TokenRequest) => void;
  },
): Promise<void> {
  const url = new URL(req.url ?? "/", "http://token");
  const reply = (status: number, body: unknown, credential: string, scope: string): void => {
    ctx.record({ method: req.method === "POST" ? "POST" : "GET", credential, scope, status });
    res.writeHead(status, { "Content-Type": "application/json" });
    res.end(JSON.stringify(body));
  };
  if (url.pathname !== "/token")
    return reply(404, { errors: [{ code: "NOT_FOUND", message: "no such endpoint" }] }, "none", "");

  let scopes = url.searchParams.getAll("scope");
  let credential = "anonymous";
  let authenticated = false;
  let refresh: string | undefined;
  if (req.method === "POST") {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const form = new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
    scopes = form.getAll("scope").flatMap((s) => s.split(" "));
    const grant = form.get("grant_type");
    if (grant === "refresh_token") {
      credential = "refresh_token";
      authenticated = form.get("refresh_token") === ctx.identityToken;
    } else if (grant === "password") {
      credential = `password:${form.get("username") ?? ""}`;
      authenticated = form.get("username") === ctx.username && form.get("password") === ctx.password;
      refresh = ctx.identityToken;
    } else {
      return reply(400, { error: "unsupported_grant_type" }, `grant:${grant ?? ""}`, scopes.join(" "));
    }
  } else {
    const header = req.headers.authorization;
    if (header?.startsWith("Basic ")) {
      const decoded = Buffer.from(header.slice(6), "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      const user = decoded.slice(0, colon);
      credential = `basic:${user}`;
      authenticated = user === ctx.username && decoded.slice(colon + 1) === ctx.password;
    }
  }
  const scope = scopes.join(" ");
  if (credential !== "anonymous" && !authenticated) {
    return reply(
      401,
      { errors: [{ code: "UNAUTHORIZED", message: "invalid username, password or token" }] },
      credential,
      scope,
    );
  }
  const requested = parseScopes(scopes);
  const granted = requested
    .map((a) => ({
      ...a,
      actions: a.actions.filter((act) => authenticated || (ctx.anonymousPull && act === "pull")),
    }))
    .filter((a) => a.actions.length > 0);
  const token = signToken(ctx.key, ctx.kid, authenticated ? ctx.username : "", granted, 300);
  reply(
    200,
    {
      token,
      access_token: token,
      expires_in: 300,
      issued_at: new Date().toISOString(),
      ...(refresh ? { refresh_token: refresh } : {}),
    },
    credential,
    scope,
  );
}
