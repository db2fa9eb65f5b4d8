import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ImageError } from "../../../../extension/core/registry/imageError";
import {
  formatReference,
  normalizeName,
  parseReference,
  storedName,
} from "../../../../extension/core/registry/reference";
import {
  RegistryClient,
  isLoopbackRegistry,
  parseChallenge,
  redirectRefusal,
  registryBaseUrl,
} from "../../../../extension/core/registry/registryClient";

const digest = `sha256:${"ab".repeat(32)}`;

describe("parseReference normalises like docker pull", () => {
  const cases: [string, string][] = [
    ["busybox", "docker.io/library/busybox:latest"],
    ["busybox:1.36", "docker.io/library/busybox:1.36"],
    ["library/busybox", "docker.io/library/busybox:latest"],
    ["user/app", "docker.io/user/app:latest"],
    ["index.docker.io/user/app:v1", "docker.io/user/app:v1"],
    ["docker.io/busybox", "docker.io/library/busybox:latest"],
    ["ghcr.io/edera-dev/thing:1.0", "ghcr.io/edera-dev/thing:1.0"],
    ["localhost/app", "localhost/app:latest"],
    ["localhost:5000/app", "localhost:5000/app:latest"],
    ["127.0.0.1:5000/test/busybox:1", "127.0.0.1:5000/test/busybox:1"],
    ["Registry.Example/app", "Registry.Example/app:latest"],
    ["a/b/c/d:tag", "docker.io/a/b/c/d:tag"],
    ["my-app__x.y", "docker.io/library/my-app__x.y:latest"],
    [`busybox@${digest}`, `docker.io/library/busybox@${digest}`],
    [`busybox:1@${digest}`, `docker.io/library/busybox:1@${digest}`],
  ];
  for (const [input, expected] of cases) {
    test(`${input} → ${expected}`, () => assert.equal(formatReference(parseReference(input)), expected));
  }

  test("a port is not mistaken for a tag", () => {
    const ref = parseReference("localhost:5000/app");
    assert.equal(ref.domain, "localhost:5000");
    assert.equal(ref.path, "app");
    assert.equal(ref.tag, "latest");
  });

  test("a pinned digest keeps no default tag", () => {
    const ref = parseReference(`busybox@${digest}`);
    assert.equal(ref.tag, undefined);
    assert.equal(ref.digest, digest);
  });
});

describe("parseReference refuses what Docker refuses", () => {
  const bad = [
    "",
    "  ",
    "Busybox",
    "user/App",
    "busybox:",
    "busybox:-bad",
    "busybox@sha256:abc",
    "busybox@notadigest",
    "a//b",
    "-a/b",
    "a/b-",
    "a:b:c",
    `x:${"t".repeat(129)}`,
    "bad host!/x",
  ];
  for (const input of bad) {
    test(JSON.stringify(input), () => {
      assert.throws(
        () => parseReference(input),
        (err) => ImageError.is(err, "invalidReference") && err.message.includes("invalid image reference"),
      );
    });
  }
});

describe("stored names", () => {
  test("a tag wins over a pinned digest; a digest alone stays", () => {
    assert.equal(storedName(parseReference(`busybox:1@${digest}`)), "docker.io/library/busybox:1");
    assert.equal(storedName(parseReference(`busybox@${digest}`)), `docker.io/library/busybox@${digest}`);
  });
  test("normalizeName says undefined for garbage instead of throwing", () => {
    assert.equal(normalizeName("busybox"), "docker.io/library/busybox:latest");
    assert.equal(normalizeName("Not Valid"), undefined);
  });
});

describe("registry endpoints", () => {
  test("plain HTTP only for loopback, like Docker's insecure default", () => {
    assert.equal(registryBaseUrl("127.0.0.1:5000"), "http://127.0.0.1:5000");
    assert.equal(registryBaseUrl("localhost:5000"), "http://localhost:5000");
    assert.equal(registryBaseUrl("127.1.2.3"), "http://127.1.2.3");
    assert.equal(registryBaseUrl("[::1]:5000"), "http://[::1]:5000");
    assert.equal(registryBaseUrl("registry.example:5000"), "https://registry.example:5000");
    assert.equal(registryBaseUrl("127.0.0.1.nip.io"), "https://127.0.0.1.nip.io");
    assert.equal(registryBaseUrl("docker.io"), "https://registry-1.docker.io");
    assert.equal(isLoopbackRegistry("localhostile.example"), false);
  });

  test("WWW-Authenticate challenges parse, quoted commas included", () => {
    const c = parseChallenge(
      'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"',
    );
    assert.deepEqual(c, {
      scheme: "bearer",
      params: {
        realm: "https://auth.example/token",
        service: "registry.example",
        scope: "repository:a/b:pull,push",
      },
    });
    assert.deepEqual(parseChallenge('Basic realm="Registry Realm"'), {
      scheme: "basic",
      params: { realm: "Registry Realm" },
    });
    assert.deepEqual(parseChallenge("Bearer realm=unquoted, error=insufficient_scope"), {
      scheme: "bearer",
      params: { realm: "unquoted", error: "insufficient_scope" },
    });
    assert.equal(parseChallenge(""), undefined);
    assert.equal(parseChallenge(null), undefined);
  });
});

test("a digest of another algorithm is refused: it would be taken on trust, never hashed", () => {
  assert.throws(
    () => parseReference(`busybox@sha512:${"ab".repeat(64)}`),
    (err) =>
      ImageError.is(err, "invalidReference") && /"sha512" digests cannot be verified/.test(err.message),
  );
});

test("a registry's redirects are followed only over HTTPS, never to private addresses; credentials stay home", async () => {
  const { createServer } = await import("node:http");
  const seen: { url: string; auth?: string | undefined }[] = [];
  let target = "";
  const server = createServer((req, res) => {
    seen.push({ url: req.url ?? "", auth: req.headers.authorization });
    if (req.url?.startsWith("/v2/x/manifests/")) {
      res.writeHead(307, { location: target });
      res.end();
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as { port: number }).port;
  try {
    const client = new RegistryClient(`127.0.0.1:${port}`, "x", {
      auth: { kind: "registryToken", token: "secret" },
    });
    for (const [to, why] of [
      ["http://example.com/steal", /only HTTPS redirects/],
      ["https://169.254.169.254/latest/meta-data", /private or local address/],
      ["file:///etc/passwd", /only HTTPS redirects/],
    ] as const) {
      target = to;
      await assert.rejects(client.getManifest("1"), (err: Error) => why.test(err.message), to);
    }
    // Loopback to loopback over HTTP is a local test registry: followed, but another host gets no token.
    target = `http://localhost:${port}/elsewhere`;
    await assert.rejects(client.getManifest("1"));
    assert.equal(seen.at(-1)?.url, "/elsewhere");
    assert.equal(seen.at(-1)?.auth, undefined, "the token went to another host");
  } finally {
    server.close();
  }
  assert.equal(
    redirectRefusal("https://registry.example", new URL("https://10.1.2.3/x")),
    "a private or local address",
  );
  assert.equal(redirectRefusal("https://registry.example", new URL("https://cdn.example/blob")), undefined);
});
