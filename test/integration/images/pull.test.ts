// PullImage against real docker-registry processes on loopback (anonymous, htpasswd basic, token
// auth with our token service), through gRPC on a unix socket into a real on-disk ImageStore.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import {
  OciImageFormat,
  OciImageProgressLayerPhase,
  OciImageProgressPhase,
  type OciImageProgress,
} from "../../../extension/proto/gen/protect/control/v1/common_pb";
import type {
  ControlService,
  PullImageReply,
  PullImageRequestSchema,
} from "../../../extension/proto/gen/protect/control/v1/control_pb";
import { pushTestImage, startRegistry, type TestRegistry } from "../../harness/registry";
import { buildTestImage, type TestImage } from "../../harness/testImage";
import { startImageServer, type ImageServer } from "./imageServer";

let work: string;
let image: TestImage;
let anonymous: TestRegistry;
let basic: TestRegistry;
let token: TestRegistry;
const timings: Record<string, number> = {};

before(async () => {
  work = mkdtempSync(join(tmpdir(), "zones-pull-it-"));
  image = await buildTestImage(join(work, "image"));
  [anonymous, basic, token] = await Promise.all([
    startRegistry(),
    startRegistry({ auth: "basic" }),
    startRegistry({ auth: "token" }),
  ]);
  for (const r of [anonymous, basic, token]) await pushTestImage(r, image);
});

after(async () => {
  await Promise.all([anonymous?.stop(), basic?.stop(), token?.stop()]);
  rmSync(work, { recursive: true, force: true });
  if (Object.keys(timings).length) console.log(`timings (ms): ${JSON.stringify(timings)}`);
});

type PullInit = MessageInitShape<typeof PullImageRequestSchema>;

async function pull(
  client: Client<typeof ControlService>,
  req: PullInit,
): Promise<{ replies: PullImageReply[]; progress: OciImageProgress[]; ms: number }> {
  const started = performance.now();
  const replies: PullImageReply[] = [];
  for await (const reply of client.pullImage(req)) replies.push(reply);
  return {
    replies,
    progress: replies.flatMap((r) => (r.progress ? [r.progress] : [])),
    ms: Math.round(performance.now() - started),
  };
}

async function pullError(client: Client<typeof ControlService>, req: PullInit): Promise<ConnectError> {
  try {
    await pull(client, req);
  } catch (err) {
    return ConnectError.from(err);
  }
  assert.fail("the pull succeeded");
}

function phasesOf(progress: readonly OciImageProgress[]): OciImageProgressPhase[] {
  const out: OciImageProgressPhase[] = [];
  for (const p of progress) if (out.at(-1) !== p.phase) out.push(p.phase);
  return out;
}

const P = OciImageProgressPhase;
const L = OciImageProgressLayerPhase;

describe("pull from an anonymous registry", () => {
  let server: ImageServer;
  before(async () => {
    server = await startImageServer();
  });
  after(async () => server?.close());

  test("pulls the image with real progress and a runnable root filesystem", async () => {
    const { replies, progress, ms } = await pull(server.client, {
      image: `${anonymous.host}/test/busybox:1`,
      wantMetadata: true,
    });
    timings.pullAnonymous = ms;
    const final = replies.at(-1)!;
    assert.equal(final.spec?.digest, image.manifestDigest);
    assert.equal(final.spec?.format, OciImageFormat.DIRECTORY);
    assert.deepEqual(
      Buffer.from(final.metadata!.manifest),
      readFileSync(join(image.layoutDir, "blobs/sha256", image.manifestDigest.slice(7))),
    );

    assert.deepEqual(phasesOf(progress), [
      P.STARTED,
      P.RESOLVING,
      P.RESOLVED,
      P.CONFIG_DOWNLOAD,
      P.LAYER_DOWNLOAD,
      P.ASSEMBLE,
      P.COMPLETE,
    ]);
    for (const layer of image.layers) {
      const states = progress
        .map((p) => p.layers.find((l) => l.id === layer.digest))
        .filter((l) => l !== undefined);
      const phases = [...new Set(states.map((s) => s.phase))];
      assert.deepEqual(
        phases,
        [L.WAITING, L.DOWNLOADING, L.DOWNLOADED, L.EXTRACTING, L.EXTRACTED],
        `layer ${layer.digest}`,
      );
      const bars = states.filter((s) => s.phase === L.DOWNLOADING).map((s) => s.indication?.indication);
      for (const bar of bars) {
        assert.ok(
          bar?.case === "bar" && bar.value.isBytes && bar.value.total === BigInt(layer.size),
          "bar totals are the real layer size",
        );
        assert.ok(bar.value.current > 0n && bar.value.current <= bar.value.total);
      }
      const done = states.find((s) => s.phase === L.DOWNLOADED)?.indication?.indication;
      assert.ok(done?.case === "completed" && done.value.total === BigInt(layer.size));
    }
    assert.ok(progress.length < 60, `progress is not chatty (${progress.length} messages)`);

    const stored = server.store.get(image.manifestDigest)!;
    assert.deepEqual(stored.names, [`${anonymous.host}/test/busybox:1`]);
    assert.deepEqual(stored.config.env, image.config.env);
    // The unpacked busybox really runs (it is static): proof the bytes survived.
    const out = execFileSync(join(stored.rootfsDir, "bin/busybox"), ["echo", "hello from the pulled image"], {
      encoding: "utf8",
    });
    assert.equal(out, "hello from the pulled image\n");
    assert.equal(existsSync(join(stored.rootfsDir, "etc/removed-by-layer2")), false);
    assert.deepEqual(readdirSync(join(stored.rootfsDir, "opt/replaced")), ["new.txt"]);
  });

  test("pulling again is served from the store; update re-resolves but downloads nothing", async () => {
    const again = await pull(server.client, { image: `${anonymous.host}/test/busybox:1` });
    timings.repullCached = again.ms;
    assert.deepEqual(phasesOf(again.progress), [P.STARTED, P.COMPLETE]);
    assert.equal(again.replies.at(-1)?.spec?.digest, image.manifestDigest);

    const updated = await pull(server.client, { image: `${anonymous.host}/test/busybox:1`, update: true });
    timings.repullUpdate = updated.ms;
    assert.deepEqual(phasesOf(updated.progress), [P.STARTED, P.RESOLVING, P.RESOLVED, P.COMPLETE]);
  });

  test("overwrite_cache downloads and unpacks again", async () => {
    const { progress, replies } = await pull(server.client, {
      image: `${anonymous.host}/test/busybox:1`,
      overwriteCache: true,
    });
    assert.ok(phasesOf(progress).includes(P.LAYER_DOWNLOAD));
    assert.ok(progress.some((p) => p.layers.some((l) => l.phase === L.DOWNLOADING)));
    assert.equal(replies.at(-1)?.spec?.digest, image.manifestDigest);
    assert.ok(existsSync(join(server.store.get(image.manifestDigest)!.rootfsDir, "bin/busybox")));
  });

  test("a manifest list resolves to this platform, not to its first entry", async () => {
    const { replies } = await pull(server.client, { image: `${anonymous.host}/test/busybox:multi` });
    assert.equal(replies.at(-1)?.spec?.digest, image.manifestDigest);
    assert.notEqual(replies.at(-1)?.spec?.digest, image.otherPlatform.manifestDigest);
    assert.deepEqual(server.store.get(image.manifestDigest)?.names.sort(), [
      `${anonymous.host}/test/busybox:1`,
      `${anonymous.host}/test/busybox:multi`,
    ]);
  });

  test("by digest", async () => {
    const { replies } = await pull(server.client, {
      image: `${anonymous.host}/test/busybox@${image.manifestDigest}`,
      update: true,
    });
    assert.equal(replies.at(-1)?.spec?.digest, image.manifestDigest);
  });

  test("a squashfs request is served as a directory, and the reply says so", async () => {
    const { replies } = await pull(server.client, {
      image: `${anonymous.host}/test/busybox:1`,
      format: OciImageFormat.SQUASHFS,
    });
    assert.equal(replies.at(-1)?.spec?.format, OciImageFormat.DIRECTORY);
  });

  test("unknown repository or tag: NotFound with the registry's words", async () => {
    const repo = await pullError(server.client, { image: `${anonymous.host}/test/nothing:1` });
    assert.equal(repo.code, Code.NotFound);
    assert.match(repo.rawMessage, /NAME_UNKNOWN|MANIFEST_UNKNOWN/);
    const tag = await pullError(server.client, { image: `${anonymous.host}/test/busybox:nope` });
    assert.equal(tag.code, Code.NotFound);
    assert.match(tag.rawMessage, /MANIFEST_UNKNOWN/);
  });

  test("bad reference: InvalidArgument; nobody listening: Unavailable", async () => {
    const bad = await pullError(server.client, { image: "Not/A Reference" });
    assert.equal(bad.code, Code.InvalidArgument);
    const port = await closedPort();
    const down = await pullError(server.client, { image: `127.0.0.1:${port}/test/busybox:1` });
    assert.equal(down.code, Code.Unavailable);
    assert.match(down.rawMessage, /ECONNREFUSED/);
  });
});

describe("pull with basic auth (htpasswd)", () => {
  let server: ImageServer;
  before(async () => {
    server = await startImageServer();
  });
  after(async () => server?.close());

  test("without credentials: Unauthenticated", async () => {
    const err = await pullError(server.client, { image: `${basic.host}/test/busybox:1` });
    assert.equal(err.code, Code.Unauthenticated);
    assert.match(err.rawMessage, /UNAUTHORIZED/);
  });

  test("a wrong password: Unauthenticated", async () => {
    const err = await pullError(server.client, {
      image: `${basic.host}/test/busybox:1`,
      auth: {
        authenticationMethod: {
          case: "usernamePassword",
          value: { username: basic.username!, password: "wrong" },
        },
      },
    });
    assert.equal(err.code, Code.Unauthenticated);
  });

  test("username_password and raw_basic_auth both pull", async () => {
    const { replies, ms } = await pull(server.client, {
      image: `${basic.host}/test/busybox:1`,
      auth: {
        authenticationMethod: {
          case: "usernamePassword",
          value: { username: basic.username!, password: basic.password! },
        },
      },
    });
    timings.pullBasic = ms;
    assert.equal(replies.at(-1)?.spec?.digest, image.manifestDigest);
    const raw = Buffer.from(`${basic.username!}:${basic.password!}`).toString("base64");
    const again = await pull(server.client, {
      image: `${basic.host}/test/busybox:multi`,
      overwriteCache: true,
      auth: { authenticationMethod: { case: "rawBasicAuth", value: raw } },
    });
    assert.equal(again.replies.at(-1)?.spec?.digest, image.manifestDigest);
  });
});

describe("pull with token auth (bearer challenge)", () => {
  let server: ImageServer;
  before(async () => {
    server = await startImageServer();
  });
  after(async () => server?.close());

  test("anonymous: the token service grants nothing, so Unauthenticated", async () => {
    const err = await pullError(server.client, { image: `${token.host}/test/busybox:1` });
    assert.equal(err.code, Code.Unauthenticated);
    assert.ok(token.tokenRequests.some((r) => r.credential === "anonymous"));
  });

  test("a wrong password: Unauthenticated, with the token service's message", async () => {
    const err = await pullError(server.client, {
      image: `${token.host}/test/busybox:1`,
      auth: {
        authenticationMethod: {
          case: "usernamePassword",
          value: { username: token.username!, password: "wrong" },
        },
      },
    });
    assert.equal(err.code, Code.Unauthenticated);
    assert.match(err.rawMessage, /invalid username, password or token/);
  });

  test("username_password: a token for repository:test/busybox:pull via GET with basic auth", async () => {
    const before = token.tokenRequests.length;
    const { replies, ms } = await pull(server.client, {
      image: `${token.host}/test/busybox:1`,
      auth: {
        authenticationMethod: {
          case: "usernamePassword",
          value: { username: token.username!, password: token.password! },
        },
      },
    });
    timings.pullToken = ms;
    assert.equal(replies.at(-1)?.spec?.digest, image.manifestDigest);
    const used = token.tokenRequests.slice(before);
    assert.equal(used.length, 1, "one token serves the whole pull");
    assert.deepEqual(used[0], {
      method: "GET",
      credential: `basic:${token.username!}`,
      scope: "repository:test/busybox:pull",
      status: 200,
    });
  });

  test("identity_token: exchanged as a refresh token (POST)", async () => {
    const before = token.tokenRequests.length;
    const { replies } = await pull(server.client, {
      image: `${token.host}/test/busybox:1`,
      overwriteCache: true,
      auth: { authenticationMethod: { case: "identityToken", value: token.identityToken! } },
    });
    assert.equal(replies.at(-1)?.spec?.digest, image.manifestDigest);
    assert.deepEqual(
      token.tokenRequests.slice(before).map((r) => [r.method, r.credential, r.status]),
      [["POST", "refresh_token", 200]],
    );
  });

  test("registry_token: sent as is, the token service is not asked", async () => {
    const before = token.tokenRequests.length;
    const { replies } = await pull(server.client, {
      image: `${token.host}/test/busybox:multi`,
      overwriteCache: true,
      auth: {
        authenticationMethod: {
          case: "registryToken",
          value: token.issueToken("repository:test/busybox:pull"),
        },
      },
    });
    assert.equal(replies.at(-1)?.spec?.digest, image.manifestDigest);
    assert.equal(token.tokenRequests.length, before);
  });

  test("a registry token for another repository is refused", async () => {
    const err = await pullError(server.client, {
      image: `${token.host}/test/busybox:1`,
      overwriteCache: true,
      auth: {
        authenticationMethod: {
          case: "registryToken",
          value: token.issueToken("repository:other/repo:pull"),
        },
      },
    });
    assert.equal(err.code, Code.Unauthenticated);
  });
});

describe("concurrency and cancellation", () => {
  let server: ImageServer;
  before(async () => {
    server = await startImageServer();
  });
  after(async () => server?.close());

  const tmpEntries = (): string[] => readdirSync(join(server.storeDir, "tmp"));

  test("a client that cancels mid-pull stops the pull and leaves nothing half-done", async () => {
    const controller = new AbortController();
    const seen: OciImageProgressPhase[] = [];
    await assert.rejects(
      (async () => {
        for await (const reply of server.client.pullImage(
          { image: `${anonymous.host}/test/busybox:1` },
          { signal: controller.signal },
        )) {
          if (reply.progress) seen.push(reply.progress.phase);
          if (reply.progress?.phase === P.RESOLVING) controller.abort();
        }
      })(),
      (err) => ConnectError.from(err).code === Code.Canceled,
    );
    assert.equal(seen.includes(P.COMPLETE), false);
    // The server notices the reset stream, aborts the pull and cleans its staging area.
    const deadline = Date.now() + 5000;
    while (tmpEntries().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(tmpEntries(), []);
    // Longer than a whole pull takes here: had the server not stopped, the image would be in.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(server.store.get(image.manifestDigest), undefined);
    assert.deepEqual(readdirSync(join(server.storeDir, "rootfs")), []);
  });

  test("two pulls of the same image at once both succeed and share one root filesystem", async () => {
    const [a, b] = await Promise.all([
      pull(server.client, { image: `${anonymous.host}/test/busybox:1` }),
      pull(server.client, { image: `${anonymous.host}/test/busybox:multi` }),
    ]);
    assert.equal(a.replies.at(-1)?.spec?.digest, image.manifestDigest);
    assert.equal(b.replies.at(-1)?.spec?.digest, image.manifestDigest);
    assert.deepEqual(readdirSync(join(server.storeDir, "rootfs")), [image.manifestDigest.slice(7)]);
    assert.deepEqual(server.store.get(image.manifestDigest)?.names.sort(), [
      `${anonymous.host}/test/busybox:1`,
      `${anonymous.host}/test/busybox:multi`,
    ]);
    assert.deepEqual(tmpEntries(), []);
  });
});

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", () => resolve()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}
