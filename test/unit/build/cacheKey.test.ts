// The build cache key's view of a build context: what a Dockerfile build can see changes the key,
// what .dockerignore hides does not (so editing a README or node_modules never forces a rebuild).
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cacheKey, contextDigest } from "../../../extension/core/build/cacheKey";

function context(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "zones-cachekey-"));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, ".."), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

test("the context digest follows what the builder sees: content, names and the executable bit; .dockerignore'd files do not count", async (t) => {
  const root = context({
    Dockerfile: "FROM x\n",
    ".dockerignore": "node_modules\n**/*.log\ndocs/\n!docs/keep.md\n",
    "src/app.js": "one",
    "node_modules/dep/index.js": "dep",
    "src/debug.log": "a",
    "docs/readme.md": "r",
    "docs/keep.md": "k",
  });
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const digest = (): Promise<string> => contextDigest(root, join(root, "Dockerfile"));
  const first = await digest();
  assert.match(first, /^sha256:[0-9a-f]{64}$/);
  assert.equal(await digest(), first, "stable");

  writeFileSync(join(root, "node_modules/dep/index.js"), "changed");
  writeFileSync(join(root, "src/debug.log"), "more log");
  assert.equal(await digest(), first, "ignored files and folders do not count");
  // A new folder is part of the context (COPY creates it); the log in it is not.
  mkdirSync(join(root, "src/deep/er"), { recursive: true });
  const withFolder = await digest();
  writeFileSync(join(root, "src/deep/er/trace.log"), "x");
  assert.equal(await digest(), withFolder, "** ignores at any depth");

  writeFileSync(join(root, "docs/keep.md"), "kept, changed");
  const negated = await digest();
  assert.notEqual(negated, first, "a ! pattern brings a file back");

  writeFileSync(join(root, "src/app.js"), "two");
  const edited = await digest();
  assert.notEqual(edited, negated, "content counts");
  chmodSync(join(root, "src/app.js"), 0o755);
  const executable = await digest();
  assert.notEqual(executable, edited, "the executable bit counts");
  writeFileSync(join(root, "src/new.js"), "");
  assert.notEqual(await digest(), executable, "a new empty file counts");
});

test("<Dockerfile>.dockerignore next to the Dockerfile wins over the context's .dockerignore", async (t) => {
  const root = context({
    ".devcontainer/Dockerfile": "FROM x\n",
    ".devcontainer/Dockerfile.dockerignore": "big/\n",
    ".dockerignore": "small/\n",
    "big/blob": "1",
    "small/file": "1",
  });
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const digest = (): Promise<string> => contextDigest(root, join(root, ".devcontainer/Dockerfile"));
  const first = await digest();
  writeFileSync(join(root, "big/blob"), "2");
  assert.equal(await digest(), first, "ignored by the Dockerfile's own list");
  writeFileSync(join(root, "small/file"), "2");
  assert.notEqual(await digest(), first, "the context's list is not used");
});

test("the cache key does not depend on the order of keys, only on values", () => {
  const a = cacheKey({
    base: { image: "x", digest: "sha256:1" },
    features: [{ id: "f", options: { a: 1 } }],
  });
  const b = cacheKey({
    features: [{ options: { a: 1 }, id: "f" }],
    base: { digest: "sha256:1", image: "x" },
  });
  assert.equal(a, b);
  assert.notEqual(
    a,
    cacheKey({ base: { image: "x", digest: "sha256:2" }, features: [{ id: "f", options: { a: 1 } }] }),
  );
  assert.notEqual(
    a,
    cacheKey({ base: { image: "x", digest: "sha256:1" }, features: [{ id: "f", options: { a: 2 } }] }),
  );
});
