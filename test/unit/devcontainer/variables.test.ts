import { test } from "node:test";
import assert from "node:assert/strict";
import {
  resolveContainerEnv,
  substituteDeep,
  substituteString,
} from "../../../extension/core/devcontainer/variables";
import type { VariableContext } from "../../../extension/core/devcontainer/variables";

const ctx: VariableContext = {
  localWorkspaceFolder: "/home/dev/my-project",
  containerWorkspaceFolder: "/workspaces/inner",
  devcontainerId: "0123456789abcdefghijklmnopqrstuv0123456789abcdefghij",
  env: { HOME: "/home/dev", EMPTY: "", WITH_COLON: "a:b" },
};
const sub = (s: string, remote = false) => substituteString(s, ctx, remote);

test("local folder variables", () => {
  assert.equal(sub("${localWorkspaceFolder}/x").value, "/home/dev/my-project/x");
  assert.equal(sub("${localWorkspaceFolderBasename}").value, "my-project");
  assert.equal(sub("${containerWorkspaceFolder}").value, "/workspaces/inner");
  assert.equal(sub("${containerWorkspaceFolderBasename}").value, "inner");
  assert.equal(sub("vol-${devcontainerId}").value, `vol-${ctx.devcontainerId}`);
});

test("localEnv and env: set, empty, default, unset, default containing colons", () => {
  assert.equal(sub("${localEnv:HOME}/.ssh").value, "/home/dev/.ssh");
  assert.equal(sub("${env:HOME}").value, "/home/dev");
  assert.equal(
    sub("[${localEnv:EMPTY:fallback}]").value,
    "[]",
    "set-but-empty is a value, not a reason for the default",
  );
  assert.equal(sub("${localEnv:NOPE:fallback}").value, "fallback");
  assert.equal(sub("${localEnv:NOPE:http://x:8080}").value, "http://x:8080");
  assert.equal(sub("${localEnv:WITH_COLON}").value, "a:b");
  const unset = sub("x${localEnv:NOPE}y");
  assert.equal(unset.value, "xy");
  assert.equal(unset.problems[0]?.severity, "warning");
  assert.match(unset.problems[0]?.message ?? "", /NOPE is not set/);
});

test("a localEnv without a name is an error; unknown variables stay exactly as written", () => {
  const noName = sub("${localEnv}");
  assert.equal(noName.value, "${localEnv}");
  assert.equal(noName.problems[0]?.severity, "error");
  for (const s of [
    "${templateOption:imageVariant}",
    "${unknown}",
    "${}",
    "$notavar",
    "${localWorkspaceFolder",
  ]) {
    const r = sub(s);
    assert.equal(r.value, s);
    assert.deepEqual(r.problems, []);
  }
});

test("containerEnv is deferred in remoteEnv and left alone (with a warning) elsewhere", () => {
  const remote = sub("${containerEnv:PATH}:/opt/bin", true);
  assert.equal(remote.value, "${containerEnv:PATH}:/opt/bin");
  assert.equal(remote.deferred, true);
  assert.deepEqual(remote.problems, []);
  const elsewhere = sub("${containerEnv:PATH}");
  assert.equal(elsewhere.deferred, false);
  assert.equal(elsewhere.problems[0]?.severity, "warning");
  assert.equal(
    resolveContainerEnv("${containerEnv:PATH}:/opt/bin:${containerEnv:NONE:dflt}:${containerEnv:GONE}", {
      PATH: "/usr/bin",
    }),
    "/usr/bin:/opt/bin:dflt:",
  );
});

test("substituteDeep walks values (not keys), records deferred remoteEnv paths and problem paths", () => {
  const input = {
    name: "${localWorkspaceFolderBasename}",
    remoteEnv: { PATH: "${containerEnv:PATH}:/x", "${localEnv:HOME}": "k" },
    mounts: [{ source: "${localEnv:MISSING}", target: "/t" }],
    containerEnv: { ["__proto__"]: "${devcontainerId}" },
  };
  const out = substituteDeep(JSON.parse(JSON.stringify(input)) as typeof input, ctx);
  assert.equal(out.value.name, "my-project");
  assert.deepEqual(Object.keys(out.value.remoteEnv), ["PATH", "${localEnv:HOME}"]);
  assert.deepEqual(out.deferredPaths, [["remoteEnv", "PATH"]]);
  assert.deepEqual(
    out.problems.map((p) => p.path),
    [["mounts", 0, "source"]],
  );
  assert.equal(
    Object.getOwnPropertyDescriptor(out.value.containerEnv, "__proto__")?.value,
    ctx.devcontainerId,
    "a key named __proto__ stays a key",
  );
});
