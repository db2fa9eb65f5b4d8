import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { featuresStage } from "../../../extension/core/build/featuresDockerfile";
import { parseFeatureRef } from "../../../extension/core/features/featureRef";
import {
  formatLockfile,
  lockfilePath,
  parseLockfile,
  writeLockfile,
} from "../../../extension/core/features/lockfile";
import { mergeMetadata, parseMetadataLabel } from "../../../extension/core/features/metadata";
import { optionValues, optionsEnvFile, safeId } from "../../../extension/core/features/options";
import { installOrder } from "../../../extension/core/features/order";
import type { OrderNode } from "../../../extension/core/features/order";
import type { ResolvedFeature } from "../../../extension/core/features/resolve";

test("feature references: OCI (registry first, tag or digest), tarballs, local folders, legacy short ids", () => {
  assert.deepEqual(parseFeatureRef("ghcr.io/devcontainers/features/node:1"), {
    source: {
      kind: "oci",
      registry: "ghcr.io",
      repository: "devcontainers/features/node",
      tag: "1",
      id: "node",
    },
  });
  const digest = "sha256:" + "a".repeat(64);
  assert.deepEqual(parseFeatureRef(`127.0.0.1:5000/My/Feature@${digest}`), {
    source: { kind: "oci", registry: "127.0.0.1:5000", repository: "my/feature", digest, id: "feature" },
  });
  assert.deepEqual(parseFeatureRef("ghcr.io/devcontainers-contrib/features/deno"), {
    source: {
      kind: "oci",
      registry: "ghcr.io",
      repository: "devcontainers-extra/features/deno",
      tag: "latest",
      id: "deno",
    },
  });
  assert.deepEqual(parseFeatureRef("https://example.com/x/devcontainer-feature-go.tgz"), {
    source: { kind: "tarball", url: "https://example.com/x/devcontainer-feature-go.tgz", id: "go" },
  });
  assert.deepEqual(parseFeatureRef("./local-features/a"), {
    source: { kind: "local", path: "./local-features/a", id: "a" },
  });
  assert.deepEqual(parseFeatureRef("golang"), {
    source: { kind: "oci", registry: "ghcr.io", repository: "devcontainers/features/go", tag: "1", id: "go" },
    mappedFrom: "golang",
  });
  assert.deepEqual(parseFeatureRef("maven"), {
    source: {
      kind: "oci",
      registry: "ghcr.io",
      repository: "devcontainers/features/java",
      tag: "1",
      id: "java",
    },
    mappedFrom: "maven",
    addedOptions: { installMaven: true },
  });
  for (const refused of [
    "fish",
    "owner/repo/feature",
    "owner/repo/feature@v1",
    "ghcr.io/x/y:bad tag",
    "ghcr.io/x@sha256:zz",
  ])
    assert.ok("refused" in parseFeatureRef(refused), refused);
});

test("options become env lines: the safe id, defaults, the version shorthand, values single-quoted", () => {
  assert.equal(safeId("nodeGypDependencies"), "NODEGYPDEPENDENCIES");
  assert.equal(safeId("install-tools.v2"), "INSTALL_TOOLS_V2");
  assert.equal(safeId("2fa_mode"), "_FA_MODE");
  const feature = {
    id: "node",
    options: {
      version: { type: "string" as const, default: "lts" },
      installYarn: { type: "boolean" as const, default: true },
      extra: { type: "string" as const },
    },
  };
  assert.deepEqual(optionValues(feature, "20"), { version: "20", installYarn: true });
  assert.deepEqual(optionValues(feature, { installYarn: false, extra: "x" }), {
    version: "lts",
    installYarn: false,
    extra: "x",
  });
  assert.deepEqual(optionValues(feature, true), { version: "lts", installYarn: true });
  assert.equal(
    optionsEnvFile({ version: "it's $(rm -rf /)", installYarn: false }),
    "VERSION='it'\\''s $(rm -rf /)'\nINSTALLYARN='false'\n",
  );
});

function node(key: string, extra: Partial<OrderNode> = {}): OrderNode {
  return {
    key,
    userId: key,
    kind: "oci",
    matches: [key],
    sort: [key],
    dependsOn: [],
    installsAfter: [],
    priority: 0,
    ...extra,
  };
}

test("install order: dependsOn first, installsAfter only among present features, override raises priority, ties by id", () => {
  const result = installOrder([
    node("c", { dependsOn: ["a"] }),
    node("b", { installsAfter: ["a", "not-there"] }),
    node("a"),
    node("d"),
  ]);
  assert.ok("order" in result);
  // Round 1: a and d (b waits for a); round 2: b and c, sorted.
  assert.deepEqual(
    result.order.map((n) => n.key),
    ["a", "d", "b", "c"],
  );
  const overridden = installOrder([
    node("a"),
    node("b"),
    node("z", { priority: 2 }),
    node("y", { priority: 1 }),
  ]);
  assert.ok("order" in overridden);
  assert.deepEqual(
    overridden.order.map((n) => n.key),
    ["z", "y", "a", "b"],
  );
  const cycle = installOrder([node("a", { dependsOn: ["b"] }), node("b", { dependsOn: ["a"] }), node("c")]);
  assert.ok("stuck" in cycle);
  assert.match(cycle.message, /features a, b depend on each other in a cycle/);
});

test("metadata: the label parses (array or object), bad entries are dropped and named", () => {
  assert.deepEqual(parseMetadataLabel('{"remoteUser":"vscode"}').entries, [{ remoteUser: "vscode" }]);
  const mixed = parseMetadataLabel('[{"id":"a","privileged":"yes"},{"id":"b","init":true}]');
  assert.deepEqual(mixed.entries, [{ id: "b", init: true }]);
  assert.match(mixed.problems[0] ?? "", /entry 0 \(a\): privileged/);
  assert.deepEqual(parseMetadataLabel("not json").entries, []);
});

test("metadata merge: any-true flags, unions, mounts by target (later wins), layered env, last single value", () => {
  const merged = mergeMetadata(
    {
      image: "x",
      remoteUser: "me",
      containerEnv: { A: "file" },
      mounts: ["type=volume,source=mine,target=/data"],
    },
    [
      {
        privileged: true,
        capAdd: ["SYS_PTRACE"],
        containerEnv: { A: "image", B: "image" },
        remoteUser: "vscode",
      },
      {
        id: "f",
        capAdd: ["SYS_PTRACE", "NET_ADMIN"],
        mounts: [{ type: "volume", source: "f", target: "/data" }],
        entrypoint: "/e.sh",
      },
    ],
  );
  assert.equal(merged.config.privileged, true);
  assert.deepEqual(merged.config.capAdd, ["SYS_PTRACE", "NET_ADMIN"]);
  assert.deepEqual(merged.config.containerEnv, { A: "file", B: "image" });
  assert.equal(merged.config.remoteUser, "me");
  assert.deepEqual(merged.config.mounts, ["type=volume,source=mine,target=/data"]);
  assert.deepEqual(merged.entrypoints, ["/e.sh"]);
});

test("lockfile: next to the config, sorted on write, only when changed, atomically; frozen refuses", async () => {
  assert.equal(lockfilePath("/p/.devcontainer/devcontainer.json"), "/p/.devcontainer/devcontainer-lock.json");
  assert.equal(lockfilePath("/p/.devcontainer.json"), "/p/.devcontainer-lock.json");
  const d = "sha256:" + "b".repeat(64);
  const bad = parseLockfile(
    JSON.stringify({
      features: { x: { version: "1", resolved: `r/x@sha256:${"c".repeat(64)}`, integrity: d } },
    }),
    "/lock",
  );
  assert.match(bad.problem ?? "", /integrity says/);
  assert.deepEqual(parseLockfile("", "/lock"), { create: true });
  const dir = mkdtempSync(join(tmpdir(), "zones-lock-"));
  try {
    const path = join(dir, "devcontainer-lock.json");
    const entries = {
      "z/f:1": { version: "1.0.0", resolved: `z/f@${d}`, integrity: d },
      "a/f:1": { version: "2.0.0", resolved: `a/f@${d}`, integrity: d, dependsOn: ["z/f:1"] },
    };
    const wrote = await writeLockfile(path, entries);
    assert.equal(wrote, true);
    const text = readFileSync(path, "utf8");
    assert.equal(text, formatLockfile(entries));
    assert.ok(text.indexOf('"a/f:1"') < text.indexOf('"z/f:1"'), "sorted by reference");
    assert.equal(await writeLockfile(path, entries), false, "unchanged: not rewritten");
    await assert.rejects(
      writeLockfile(path, { ...entries, "n/f:1": entries["z/f:1"] }, { frozen: true }),
      /frozen/,
    );
    assert.equal(readFileSync(path, "utf8"), text, "frozen: nothing written");
    assert.deepEqual(readdirSync(dir), ["devcontainer-lock.json"], "no temporary file left");
    writeFileSync(path, "{ not json");
    assert.equal(await writeLockfile(path, entries), true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the features stage: ENV before each feature's RUN, a wrapper that names it, users quoted, the image user restored", () => {
  const feature = (id: string, userId: string, env?: Record<string, string>): ResolvedFeature => ({
    userId,
    source: { kind: "oci", registry: "r", repository: `f/${id}`, tag: "1", id },
    json: { id, version: "1", ...(env ? { containerEnv: env } : {}) },
    digest: "sha256:0",
    value: {},
    options: { greeting: "hi 'there'" },
    userProvided: true,
    resolved: "r",
    dir: "/x",
  });
  const stage = featuresStage(
    "base:1",
    [feature("a", "r/f/a:1", { PATH: "/opt/a/bin:${PATH}", QUOTE: 'say "hi"' }), feature("b", "r/f/b:1")],
    { containerUser: "root", remoteUser: "dev'il", imageUser: "1000" },
  );
  const lines = stage.dockerfile.split("\n");
  assert.equal(lines[0], "FROM base:1 AS dev_containers_target_stage");
  const envAt = lines.indexOf('ENV PATH="/opt/a/bin:${PATH}"');
  assert.ok(envAt > 0 && lines.indexOf('ENV QUOTE="say \\"hi\\""') === envAt + 1);
  assert.ok(lines.findIndex((l) => l.includes("0-a") && l.startsWith("RUN")) > envAt);
  assert.ok(
    lines.findIndex((l) => l.includes("1-b") && l.startsWith("RUN")) >
      lines.findIndex((l) => l.includes("0-a") && l.startsWith("RUN")),
  );
  assert.equal(lines.at(-2), "USER 1000");
  const builtin = stage.files.find((f) => f.path === "builtin.env")!;
  assert.equal(builtin.content, "_CONTAINER_USER='root'\n_REMOTE_USER='dev'\\''il'\n");
  const wrapper = stage.files.find((f) => f.path === "0-a/devcontainer-features-install.sh")!;
  assert.match(wrapper.content, /_ZONES_FEATURE='r\/f\/a:1'/);
  assert.equal(
    stage.files.find((f) => f.path === "0-a/devcontainer-features.env")!.content,
    "GREETING='hi '\\''there'\\'''\n",
  );
});
