// ImportImage (client-streamed chunks over real gRPC), ListImages, RemoveImage, and the store
// surviving a restart, against an on-disk ImageStore and a real loopback registry.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import {
  OciImageFormat,
  OciImageProgressPhase,
} from "../../../extension/proto/gen/protect/control/v1/common_pb";
import type {
  ControlService,
  ImportImageReply,
  ImportImageRequestSchema,
} from "../../../extension/proto/gen/protect/control/v1/control_pb";
import { pushTestImage, startRegistry, type TestRegistry } from "../../harness/registry";
import { buildTestImage, type TestImage } from "../../harness/testImage";
import { startImageServer, type ImageServer } from "./imageServer";

let work: string;
let image: TestImage;
let registry: TestRegistry;
let server: ImageServer;
const timings: Record<string, number> = {};

before(async () => {
  work = mkdtempSync(join(tmpdir(), "zones-import-it-"));
  image = await buildTestImage(join(work, "image"));
  registry = await startRegistry();
  await pushTestImage(registry, image);
  server = await startImageServer();
});

after(async () => {
  await server?.close();
  await registry?.stop();
  rmSync(work, { recursive: true, force: true });
  if (Object.keys(timings).length) console.log(`timings (ms): ${JSON.stringify(timings)}`);
});

type ImportInit = MessageInitShape<typeof ImportImageRequestSchema>;

/** Uploads a file in 64 KiB chunks, the way a client streams a tarball. */
async function upload(
  client: Client<typeof ControlService>,
  file: string,
  head: ImportInit = {},
): Promise<{ replies: ImportImageReply[]; ms: number }> {
  const archive = readFileSync(file);
  async function* requests(): AsyncGenerator<ImportInit> {
    const size = 64 * 1024;
    for (let i = 0; i < archive.length; i += size) {
      yield {
        ...(i === 0 ? head : {}),
        chunk: archive.subarray(i, i + size),
        lastChunk: i + size >= archive.length,
      };
    }
  }
  const started = performance.now();
  const replies: ImportImageReply[] = [];
  for await (const reply of client.importImage(requests())) replies.push(reply);
  return { replies, ms: Math.round(performance.now() - started) };
}

async function listAll(
  client: Client<typeof ControlService>,
): Promise<{ batches: number; images: { digest: string; names: string[]; format: OciImageFormat }[] }> {
  let batches = 0;
  const images = [];
  for await (const reply of client.listImages({})) {
    batches++;
    images.push(
      ...reply.images.map((i) => ({ digest: i.digest, names: [...i.names].sort(), format: i.format })),
    );
  }
  return { batches, images };
}

describe("import, list, remove", () => {
  let dockerDigest: string;

  test("an OCI layout tarball streams in over gRPC", async () => {
    const { replies, ms } = await upload(server.client, image.ociArchive, { wantMetadata: true });
    timings.importOciLayout = ms;
    assert.equal(replies[0]?.accepted, true);
    const progress = replies.flatMap((r) => (r.progress ? [r.progress.phase] : []));
    assert.equal(progress[0], OciImageProgressPhase.STARTED);
    assert.equal(progress.at(-1), OciImageProgressPhase.COMPLETE);
    const final = replies.at(-1)!;
    assert.equal(final.spec?.digest, image.manifestDigest);
    assert.equal(final.spec?.format, OciImageFormat.DIRECTORY);
    assert.equal(JSON.parse(Buffer.from(final.metadata!.config).toString("utf8")).config.WorkingDir, "/root");
  });

  test("a docker save tarball, under a name of our choosing", async () => {
    const { replies, ms } = await upload(server.client, image.dockerArchive, { image: "devbox:dev" });
    timings.importDockerSave = ms;
    dockerDigest = replies.at(-1)!.spec!.digest;
    assert.notEqual(dockerDigest, image.manifestDigest, "a docker save archive gets a synthesized manifest");
    const stored = server.store.get(dockerDigest)!;
    assert.deepEqual(stored.names, ["docker.io/library/devbox:dev"]);
    assert.ok(readFileSync(join(stored.rootfsDir, "bin/busybox")).length > 100_000);
  });

  test("pulling the same image from a registry dedupes against the import", async () => {
    const replies = [];
    for await (const r of server.client.pullImage({ image: `${registry.host}/test/busybox:1` }))
      replies.push(r);
    assert.equal(replies.at(-1)?.spec?.digest, image.manifestDigest);
    const phases = new Set(replies.flatMap((r) => (r.progress ? [r.progress.phase] : [])));
    assert.equal(
      phases.has(OciImageProgressPhase.LAYER_DOWNLOAD),
      false,
      "already in the store by digest: nothing downloaded",
    );
  });

  test("ListImages streams every image in batches, with names", async () => {
    const { batches, images } = await listAll(server.client);
    assert.equal(batches, 2, "the test server batches one image per reply");
    assert.deepEqual(
      images.sort((a, b) => a.digest.localeCompare(b.digest)),
      [
        {
          digest: image.manifestDigest,
          names: [`${registry.host}/test/busybox:1`, image.archiveName].sort(),
          format: OciImageFormat.DIRECTORY,
        },
        { digest: dockerDigest, names: ["docker.io/library/devbox:dev"], format: OciImageFormat.DIRECTORY },
      ].sort((a, b) => a.digest.localeCompare(b.digest)),
    );
  });

  test("the store survives a restart: index, names, root filesystems", async () => {
    const started = performance.now();
    await server.restart();
    timings.reopenStore = Math.round(performance.now() - started);
    const { images } = await listAll(server.client);
    assert.equal(images.length, 2);
    const busybox = server.store.findByName("test/busybox:1");
    assert.equal(busybox?.digest, image.manifestDigest);
    assert.deepEqual(busybox?.config.cmd, ["sh"]);
    assert.ok(busybox && existsSync(join(busybox.rootfsDir, "bin/busybox")));
    assert.equal(server.store.findByName("devbox:dev")?.digest, dockerDigest);
  });

  test("RemoveImage deletes the image, its root filesystem and the blobs only it used", async () => {
    const rootfs = server.store.get(dockerDigest)!.rootfsDir;
    const removed = await server.client.removeImage({ digest: dockerDigest });
    assert.equal(removed.removed, true);
    assert.equal(existsSync(rootfs), false);
    assert.equal(server.store.get(dockerDigest), undefined);
    const again = await server.client.removeImage({ digest: dockerDigest });
    assert.equal(again.removed, false);

    // Garbage collection runs in the background: the docker-save layers (stored uncompressed,
    // digests = diff ids) go; the OCI image's blobs stay.
    const blobDir = join(server.storeDir, "blobs/sha256");
    const deadline = Date.now() + 5000;
    while (readdirSync(blobDir).includes(image.layers[0]!.diffId.slice(7)) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    const blobs = readdirSync(blobDir);
    assert.equal(blobs.includes(image.layers[0]!.diffId.slice(7)), false);
    for (const l of image.layers)
      assert.ok(blobs.includes(l.digest.slice(7)), "the remaining image keeps its layers");

    const byName = await server.client.removeImage({ digest: "test/busybox:1" });
    assert.equal(byName.removed, true, "a name works too");
    assert.deepEqual((await listAll(server.client)).images, []);
    await server.restart();
    assert.deepEqual(server.store.list(), [], "removal is persisted");
  });

  test("errors cross the wire with their codes", async () => {
    const empty = await server.client.removeImage({ digest: "" }).catch((e: unknown) => ConnectError.from(e));
    assert.ok(empty instanceof ConnectError && empty.code === Code.InvalidArgument);
    const notTar = join(work, "not-a-tar");
    writeFileSync(notTar, "this is not an image archive\n".repeat(100));
    const bad = await upload(server.client, notTar).catch((e: unknown) => ConnectError.from(e));
    assert.ok(
      bad instanceof ConnectError && bad.code === Code.InvalidArgument,
      bad instanceof ConnectError ? bad.message : "the upload succeeded",
    );
  });
});
