import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DevcontainerError } from "../../../extension/core/devcontainer/errors";
import { findConfigFiles, locateConfig, projectFolderOf } from "../../../extension/core/devcontainer/locate";

function project(files: string[]): string {
  const root = mkdtempSync(join(tmpdir(), "zones-locate-"));
  for (const file of files) {
    mkdirSync(join(root, file, ".."), { recursive: true });
    writeFileSync(join(root, file), '{ "image": "alpine" }');
  }
  return root;
}

test("finds .devcontainer/devcontainer.json, .devcontainer.json and .devcontainer/<name>/devcontainer.json, in that order", async (t) => {
  const root = project([
    ".devcontainer/b/devcontainer.json",
    ".devcontainer.json",
    ".devcontainer/devcontainer.json",
    ".devcontainer/a/devcontainer.json",
    ".devcontainer/a/b/devcontainer.json",
  ]);
  t.after(() => rmSync(root, { recursive: true, force: true }));
  assert.deepEqual(await findConfigFiles(root), [
    join(root, ".devcontainer/devcontainer.json"),
    join(root, ".devcontainer.json"),
    join(root, ".devcontainer/a/devcontainer.json"),
    join(root, ".devcontainer/b/devcontainer.json"),
  ]);
});

test("one config: PATH (or the current directory) is the project folder", async (t) => {
  const root = project([".devcontainer.json"]);
  t.after(() => rmSync(root, { recursive: true, force: true }));
  assert.deepEqual(await locateConfig(undefined, { cwd: root }), {
    localFolder: root,
    configFile: join(root, ".devcontainer.json"),
  });
  assert.deepEqual(await locateConfig(root, { cwd: "/" }), {
    localFolder: root,
    configFile: join(root, ".devcontainer.json"),
  });
});

test("several configs: a typed error listing them, unless --config chooses", async (t) => {
  const root = project([".devcontainer/a/devcontainer.json", ".devcontainer/b/devcontainer.json"]);
  t.after(() => rmSync(root, { recursive: true, force: true }));
  await assert.rejects(locateConfig(root, { cwd: "/" }), (err: unknown) => {
    assert.ok(DevcontainerError.is(err, "ambiguous"));
    assert.deepEqual(err.candidates, [
      join(root, ".devcontainer/a/devcontainer.json"),
      join(root, ".devcontainer/b/devcontainer.json"),
    ]);
    assert.match(err.message, /--config/);
    return true;
  });
  assert.deepEqual(
    await locateConfig(undefined, { cwd: root, config: ".devcontainer/b/devcontainer.json" }),
    {
      localFolder: root,
      configFile: join(root, ".devcontainer/b/devcontainer.json"),
    },
  );
  // A config file given as PATH picks itself; its project is the parent of .devcontainer.
  assert.deepEqual(await locateConfig(join(root, ".devcontainer/a/devcontainer.json"), { cwd: "/" }), {
    localFolder: root,
    configFile: join(root, ".devcontainer/a/devcontainer.json"),
  });
});

test("nothing found, or a missing --config, is notFound", async (t) => {
  const root = project([]);
  t.after(() => rmSync(root, { recursive: true, force: true }));
  await assert.rejects(locateConfig(root, { cwd: "/" }), (err: unknown) =>
    DevcontainerError.is(err, "notFound"),
  );
  await assert.rejects(locateConfig(root, { cwd: root, config: "nope.json" }), (err: unknown) =>
    DevcontainerError.is(err, "notFound"),
  );
  await assert.rejects(locateConfig(join(root, "missing"), { cwd: "/" }), (err: unknown) =>
    DevcontainerError.is(err, "notFound"),
  );
});

test("a devcontainer.json at the folder's top is not looked for; the error says how to use it", async (t) => {
  // As in the corpus's set-up-with-config project: the reference CLI passes such a file with --config.
  const root = project(["devcontainer.json"]);
  t.after(() => rmSync(root, { recursive: true, force: true }));
  await assert.rejects(
    locateConfig(root, { cwd: "/" }),
    (err: unknown) =>
      DevcontainerError.is(err, "notFound") &&
      err.message.includes(
        `${join(root, "devcontainer.json")} is not one of those places: give it as PATH or with --config`,
      ),
  );
  assert.deepEqual(await locateConfig(join(root, "devcontainer.json"), { cwd: "/" }), {
    localFolder: root,
    configFile: join(root, "devcontainer.json"),
  });
});

test("projectFolderOf", () => {
  assert.equal(projectFolderOf("/p/.devcontainer/devcontainer.json"), "/p");
  assert.equal(projectFolderOf("/p/.devcontainer/go/devcontainer.json"), "/p");
  assert.equal(projectFolderOf("/p/.devcontainer.json"), "/p");
  assert.equal(projectFolderOf("/elsewhere/dev.json"), "/elsewhere");
});
