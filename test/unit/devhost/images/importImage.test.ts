import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { ImageError } from "../../../../extension/core/registry/imageError";
import { ImageStore } from "../../../../extension/devhost/images/imageStore";
import { importImage, removeImage, toConnectError } from "../../../../extension/devhost/images/imageService";
import { mediaTypes } from "../../../../extension/core/registry/mediaTypes";
import {
  OciImageFormat,
  OciImageProgressLayerPhase,
  OciImageProgressPhase,
  type OciImageProgress,
} from "../../../../extension/proto/gen/protect/control/v1/common_pb";
import {
  ImportImageRequestSchema,
  RemoveImageRequestSchema,
  type ImportImageReply,
  type ImportImageRequest,
} from "../../../../extension/proto/gen/protect/control/v1/control_pb";
import { gzipSync } from "node:zlib";
import { hostPlatform } from "../../../../extension/devhost/images/manifest";
import type { ExtractLimits } from "../../../../extension/devhost/images/layerExtract";
import {
  buildTar,
  buildTestImage,
  sha256,
  type TarEntrySpec,
  type TestImage,
} from "../../../harness/testImage";

let work: string;
let image: TestImage;

before(async () => {
  work = mkdtempSync(join(tmpdir(), "zones-import-"));
  image = await buildTestImage(join(work, "image"));
});
after(() => rmSync(work, { recursive: true, force: true }));

let n = 0;
async function freshStore(extractLimits?: ExtractLimits): Promise<ImageStore> {
  return ImageStore.open(join(work, `store-${++n}`), undefined, extractLimits ? { extractLimits } : {});
}

/** An OCI layout tarball of a one-layer image whose layer is `layerTar`, gzipped. */
function oneLayerArchive(layerTar: Buffer, options: { indexPadding?: number } = {}): Buffer {
  const layer = gzipSync(layerTar);
  const config = Buffer.from(
    JSON.stringify({
      architecture: hostPlatform().architecture,
      os: "linux",
      config: { Cmd: ["sh"] },
      rootfs: { type: "layers", diff_ids: [sha256(layerTar)] },
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: mediaTypes.ociManifest,
      config: { mediaType: mediaTypes.ociConfig, digest: sha256(config), size: config.length },
      layers: [
        {
          mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
          digest: sha256(layer),
          size: layer.length,
        },
      ],
    }),
  );
  const index =
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: mediaTypes.ociManifest, digest: sha256(manifest), size: manifest.length }],
    }) + " ".repeat(options.indexPadding ?? 0);
  const blob = (bytes: Buffer): TarEntrySpec => ({
    path: `blobs/sha256/${sha256(bytes).slice(7)}`,
    data: bytes,
  });
  return buildTar([
    { path: "oci-layout", data: '{"imageLayoutVersion":"1.0.0"}' },
    { path: "index.json", data: index },
    blob(config),
    blob(manifest),
    blob(layer),
  ]);
}

const generous: ExtractLimits = { maxBytes: 1024 ** 4, maxEntries: 1_000_000, reserveBytes: 0 };

async function* chunked(buf: Buffer, size = 64 * 1024): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

function layoutBlob(digest: string): Buffer {
  return readFileSync(join(image.layoutDir, "blobs/sha256", digest.slice(7)));
}

/** An OCI layout tarball with the given index entries and every blob of the test layout. */
function layoutArchive(indexManifests: unknown[], extra: TarEntrySpec[] = []): Buffer {
  const blobs = readdirSync(join(image.layoutDir, "blobs/sha256")).map((hex): TarEntrySpec => ({
    path: `blobs/sha256/${hex}`,
    data: readFileSync(join(image.layoutDir, "blobs/sha256", hex)),
  }));
  return buildTar([
    { path: "oci-layout", data: '{"imageLayoutVersion":"1.0.0"}' },
    { path: "index.json", data: JSON.stringify({ schemaVersion: 2, manifests: indexManifests }) },
    ...blobs,
    ...extra,
  ]);
}

const manifestEntry = (): { mediaType: string; digest: string; size: number } => ({
  mediaType: mediaTypes.ociManifest,
  digest: image.manifestDigest,
  size: layoutBlob(image.manifestDigest).length,
});

function assertBusyboxRoot(rootfs: string): void {
  assert.ok(readFileSync(join(rootfs, "bin/busybox")).length > 100_000);
  assert.equal(readFileSync(join(rootfs, "etc/motd"), "utf8"), "styrolite test image\n");
  assert.equal(existsSync(join(rootfs, "etc/removed-by-layer2")), false);
  assert.deepEqual(readdirSync(join(rootfs, "opt/replaced")), ["new.txt"]);
}

describe("ImageStore.import", () => {
  test("an OCI layout tarball: manifest digest, archive name, config, root filesystem, progress", async () => {
    const store = await freshStore();
    const seen: OciImageProgress[] = [];
    const stored = await store.import(chunked(readFileSync(image.ociArchive)), {
      onProgress: (p) => seen.push(p),
    });
    assert.equal(stored.digest, image.manifestDigest);
    assert.deepEqual(stored.names, [image.archiveName]);
    assert.equal(stored.format, OciImageFormat.DIRECTORY);
    assert.deepEqual(stored.config, { env: image.config.env, cmd: ["sh"], workingDir: "/root" });
    assert.deepEqual(Buffer.from(stored.manifestJson), layoutBlob(image.manifestDigest));
    assertBusyboxRoot(stored.rootfsDir);
    const phases = [...new Set(seen.map((p) => p.phase))];
    assert.deepEqual(phases, [
      OciImageProgressPhase.STARTED,
      OciImageProgressPhase.RESOLVING,
      OciImageProgressPhase.RESOLVED,
      OciImageProgressPhase.ASSEMBLE,
      OciImageProgressPhase.COMPLETE,
    ]);
    const final = seen.at(-1)!;
    assert.deepEqual(
      final.layers.map((l) => [l.id, l.phase]),
      image.layers.map((l) => [l.digest, OciImageProgressLayerPhase.EXTRACTED]),
    );
    assert.equal(store.findByName("test/busybox:1")?.digest, image.manifestDigest);
  });

  test("a docker save tarball: same root filesystem and config, a stable synthesized manifest", async () => {
    const store = await freshStore();
    const stored = await store.import(chunked(readFileSync(image.dockerArchive)));
    const manifest = JSON.parse(Buffer.from(stored.manifestJson).toString("utf8")) as {
      mediaType: string;
      config: { digest: string };
      layers: { digest: string; mediaType: string }[];
    };
    assert.equal(manifest.mediaType, mediaTypes.dockerManifest);
    assert.equal(manifest.config.digest, image.configDigest);
    // docker save layers are uncompressed: their digests are the diff ids.
    assert.deepEqual(
      manifest.layers.map((l) => l.digest),
      image.layers.map((l) => l.diffId),
    );
    assert.deepEqual(
      manifest.layers.map((l) => l.mediaType),
      [mediaTypes.dockerLayerTar, mediaTypes.dockerLayerTar],
    );
    assert.deepEqual(stored.names, ["docker.io/test/busybox:1"]);
    assert.deepEqual(stored.config, { env: image.config.env, cmd: ["sh"], workingDir: "/root" });
    assertBusyboxRoot(stored.rootfsDir);

    const again = await (await freshStore()).import(chunked(readFileSync(image.dockerArchive)));
    assert.equal(again.digest, stored.digest, "same archive, same digest");
    assert.notEqual(stored.digest, image.manifestDigest);
  });

  test("the requested name replaces the archive's; the digest option may be Docker's image ID", async () => {
    const store = await freshStore();
    const stored = await store.import(chunked(readFileSync(image.dockerArchive)), {
      name: "devbox",
      digest: image.configDigest,
    });
    assert.deepEqual(stored.names, ["docker.io/library/devbox:latest"]);
    await assert.rejects(
      store.import(chunked(readFileSync(image.dockerArchive)), { digest: `sha256:${"0".repeat(64)}` }),
      (err) => ImageError.is(err, "notFound"),
    );
  });

  test("an index entry that is a multi-platform index resolves to this platform", async () => {
    const index = layoutBlob(image.indexDigest);
    const store = await freshStore();
    const stored = await store.import(
      chunked(
        layoutArchive([{ mediaType: mediaTypes.ociIndex, digest: image.indexDigest, size: index.length }]),
      ),
      { name: "multi:1" },
    );
    assert.equal(stored.digest, image.manifestDigest);
  });

  test("Docker 25+ archives carry both layouts: the OCI one is used", async () => {
    const dockerManifest = JSON.stringify([
      { Config: `blobs/sha256/${image.configDigest.slice(7)}`, RepoTags: ["x:1"], Layers: [] },
    ]);
    const store = await freshStore();
    const stored = await store.import(
      chunked(layoutArchive([manifestEntry()], [{ path: "manifest.json", data: dockerManifest }])),
    );
    assert.equal(stored.digest, image.manifestDigest);
  });

  test("several images: refused without a name, picked by ref.name annotation with one", async () => {
    const other = layoutBlob(image.otherPlatform.manifestDigest);
    const archive = layoutArchive([
      { ...manifestEntry(), annotations: { "org.opencontainers.image.ref.name": "1" } },
      {
        mediaType: mediaTypes.ociManifest,
        digest: image.otherPlatform.manifestDigest,
        size: other.length,
        annotations: { "org.opencontainers.image.ref.name": "other" },
      },
    ]);
    const store = await freshStore();
    await assert.rejects(
      store.import(chunked(archive)),
      (err) => ImageError.is(err, "invalidArchive") && /holds 2 images/.test(err.message),
    );
    const stored = await store.import(chunked(archive), { name: "example.org/app:1" });
    assert.equal(stored.digest, image.manifestDigest);
    assert.deepEqual(stored.names, ["example.org/app:1"]);
  });

  test("a tampered blob is caught by its digest", async () => {
    const hex = image.layers[1]!.digest.slice(7);
    const archive = layoutArchive([manifestEntry()], []);
    // Same path again later in the tar: the last one wins, as in tar itself.
    const tampered = Buffer.concat([
      archive.subarray(0, archive.length - 1024),
      buildTar([{ path: `blobs/sha256/${hex}`, data: "evil" }]),
    ]);
    await assert.rejects((await freshStore()).import(chunked(tampered)), (err) =>
      ImageError.is(err, "digestMismatch"),
    );
  });

  test("archives that are not images are refused, and leave nothing behind", async () => {
    const store = await freshStore();
    await assert.rejects(store.import(chunked(buildTar([{ path: "readme", data: "hi" }]))), (e) =>
      ImageError.is(e, "invalidArchive"),
    );
    await assert.rejects(store.import(chunked(Buffer.alloc(0))), (e) => ImageError.is(e, "invalidArchive"));
    await assert.rejects(store.import(chunked(Buffer.from("not a tar at all".repeat(100)))), (e) =>
      ImageError.is(e, "invalidArchive"),
    );
    await assert.rejects(store.import(chunked(buildTar([{ path: "../index.json", data: "{}" }]))), (e) =>
      ImageError.is(e, "invalidArchive"),
    );
    await assert.rejects(store.import(chunked(readFileSync(image.ociArchive)), { name: "Bad Name" }), (e) =>
      ImageError.is(e, "invalidReference"),
    );
    assert.deepEqual(readdirSync(join(store.dir, "tmp")), []);
    assert.deepEqual(store.list(), []);
  });
});

describe("limits on what an image may unpack to", () => {
  // 64 MiB of zeros gzip to about 64 KiB: the shape of a layer that fills the disk.
  const bombTar = buildTar([{ path: "zeros", data: Buffer.alloc(64 * 1024 * 1024) }]);

  test("a layer inflating past the byte limit is refused, and nothing is left behind", async () => {
    const archive = oneLayerArchive(bombTar);
    assert.ok(archive.length < 1024 * 1024, "the archive itself is small");
    const store = await freshStore({ ...generous, maxBytes: 16 * 1024 * 1024 });
    await assert.rejects(
      store.import(chunked(archive)),
      (err) => ImageError.is(err, "tooLarge") && /more than the limit of 16 MiB/.test(err.message),
    );
    assert.deepEqual(readdirSync(join(store.dir, "tmp")), []);
    assert.deepEqual(store.list(), []);
    await (await freshStore(generous)).import(chunked(archive)); // within the limit it imports
  });

  test("the byte allowance never exceeds the free disk space less the reserve", async () => {
    const store = await freshStore({ ...generous, reserveBytes: 1024 ** 5 * 1024 });
    await assert.rejects(
      store.import(chunked(oneLayerArchive(buildTar([{ path: "a", data: "x" }])))),
      (err) => ImageError.is(err, "tooLarge") && /free on the image store's disk/.test(err.message),
    );
    assert.deepEqual(readdirSync(join(store.dir, "tmp")), []);
  });

  test("a layer with more entries than the limit is refused", async () => {
    const many = buildTar(Array.from({ length: 300 }, (_, i) => ({ path: `f${i}`, data: "" })));
    const store = await freshStore({ ...generous, maxEntries: 200 });
    await assert.rejects(
      store.import(chunked(oneLayerArchive(many))),
      (err) => ImageError.is(err, "tooLarge") && /more than 200 entries/.test(err.message),
    );
    assert.deepEqual(readdirSync(join(store.dir, "tmp")), []);
  });

  test("the limit maps onto gRPC ResourceExhausted", () => {
    assert.equal(toConnectError(new ImageError("tooLarge", "x")).code, Code.ResourceExhausted);
  });

  test("an archive's JSON past its limit is refused before it is read", async () => {
    const archive = oneLayerArchive(buildTar([{ path: "a", data: "x" }]), { indexPadding: 5 * 1024 * 1024 });
    await assert.rejects(
      (await freshStore()).import(chunked(archive)),
      (err) =>
        ImageError.is(err, "invalidArchive") &&
        /index.json in the archive is \d+ bytes; the limit/.test(err.message),
    );
  });
});

describe("removal", () => {
  test("a removal guard keeps an image a workload needs, with its reason on the wire", async () => {
    const store = await freshStore();
    const stored = await store.import(chunked(readFileSync(image.ociArchive)));
    let inUse = true;
    store.setRemovalGuard((digest) =>
      inUse && digest === stored.digest ? "workload web-1 runs from it" : undefined,
    );
    assert.throws(
      () => store.remove(stored.digest),
      (err) => ImageError.is(err, "inUse") && /web-1/.test(err.message),
    );
    assert.throws(
      () => removeImage(store, create(RemoveImageRequestSchema, { digest: stored.digest })),
      (err) =>
        err instanceof ConnectError && err.code === Code.FailedPrecondition && /web-1/.test(err.message),
    );
    assert.ok(existsSync(stored.rootfsDir));
    inUse = false;
    assert.equal(store.remove(stored.digest), true);
    assert.equal(existsSync(stored.rootfsDir), false);
  });
});

describe("importImage RPC handler", () => {
  async function* requests(
    archive: Buffer,
    head: { image?: string; digest?: string; wantMetadata?: boolean },
    opts: { last?: boolean } = {},
  ): AsyncGenerator<ImportImageRequest> {
    const size = 256 * 1024;
    for (let i = 0; i < archive.length; i += size) {
      const chunk = archive.subarray(i, i + size);
      const last = i + size >= archive.length && opts.last !== false;
      yield create(ImportImageRequestSchema, { ...(i === 0 ? head : {}), chunk, lastChunk: last });
    }
  }

  test("replies accepted, progress, then spec with metadata", async () => {
    const store = await freshStore();
    const replies: ImportImageReply[] = [];
    for await (const r of importImage(
      store,
      requests(readFileSync(image.ociArchive), { image: "zones/test:dev", wantMetadata: true }),
      new AbortController().signal,
    )) {
      replies.push(r);
    }
    assert.equal(replies[0]?.accepted, true);
    assert.ok(replies.slice(1, -1).every((r) => r.progress !== undefined));
    assert.ok(replies.length > 5);
    const last = replies.at(-1)!;
    assert.equal(last.spec?.digest, image.manifestDigest);
    assert.equal(last.spec?.format, OciImageFormat.DIRECTORY);
    assert.deepEqual(Buffer.from(last.metadata!.config), layoutBlob(image.configDigest));
    assert.deepEqual(store.get(image.manifestDigest)?.names, ["docker.io/zones/test:dev"]);
  });

  test("an upload without last_chunk is refused as InvalidArgument", async () => {
    const store = await freshStore();
    await assert.rejects(
      (async () => {
        for await (const _ of importImage(
          store,
          requests(readFileSync(image.ociArchive), {}, { last: false }),
          new AbortController().signal,
        )) {
          // drain
        }
      })(),
      (err) =>
        err instanceof ConnectError && err.code === Code.InvalidArgument && /last_chunk/.test(err.message),
    );
  });

  test("a bad name is refused before the upload is accepted", async () => {
    const replies: ImportImageReply[] = [];
    await assert.rejects(
      (async () => {
        for await (const r of importImage(
          await freshStore(),
          requests(readFileSync(image.ociArchive), { image: "user/UPPER" }),
          new AbortController().signal,
        )) {
          replies.push(r);
        }
      })(),
      (err) => err instanceof ConnectError && err.code === Code.InvalidArgument,
    );
    assert.deepEqual(replies, []);
  });
});
