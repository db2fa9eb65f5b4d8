// The builder module against the real buildah on this machine: a Dockerfile whose base image
// comes from a loopback registry (plain HTTP), with build args and a target stage; export as an
// OCI archive; a cancelled build stops buildah and leaves no working container behind. buildah
// keeps its storage in the test's own folder, never in /var/lib/containers.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BuildError } from "../../../extension/core/build/buildError";
import { findBuilder } from "../../../extension/core/build/builder";
import type { ImageBuilder } from "../../../extension/core/build/builder";
import { pushTestImage, startRegistry, type TestRegistry } from "../../harness/registry";
import { buildTestImage } from "../../harness/testImage";

let work: string;
let registry: TestRegistry;
let base: string;
let builder: ImageBuilder;

before(async () => {
  work = mkdtempSync(join(tmpdir(), "zones-builder-it-"));
  registry = await startRegistry();
  ({ single: base } = await pushTestImage(registry, await buildTestImage(join(work, "image"))));
  builder = await findBuilder({ choice: "buildah", storageRoot: join(work, "storage") });
});

after(async () => {
  await registry?.stop();
  // buildah's overlay storage may hold mounts; unmount through buildah before deleting.
  try {
    execFileSync(
      "buildah",
      ["--root", join(work, "storage/root"), "--runroot", join(work, "storage/runroot"), "rm", "--all"],
      { stdio: "ignore" },
    );
  } catch {
    // nothing to unmount
  }
  rmSync(work, { recursive: true, force: true });
});

function containers(): string {
  return execFileSync(
    "buildah",
    [
      "--root",
      join(work, "storage/root"),
      "--runroot",
      join(work, "storage/runroot"),
      "--storage-driver",
      "overlay",
      "containers",
      "-q",
    ],
    { encoding: "utf8" },
  ).trim();
}

describe("buildah builder", () => {
  test("builds a target stage with args from a loopback base image, labels it, exports an OCI archive", async () => {
    const ctx = join(work, "ctx");
    mkdirSync(ctx, { recursive: true });
    writeFileSync(
      join(ctx, "Dockerfile"),
      [
        `FROM ${base} AS tools`,
        "ARG GREETING=unset",
        'RUN echo "$GREETING" > /greeting',
        "FROM tools AS dev",
        "RUN cat /greeting",
        "FROM tools AS unused",
        "RUN exit 1",
        "",
      ].join("\n"),
    );
    let output = "";
    await builder.build(
      {
        context: ctx,
        dockerfile: join(ctx, "Dockerfile"),
        tag: "localhost/zones-it/app:1",
        target: "dev",
        args: { GREETING: "hello from a build arg" },
        labels: { "devcontainer.metadata": '[{"remoteUser":"tester"}]' },
      },
      { onOutput: (t) => (output += t) },
    );
    assert.match(output, /hello from a build arg/);
    const config = await builder.inspect("localhost/zones-it/app:1");
    assert.equal(config?.labels["devcontainer.metadata"], '[{"remoteUser":"tester"}]');
    assert.ok(
      config?.env.some((e) => e.startsWith("STYROLITE_GREETING=")),
      "the base image's env is kept",
    );
    assert.equal(await builder.inspect("localhost/zones-it/absent:1"), undefined);
    const archive = join(work, "app.tar");
    assert.equal(await builder.exportArchive("localhost/zones-it/app:1", archive), "oci-archive");
    assert.ok(statSync(archive).size > 100_000);
  });

  test("a failing step rejects with buildFailed and the last lines of output", async () => {
    const ctx = join(work, "bad");
    mkdirSync(ctx, { recursive: true });
    writeFileSync(join(ctx, "Dockerfile"), `FROM ${base}\nRUN echo the-last-words && exit 7\n`);
    await assert.rejects(
      builder.build({ context: ctx, dockerfile: join(ctx, "Dockerfile"), tag: "localhost/zones-it/bad:1" }),
      (err: unknown) =>
        BuildError.is(err, "buildFailed") &&
        (err.details.outputTail ?? []).some((l) => l.includes("the-last-words")),
    );
  });

  test("cancelling a build stops buildah and leaves no working container", async () => {
    const ctx = join(work, "slow");
    mkdirSync(ctx, { recursive: true });
    writeFileSync(join(ctx, "Dockerfile"), `FROM ${base}\nRUN echo started && sleep 60\n`);
    const before = containers();
    const controller = new AbortController();
    const building = builder.build(
      { context: ctx, dockerfile: join(ctx, "Dockerfile"), tag: "localhost/zones-it/slow:1" },
      { signal: controller.signal, onOutput: (t) => t.includes("started") && controller.abort() },
    );
    await assert.rejects(building, (err: unknown) => BuildError.is(err, "cancelled"));
    assert.equal(containers(), before);
    assert.equal(await builder.inspect("localhost/zones-it/slow:1"), undefined);
  });
});
