import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { applyLayer, applyLayerBlob } from "../../../../extension/devhost/images/layerExtract";
import { ImageError } from "../../../../extension/core/registry/imageError";
import {
  buildTar,
  buildTestImage,
  sha256,
  type TarEntrySpec,
  type TestImage,
} from "../../../harness/testImage";

let work: string;
let image: TestImage;
const isRoot = process.getuid?.() === 0;

before(async () => {
  work = mkdtempSync(join(tmpdir(), "zones-layer-"));
  image = await buildTestImage(join(work, "image"));
});
after(() => rmSync(work, { recursive: true, force: true }));

let counter = 0;
function freshRoot(): string {
  const dir = join(work, `root-${++counter}`);
  mkdirSync(dir);
  return dir;
}

async function* chunks(buf: Buffer, size = 700): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

async function apply(
  root: string,
  entries: TarEntrySpec[],
  options: { end?: boolean } = {},
): ReturnType<typeof applyLayer> {
  return applyLayer(root, chunks(buildTar(entries, options)));
}

function blobPath(digest: string): string {
  return join(image.layoutDir, "blobs", "sha256", digest.slice(7));
}

describe("applying the test image's layers", () => {
  test("gives a usable busybox root with the second layer's whiteouts applied", async () => {
    const root = freshRoot();
    for (const layer of image.layers) {
      await applyLayerBlob(root, blobPath(layer.digest), { diffId: layer.diffId });
    }
    const busybox = statSync(join(root, "bin/busybox"));
    assert.ok(busybox.mode & 0o111, "busybox is executable");
    assert.equal(busybox.size, statSync("/bin/busybox").size);
    assert.equal(readlinkSync(join(root, "bin/sh")), "busybox");
    assert.equal(statSync(join(root, "bin/ash")).ino, busybox.ino, "ash is a hard link to busybox");
    assert.equal(existsSync(join(root, "etc/removed-by-layer2")), false, "whiteout removed the file");
    assert.deepEqual(
      readdirSync(join(root, "opt/replaced")),
      ["new.txt"],
      "opaque directory hides the lower files",
    );
    assert.equal(readFileSync(join(root, "etc/motd"), "utf8"), "styrolite test image\n");
    assert.equal(statSync(join(root, "tmp")).mode & 0o7777, 0o1777, "sticky /tmp");
    if (isRoot) assert.equal(statSync(join(root, "home/tester")).uid, 1000, "owners applied");
  });

  test("reports the diff id it computed and refuses a wrong one", async () => {
    const root = freshRoot();
    const layer = image.layers[1]!;
    const result = await applyLayerBlob(root, blobPath(layer.digest));
    assert.equal(result.diffId, layer.diffId);
    await assert.rejects(
      applyLayerBlob(freshRoot(), blobPath(layer.digest), { diffId: image.layers[0]!.diffId }),
      (err) => ImageError.is(err, "digestMismatch"),
    );
  });

  test("reads plain (uncompressed) layers too, by their magic bytes", async () => {
    const root = freshRoot();
    const tar = buildTar([{ path: "hello.txt", data: "plain\n" }]);
    const file = join(work, "plain-layer");
    writeFileSync(file, tar);
    const result = await applyLayerBlob(root, file, { diffId: sha256(tar) });
    assert.equal(result.entries, 1);
    assert.equal(readFileSync(join(root, "hello.txt"), "utf8"), "plain\n");
  });

  test("reports compressed bytes read as progress", async () => {
    const seen: number[] = [];
    await applyLayerBlob(freshRoot(), blobPath(image.layers[0]!.digest), { onProgress: (n) => seen.push(n) });
    assert.ok(seen.length > 1);
    assert.equal(seen.at(-1), image.layers[0]!.size);
  });
});

describe("owners and modes", { skip: !isRoot && "needs root to set owners" }, () => {
  test("owners from the tar win, also inside a set-group-ID directory of a lower layer", async () => {
    const root = freshRoot();
    await apply(root, [{ path: "shared/", type: "dir", mode: 0o2775, gid: 50 }]);
    await apply(root, [
      { path: "shared/root-file", data: "x", uid: 0, gid: 0 },
      { path: "shared/user-file", data: "y", uid: 1000, gid: 1000 },
      { path: "setuid", data: "z", mode: 0o4755, uid: 0, gid: 0 },
    ]);
    assert.equal(statSync(join(root, "shared")).gid, 50);
    assert.equal(statSync(join(root, "shared")).mode & 0o7777, 0o2775);
    assert.equal(statSync(join(root, "shared/root-file")).gid, 0, "not the directory's group");
    assert.deepEqual(
      [statSync(join(root, "shared/user-file")).uid, statSync(join(root, "shared/user-file")).gid],
      [1000, 1000],
    );
    assert.equal(statSync(join(root, "setuid")).mode & 0o7777, 0o4755, "set-user-ID survives chown");
  });

  test("a directory entry over an existing directory takes the new owner and mode", async () => {
    const root = freshRoot();
    await apply(root, [
      { path: "d/", type: "dir", mode: 0o755, uid: 1000, gid: 1000 },
      { path: "d/keep", data: "1" },
    ]);
    await apply(root, [{ path: "d/", type: "dir", mode: 0o700, uid: 0, gid: 0 }]);
    const st = statSync(join(root, "d"));
    assert.deepEqual([st.uid, st.gid, st.mode & 0o7777], [0, 0, 0o700]);
    assert.deepEqual(readdirSync(join(root, "d")), ["keep"]);
  });
});

describe("whiteouts", () => {
  test(".wh.<name> deletes a lower file or whole directory", async () => {
    const root = freshRoot();
    await apply(root, [
      { path: "a/", type: "dir" },
      { path: "a/file", data: "x" },
      { path: "a/dir/", type: "dir" },
      { path: "a/dir/deep", data: "y" },
      { path: "a/keep", data: "z" },
    ]);
    const stats = await apply(root, [
      { path: "a/.wh.file" },
      { path: "a/.wh.dir" },
      { path: "a/.wh.absent" },
    ]);
    assert.deepEqual(readdirSync(join(root, "a")), ["keep"]);
    assert.equal(stats.whiteouts, 3);
  });

  test("a whiteout does not hide what its own layer adds", async () => {
    const root = freshRoot();
    await apply(root, [{ path: "f", data: "lower" }]);
    await apply(root, [{ path: "f", data: "upper" }, { path: ".wh.f" }]);
    assert.equal(readFileSync(join(root, "f"), "utf8"), "upper");
  });

  test("an opaque marker hides lower entries at every depth but keeps this layer's, whatever the order", async () => {
    const root = freshRoot();
    await apply(root, [
      { path: "d/", type: "dir" },
      { path: "d/old", data: "1" },
      { path: "d/sub/", type: "dir" },
      { path: "d/sub/old", data: "2" },
      { path: "e/", type: "dir" },
      { path: "e/untouched", data: "3" },
    ]);
    // New entries before and after the marker, and an implicit parent (d/sub) with no dir entry.
    await apply(root, [
      { path: "d/new-before", data: "4" },
      { path: "d/.wh..wh..opq" },
      { path: "d/sub/new", data: "5" },
    ]);
    assert.deepEqual(readdirSync(join(root, "d")).sort(), ["new-before", "sub"]);
    assert.deepEqual(readdirSync(join(root, "d/sub")), ["new"]);
    assert.deepEqual(readdirSync(join(root, "e")), ["untouched"]);
  });

  test("AUFS bookkeeping entries are ignored, not created", async () => {
    const root = freshRoot();
    const stats = await apply(root, [
      { path: ".wh..wh.plnk/", type: "dir" },
      { path: "x", data: "1" },
    ]);
    assert.deepEqual(readdirSync(root), ["x"]);
    assert.equal(stats.skipped, 1);
  });
});

describe("nothing escapes the root", () => {
  test("an entry climbing out with .. is refused and writes nothing outside", async () => {
    const parent = freshRoot();
    const root = join(parent, "root");
    mkdirSync(root);
    await assert.rejects(apply(root, [{ path: "../escaped", data: "bad" }]), (err) =>
      ImageError.is(err, "unsafePath"),
    );
    await assert.rejects(apply(root, [{ path: "a/../../escaped", data: "bad" }]), (err) =>
      ImageError.is(err, "unsafePath"),
    );
    assert.deepEqual(readdirSync(parent), ["root"]);
  });

  test("absolute entry paths land inside the root", async () => {
    const root = freshRoot();
    await apply(root, [
      { path: "/etc/absolute", data: "inside" },
      { path: "./dot/slash", data: "inside" },
    ]);
    assert.equal(readFileSync(join(root, "etc/absolute"), "utf8"), "inside");
    assert.equal(readFileSync(join(root, "dot/slash"), "utf8"), "inside");
  });

  test("writing through a symlink that points outside stays inside", async () => {
    const outside = freshRoot();
    const root = freshRoot();
    await apply(root, [
      { path: "abs", type: "symlink", linkpath: outside },
      { path: "rel", type: "symlink", linkpath: "../../../../../../.." },
    ]);
    await apply(root, [
      { path: "abs/pwned", data: "should stay in root" },
      { path: "rel/pwned-too", data: "should stay in root" },
    ]);
    assert.deepEqual(readdirSync(outside), [], "nothing written to the real target");
    assert.equal(readFileSync(join(root, outside, "pwned"), "utf8"), "should stay in root");
    assert.equal(readFileSync(join(root, "pwned-too"), "utf8"), "should stay in root");
    assert.equal(readlinkSync(join(root, "abs")), outside, "the symlink itself is kept verbatim");
  });

  test("a directory turned into a symlink mid-layer is not written through afterwards", async () => {
    const outside = freshRoot();
    const root = freshRoot();
    await apply(root, [
      { path: "lib/", type: "dir" },
      { path: "lib/a", data: "1" }, // lib is now a known directory
      { path: "lib", type: "symlink", linkpath: outside },
      { path: "lib/b", data: "must stay inside" },
    ]);
    assert.deepEqual(readdirSync(outside), []);
    assert.equal(readFileSync(join(root, outside, "b"), "utf8"), "must stay inside");
  });

  test("an existing symlink at an entry's path is replaced, never written through", async () => {
    const outside = freshRoot();
    const victim = join(outside, "victim");
    writeFileSync(victim, "original");
    const root = freshRoot();
    await apply(root, [{ path: "f", type: "symlink", linkpath: victim }]);
    await apply(root, [{ path: "f", data: "replacement" }]);
    assert.equal(readFileSync(victim, "utf8"), "original");
    assert.ok(lstatSync(join(root, "f")).isFile());
    assert.equal(readFileSync(join(root, "f"), "utf8"), "replacement");
  });

  test("hard links: a target climbing out is refused; absolute and symlinked targets resolve inside", async () => {
    const outside = freshRoot();
    const victim = join(outside, "victim");
    writeFileSync(victim, "original");
    const root = freshRoot();
    await assert.rejects(
      apply(root, [
        { path: "h", type: "hardlink", linkpath: "../../../../../../../../../" + victim.slice(1) },
      ]),
      (err) => ImageError.is(err, "unsafePath"),
    );
    // Absolute target: means <root>/<target>, which does not exist, so the layer is refused.
    await assert.rejects(apply(root, [{ path: "h2", type: "hardlink", linkpath: victim }]), (err) =>
      ImageError.is(err, "invalidImage"),
    );
    // Through a symlink to the outside directory: resolved inside root, again missing.
    await apply(root, [{ path: "out", type: "symlink", linkpath: outside }]);
    await assert.rejects(apply(root, [{ path: "h3", type: "hardlink", linkpath: "out/victim" }]), (err) =>
      ImageError.is(err, "invalidImage"),
    );
    assert.equal(statSync(victim).nlink, 1, "the outside file gained no links");
  });

  test("a hard link to a symlink links the symlink, not what it points at", async () => {
    const outside = freshRoot();
    const victim = join(outside, "victim");
    writeFileSync(victim, "original");
    const root = freshRoot();
    await apply(root, [
      { path: "s", type: "symlink", linkpath: victim },
      { path: "h", type: "hardlink", linkpath: "s" },
    ]);
    assert.ok(lstatSync(join(root, "h")).isSymbolicLink());
    assert.equal(statSync(victim).nlink, 1);
  });
});

describe("malformed layers", () => {
  test("a layer without end-of-archive blocks is accepted (umoci writes those)", async () => {
    const root = freshRoot();
    await apply(root, [{ path: "a", data: "complete" }], { end: false });
    assert.equal(readFileSync(join(root, "a"), "utf8"), "complete");
  });

  test("a layer cut off inside a file is refused", async () => {
    const root = freshRoot();
    const tar = buildTar([{ path: "big", data: Buffer.alloc(5000, 1) }]);
    await assert.rejects(applyLayer(root, chunks(tar.subarray(0, 512 + 2000))), (err) =>
      ImageError.is(err, "invalidImage"),
    );
  });

  test("bytes that are not tar are refused", async () => {
    await assert.rejects(applyLayer(freshRoot(), chunks(Buffer.alloc(4096, 0x41))), (err) =>
      ImageError.is(err, "invalidImage"),
    );
  });

  test("corrupt gzip is refused with a clear reason", async () => {
    const gz = gzipSync(buildTar([{ path: "a", data: "x".repeat(10000) }]));
    const file = join(work, "corrupt.gz");
    writeFileSync(file, Buffer.concat([gz.subarray(0, 40), Buffer.alloc(200, 0x55)]));
    await assert.rejects(applyLayerBlob(freshRoot(), file), (err) => ImageError.is(err, "invalidImage"));
  });

  test("device nodes and FIFOs are skipped and counted", async () => {
    const root = freshRoot();
    const stats = await apply(root, [
      { path: "pipe", type: "fifo" },
      { path: "ok", data: "1" },
    ]);
    assert.equal(stats.skipped, 1);
    assert.deepEqual(readdirSync(root), ["ok"]);
  });

  test("cancellation stops extraction with the signal's reason", async () => {
    const controller = new AbortController();
    controller.abort(new Error("stop now"));
    await assert.rejects(
      applyLayer(freshRoot(), chunks(buildTar([{ path: "a", data: "1" }])), { signal: controller.signal }),
      /stop now/,
    );
  });
});
