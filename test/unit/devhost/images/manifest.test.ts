import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  OciImageProgressLayerPhase,
  OciImageProgressPhase,
} from "../../../../extension/proto/gen/protect/control/v1/common_pb";
import { ImageError } from "../../../../extension/core/registry/imageError";
import {
  choosePlatform,
  hostPlatform,
  parseImageConfig,
  parseManifest,
  type ImageIndex,
} from "../../../../extension/devhost/images/manifest";
import { mediaTypes } from "../../../../extension/core/registry/mediaTypes";
import { ImageProgress } from "../../../../extension/devhost/images/progress";
import type { OciImageProgress } from "../../../../extension/proto/gen/protect/control/v1/common_pb";

const d = (n: number): string => `sha256:${n.toString(16).padStart(64, "0")}`;
const entry = (
  n: number,
  platform?: { os: string; architecture: string; variant?: string },
  mediaType: string = mediaTypes.ociManifest,
) => ({
  mediaType,
  digest: d(n),
  size: 100,
  ...(platform ? { platform } : {}),
});

// Shaped like docker.io/library/busybox's real index: several arm variants, attestations at the end.
const busyboxLikeIndex: ImageIndex = {
  schemaVersion: 2,
  mediaType: mediaTypes.ociIndex,
  manifests: [
    entry(1, { os: "linux", architecture: "amd64" }),
    entry(2, { os: "linux", architecture: "arm", variant: "v5" }),
    entry(3, { os: "linux", architecture: "arm", variant: "v6" }),
    entry(4, { os: "linux", architecture: "arm", variant: "v7" }),
    entry(5, { os: "linux", architecture: "arm64", variant: "v8" }),
    entry(6, { os: "linux", architecture: "386" }),
    entry(7, { os: "linux", architecture: "ppc64le" }),
    entry(8, { os: "linux", architecture: "riscv64" }),
    entry(9, { os: "linux", architecture: "s390x" }),
    entry(10, { os: "unknown", architecture: "unknown" }),
    entry(11, { os: "windows", architecture: "amd64" }),
  ],
};

describe("manifest list platform choice", () => {
  test("picks this host's entry, not the first one", () => {
    const mine = choosePlatform(busyboxLikeIndex);
    const host = hostPlatform();
    const expected = busyboxLikeIndex.manifests.find(
      (m) =>
        m.platform?.architecture === host.architecture &&
        m.platform.os === "linux" &&
        (host.architecture !== "arm" || m.platform.variant === host.variant),
    );
    assert.equal(mine.digest, expected?.digest);
  });

  test("arm variants: exact variant wins", () => {
    assert.equal(
      choosePlatform(busyboxLikeIndex, { os: "linux", architecture: "arm", variant: "v6" }).digest,
      d(3),
    );
    assert.equal(
      choosePlatform(busyboxLikeIndex, { os: "linux", architecture: "arm", variant: "v7" }).digest,
      d(4),
    );
  });

  test("arm64: a missing variant and v8 are the same", () => {
    const index: ImageIndex = {
      schemaVersion: 2,
      manifests: [entry(20, { os: "linux", architecture: "arm64" })],
    };
    assert.equal(choosePlatform(index, { os: "linux", architecture: "arm64", variant: "v8" }).digest, d(20));
    assert.equal(choosePlatform(busyboxLikeIndex, { os: "linux", architecture: "arm64" }).digest, d(5));
  });

  test("an entry without a variant serves a host with one", () => {
    const index: ImageIndex = {
      schemaVersion: 2,
      manifests: [entry(30, { os: "linux", architecture: "arm" })],
    };
    assert.equal(choosePlatform(index, { os: "linux", architecture: "arm", variant: "v7" }).digest, d(30));
  });

  test("OS matters: windows/amd64 never serves linux/amd64", () => {
    const index: ImageIndex = {
      schemaVersion: 2,
      manifests: [entry(11, { os: "windows", architecture: "amd64" })],
    };
    assert.throws(
      () => choosePlatform(index, { os: "linux", architecture: "amd64" }),
      (err) => ImageError.is(err, "noMatchingPlatform"),
    );
  });

  test("no match names what the list has, without the attestation entries", () => {
    const index: ImageIndex = {
      schemaVersion: 2,
      manifests: [
        entry(40, { os: "linux", architecture: "s390x" }),
        entry(41, { os: "unknown", architecture: "unknown" }),
      ],
    };
    assert.throws(
      () => choosePlatform(index, { os: "linux", architecture: "amd64" }),
      (err) =>
        ImageError.is(err, "noMatchingPlatform") &&
        /linux\/s390x/.test(err.message) &&
        !/unknown/.test(err.message),
    );
  });

  test("Docker manifest list entries count too", () => {
    const index: ImageIndex = {
      schemaVersion: 2,
      mediaType: mediaTypes.dockerManifestList,
      manifests: [entry(50, { os: "linux", architecture: "amd64" }, mediaTypes.dockerManifest)],
    };
    assert.equal(choosePlatform(index, { os: "linux", architecture: "amd64" }).digest, d(50));
  });
});

describe("parseManifest", () => {
  const image = { schemaVersion: 2, config: entry(1), layers: [entry(2)] };
  const bytes = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

  test("tells images from indexes by Content-Type, then mediaType, then shape", () => {
    assert.equal(parseManifest(bytes(image), mediaTypes.dockerManifest).kind, "image");
    assert.equal(parseManifest(bytes({ ...image, mediaType: mediaTypes.ociManifest })).kind, "image");
    assert.equal(parseManifest(bytes(busyboxLikeIndex), "application/json").kind, "index");
    assert.equal(parseManifest(bytes({ schemaVersion: 2, manifests: [] })).kind, "index");
  });

  test("schema 1, other artifacts and garbage are refused with reasons", () => {
    assert.throws(
      () => parseManifest(bytes({ schemaVersion: 1, name: "x", fsLayers: [] })),
      (e) => ImageError.is(e, "unsupported"),
    );
    assert.throws(
      () => parseManifest(bytes(image), "application/vnd.cncf.helm.chart.content.v1.tar+gzip"),
      (e) => ImageError.is(e, "unsupported"),
    );
    assert.throws(
      () => parseManifest(Buffer.from("{nope")),
      (e) => ImageError.is(e, "invalidImage"),
    );
    assert.throws(
      () => parseManifest(bytes({ schemaVersion: 2, config: {} }), mediaTypes.ociManifest),
      (e) => ImageError.is(e, "invalidImage"),
    );
  });

  test("image config: runtime settings, nulls as absent", () => {
    const { runtime, file } = parseImageConfig(
      bytes({
        architecture: "amd64",
        config: { Entrypoint: null, Cmd: ["sh"], Env: ["A=1"], WorkingDir: "/w", User: "" },
        rootfs: { type: "layers", diff_ids: [d(9)] },
      }),
    );
    assert.deepEqual(runtime, { cmd: ["sh"], env: ["A=1"], workingDir: "/w" });
    assert.deepEqual(file.rootfs.diff_ids, [d(9)]);
  });
});

describe("progress snapshots", () => {
  test("phase and layer state changes go out at once; byte counts at most every 100 ms", () => {
    let now = 0;
    const seen: OciImageProgress[] = [];
    const progress = new ImageProgress((p) => seen.push(p), { now: () => now });
    progress.phase(OciImageProgressPhase.STARTED);
    progress.setLayers([{ id: "L1", size: 1000 }]);
    progress.phase(OciImageProgressPhase.LAYER_DOWNLOAD);
    progress.downloading("L1", 10); // first byte count: a state change, sent
    for (let i = 1; i <= 50; i++) {
      now += 10; // 50 updates over 500 ms
      progress.downloading("L1", 10 + i * 10);
    }
    progress.downloaded("L1");
    const byteUpdates = seen.filter((p) => p.layers[0]?.phase === OciImageProgressLayerPhase.DOWNLOADING);
    assert.ok(byteUpdates.length <= 7, `at most ~10/s, got ${byteUpdates.length} in 0.5 s`);
    assert.ok(byteUpdates.length >= 5);
    const last = seen.at(-1)!;
    assert.equal(last.layers[0]?.phase, OciImageProgressLayerPhase.DOWNLOADED);
    const overall = last.indication?.indication;
    assert.equal(overall?.case, "bar");
    assert.equal(overall?.case === "bar" ? overall.value.current : undefined, 1000n);
    const bar = byteUpdates.at(-1)!.layers[0]!.indication!.indication;
    assert.ok(bar.case === "bar" && bar.value.isBytes && bar.value.total === 1000n);
  });
});
