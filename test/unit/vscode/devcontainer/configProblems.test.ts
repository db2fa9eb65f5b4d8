// What the Problems panel shows for a devcontainer.json: syntax errors where they are, and the
// properties a zone ignores or refuses, on the property, with the reason.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  configProblems,
  isDevcontainerConfig,
} from "../../../../extension/vscode/devcontainer/configProblems";

const fixtures = join(import.meta.dirname, "../../../fixtures/devcontainer");

test("recognises the three places a devcontainer config lives", () => {
  assert.ok(isDevcontainerConfig("/p/.devcontainer/devcontainer.json"));
  assert.ok(isDevcontainerConfig("/p/.devcontainer.json"));
  assert.ok(isDevcontainerConfig("/p/.devcontainer/go/devcontainer.json"));
  assert.ok(!isDevcontainerConfig("/p/devcontainer.json"));
  assert.ok(!isDevcontainerConfig("/p/.devcontainer/a/b/devcontainer.json"));
});

test("a syntax error is an error at its line and column, and nothing else is guessed", () => {
  const text = '{\n  "image": "busybox",\n  "forwardPorts": [8080 8081]\n}\n';
  const problems = configProblems(text, "/p/.devcontainer/devcontainer.json", {});
  const errors = problems.filter((p) => p.severity === "error");
  assert.ok(errors.length >= 1);
  assert.equal(errors[0]!.line, 3);
  assert.ok(errors[0]!.column > 20, `column ${errors[0]!.column}`);
  assert.ok(!problems.some((p) => p.code === "ignoredProperty"), "no verdicts for a broken file");
});

test("ignored properties are warnings on the property name with the reason", () => {
  const file = join(fixtures, "kitchen-sink/.devcontainer/devcontainer.json");
  const problems = configProblems(readFileSync(file, "utf8"), file, {});
  const init = problems.find((p) => p.code === "ignoredProperty" && p.message.startsWith("init "));
  assert.ok(init, JSON.stringify(problems.map((p) => p.message)));
  assert.equal(init.severity, "warning");
  assert.match(init.message, /the zone's init already reaps processes/);
  const line = readFileSync(file, "utf8").split("\n")[init.line - 1]!;
  assert.equal(line.slice(init.column - 1, init.endColumn - 1), '"init"', "the range is the property's key");
  assert.ok(
    problems.some((p) => p.code === "trailingComma"),
    "parser warnings stay",
  );
});

test("a refused property is an error saying why the project cannot be launched", () => {
  const text = '{\n  "name": "bad image",\n  "image": "Not A Reference",\n  "remoteUser": "root"\n}\n';
  const problems = configProblems(text, "/p/.devcontainer/devcontainer.json", {});
  const refused = problems.filter((p) => p.code === "refusedProperty");
  assert.ok(refused.length >= 1, JSON.stringify(problems));
  assert.equal(refused[0]!.severity, "error");
  assert.equal(refused[0]!.line, 3);
  assert.match(refused[0]!.message, /cannot be launched in a zone: /);
});
