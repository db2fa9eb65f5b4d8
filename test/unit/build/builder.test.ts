import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BuildError } from "../../../extension/core/build/buildError";
import { allowedBuildOptions, findBuilder, loopbackRegistries } from "../../../extension/core/build/builder";

test("no builder on PATH: the refusal says what to install", async () => {
  const empty = mkdtempSync(join(tmpdir(), "zones-nobuilder-"));
  try {
    await assert.rejects(findBuilder({ env: { PATH: empty } }), (err: unknown) => {
      assert.ok(BuildError.is(err, "noBuilder"));
      assert.match(err.message, /buildah: not installed; podman: not installed; docker: not installed/);
      assert.match(err.message, /apt-get install buildah/);
      return true;
    });
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});

test("docker counts only when its daemon answers; a named builder is the only one tried", async () => {
  const bin = mkdtempSync(join(tmpdir(), "zones-fakedocker-"));
  try {
    // A docker CLI whose daemon is down, as on this machine; buildah is present but not chosen.
    writeFileSync(join(bin, "docker"), "#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n");
    writeFileSync(join(bin, "buildah"), "#!/bin/sh\necho 'buildah version 9.9'\n");
    chmodSync(join(bin, "docker"), 0o755);
    chmodSync(join(bin, "buildah"), 0o755);
    await assert.rejects(findBuilder({ choice: "docker", env: { PATH: bin } }), (err: unknown) => {
      assert.ok(BuildError.is(err, "noBuilder"));
      assert.match(err.message, /docker: its daemon does not answer \(Cannot connect to the Docker daemon\)/);
      assert.match(err.message, /zones\.build\.builder/);
      return true;
    });
    const auto = await findBuilder({ env: { PATH: bin } });
    assert.equal(auto.name, "buildah");
    assert.equal(auto.version, "buildah version 9.9");
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
});

test("build.options: allow-listed flags pass, in both spellings; anything else is refused by name", () => {
  assert.deepEqual(
    allowedBuildOptions(["--pull", "--platform", "linux/amd64", "--label=a=b", "--network=host"]),
    {
      flags: ["--pull", "--platform=linux/amd64", "--label=a=b", "--network=host"],
    },
  );
  assert.deepEqual(allowedBuildOptions(["--privileged"]), {
    refused: '"--privileged" is not an allowed build option',
  });
  assert.deepEqual(allowedBuildOptions(["--network", "container:x"]), {
    refused: '"--network container:x": only host, none or default',
  });
  assert.deepEqual(allowedBuildOptions(["--platform"]), { refused: '"--platform" needs a value' });
  assert.deepEqual(allowedBuildOptions(["--pull=always"]), { refused: '"--pull=always" takes no value' });
});

test("only loopback registries are spoken to over plain HTTP", () => {
  assert.deepEqual(
    loopbackRegistries([
      "127.0.0.1:5000/a/b:1",
      "localhost:5001/x",
      "[::1]:5002/y",
      "ghcr.io/devcontainers/features/node:1",
      "debian:bookworm",
      "127.0.0.1:5000/again",
    ]),
    ["127.0.0.1:5000", "localhost:5001", "[::1]:5002"],
  );
});
