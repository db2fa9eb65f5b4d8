import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { displayCommand, hookCommands, hookNames } from "../../../extension/core/devcontainer/hooks";
import { localFolder, planOf } from "./planHelpers";

test("string form → /bin/sh -c; array form → argv as written (no shell); object form → parallel", () => {
  assert.deepEqual(hookCommands("echo $HOME && ls"), {
    commands: [{ label: undefined, argv: ["/bin/sh", "-c", "echo $HOME && ls"], shell: true }],
    parallel: false,
  });
  assert.deepEqual(hookCommands(["echo", "$HOME", "a b"]), {
    commands: [{ label: undefined, argv: ["echo", "$HOME", "a b"], shell: false }],
    parallel: false,
  });
  const object = hookCommands({ web: "npm ci", db: ["createdb", "app"] });
  assert.equal(object.parallel, true);
  assert.deepEqual(
    object.commands.map((c) => [c.label, c.argv, c.shell]),
    [
      ["web", ["/bin/sh", "-c", "npm ci"], true],
      ["db", ["createdb", "app"], false],
    ],
  );
  assert.deepEqual(hookCommands("  ").commands, []);
  assert.deepEqual(hookCommands([]).commands, []);
  assert.deepEqual(hookCommands({}).commands, []);
  assert.equal(
    displayCommand({ label: undefined, argv: ["echo", "it's", "a b"], shell: false }),
    "echo 'it'\\''s' 'a b'",
  );
});

test("the plan lists hooks in spec order with where and when each runs", () => {
  const plan = planOf(
    readFileSync(join(import.meta.dirname, "../../fixtures/devcontainer/hooks/.devcontainer.json"), "utf8"),
  );
  assert.deepEqual(
    plan.hooks.map((h) => h.hook),
    [...hookNames],
  );
  assert.deepEqual(
    plan.hooks.map((h) => [h.runsOn, h.when, h.parallel]),
    [
      ["local", "everyLaunch", false],
      ["workload", "firstLaunch", false],
      ["workload", "firstLaunch", false],
      ["workload", "firstLaunch", true],
      ["workload", "everyStart", false],
      ["workload", "everyAttach", false],
    ],
  );
  assert.equal(plan.hooks[0]?.workingDirectory, localFolder);
  assert.ok(plan.hooks.slice(1).every((h) => h.workingDirectory === "/workspaces/My Project"));
  assert.deepEqual(plan.hooks[0]?.commands[0]?.argv, ["echo", "local init"]);
  assert.deepEqual(plan.hooks[2]?.commands[0]?.argv, ["/bin/sh", "-c", "echo two >> /tmp/hooks.log"]);
  assert.equal(plan.hooks[3]?.commands.length, 2);
});

test("variables are substituted in hooks; empty hooks are skipped but still get a table row", () => {
  const plan = planOf({
    image: "x",
    postCreateCommand: "echo ${containerWorkspaceFolder} ${devcontainerId}",
    postStartCommand: "",
  });
  assert.equal(plan.hooks.length, 1);
  assert.equal(plan.hooks[0]?.commands[0]?.argv[2], `echo /workspaces/My Project ${plan.devcontainerId}`);
  assert.equal(plan.properties.find((p) => p.property === "postStartCommand")?.status, "ignored");
});
