import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { formatDiagnostic } from "../../../extension/core/devcontainer/diagnostics";
import { parseDevcontainerText } from "../../../extension/core/devcontainer/jsonc";
import { knownProperties } from "../../../extension/core/devcontainer/schema";
import { validateDevcontainer } from "../../../extension/core/devcontainer/validate";

const fixtures = join(import.meta.dirname, "../../fixtures/devcontainer");
const file = "/p/devcontainer.json";
function check(text: string) {
  const doc = parseDevcontainerText(text, file);
  assert.deepEqual(
    doc.diagnostics.filter((d) => d.severity === "error"),
    [],
    "the test input must parse",
  );
  return validateDevcontainer(doc);
}

test("the spec's whole property set validates (kitchen-sink fixture)", () => {
  const path = join(fixtures, "kitchen-sink/.devcontainer/devcontainer.json");
  const doc = parseDevcontainerText(readFileSync(path), path);
  const result = validateDevcontainer(doc);
  assert.deepEqual(result.diagnostics.map(formatDiagnostic), []);
  assert.ok(result.config);
  const present = Object.keys(doc.value ?? {});
  assert.ok(present.length >= 34, `kitchen sink lists ${present.length} properties`);
  for (const key of present) assert.ok(knownProperties.includes(key), `${key} is a known property`);
});

test("every spec property is known to the schema", () => {
  const spec = [
    "name",
    "image",
    "build",
    "dockerComposeFile",
    "service",
    "runServices",
    "containerEnv",
    "remoteEnv",
    "containerUser",
    "remoteUser",
    "updateRemoteUserUID",
    "userEnvProbe",
    "mounts",
    "workspaceMount",
    "workspaceFolder",
    "runArgs",
    "appPort",
    "forwardPorts",
    "portsAttributes",
    "otherPortsAttributes",
    "overrideCommand",
    "shutdownAction",
    "init",
    "privileged",
    "capAdd",
    "securityOpt",
    "features",
    "overrideFeatureInstallOrder",
    "hostRequirements",
    "initializeCommand",
    "onCreateCommand",
    "updateContentCommand",
    "postCreateCommand",
    "postStartCommand",
    "postAttachCommand",
    "waitFor",
    "secrets",
    "customizations",
  ];
  for (const key of spec) assert.ok(knownProperties.includes(key), key);
});

test("wrong types are errors located at the offending value, with what was expected and found", () => {
  const text =
    '{\n  "image": 42,\n  "hostRequirements": { "cpus": "4", "memory": "4 GB", "gpu": "maybe" },\n  "forwardPorts": [3000, "nope", 70000],\n  "postCreateCommand": { "a": 1 },\n  "remoteEnv": { "A": true }\n}';
  const result = check(text);
  assert.equal(result.config, undefined);
  const got = result.diagnostics.map((d) => `${d.line}:${d.column} ${d.message}`);
  assert.deepEqual(
    got.sort(),
    [
      "2:12 image: expected a string, got the number 42",
      '3:33 hostRequirements.cpus: expected a number, got the string "4"',
      '3:48 hostRequirements.memory: expected a size like "4gb", "512mb" or a byte count, got the string "4 GB"',
      '3:63 hostRequirements.gpu: expected true, false, "optional" or { "cores", "memory" }, got the string "maybe"',
      '4:26 forwardPorts[1]: expected "host:port", got the string "nope"',
      "4:34 forwardPorts[2]: must be ≤ 65535, got the number 70000",
      "5:31 postCreateCommand.a: expected a string or an array of strings, got the number 1",
      "6:23 remoteEnv.A: expected a string or null, got true",
    ].sort(),
  );
  assert.ok(result.diagnostics.every((d) => d.severity === "error" && d.code === "schema"));
  assert.deepEqual(result.diagnostics.find((d) => d.message.startsWith("image"))?.path, ["image"]);
});

test("unknown properties are warnings at the key, with a suggestion for typos; the config is still valid", () => {
  const result = check(
    '{\n  "image": "alpine",\n  "postCreateComand": "x",\n  "settings": {},\n  "myTool": true\n}',
  );
  assert.ok(result.config);
  assert.deepEqual(
    result.diagnostics.map((d) => [d.severity, d.code, d.line, d.column, d.message]),
    [
      [
        "warning",
        "unknownProperty",
        3,
        3,
        'unknown property "postCreateComand" (did you mean "postCreateCommand"?); ignored',
      ],
      [
        "warning",
        "unknownProperty",
        4,
        3,
        '"settings" is a legacy VS Code property; it now lives under customizations.vscode.settings; ignored',
      ],
      ["warning", "unknownProperty", 5, 3, 'unknown property "myTool"; ignored'],
    ],
  );
  assert.equal(
    (result.config as Record<string, unknown>)["myTool"],
    undefined,
    "unknown keys do not reach the planner",
  );
});

test("template placeholders are plain strings", () => {
  const result = check(
    '{ "image": "mcr.microsoft.com/devcontainers/python:1-${templateOption:imageVariant}", "features": { "x": { "version": "${templateOption:v}" } } }',
  );
  assert.deepEqual(result.diagnostics, []);
  assert.equal(
    result.config?.image,
    "mcr.microsoft.com/devcontainers/python:1-${templateOption:imageVariant}",
  );
});

test("the three command forms and both mount forms validate", () => {
  const result = check(
    JSON.stringify({
      image: "x",
      onCreateCommand: "echo a",
      updateContentCommand: ["echo", "b"],
      postCreateCommand: { one: "echo c", two: ["echo", "d"] },
      mounts: [
        "type=volume,source=v,target=/v",
        { type: "bind", source: "/a", target: "/b" },
        { type: "volume", target: "/anon" },
      ],
    }),
  );
  assert.deepEqual(result.diagnostics, []);
});

test("customizations.styrolite is validated too; other tools' customizations are not", () => {
  const result = check(
    '{\n  "image": "x",\n  "customizations": {\n    "vscode": { "anything": [1, 2] },\n    "styrolite": { "resources": { "maxCpus": 0, "maxCPUs": 2 }, "virtualization": "hvm", "host": { "socket": "relative/path" } }\n  }\n}',
  );
  assert.equal(result.config, undefined);
  const got = result.diagnostics.map((d) => `${d.severity} ${d.line}:${d.column} ${d.message}`);
  assert.deepEqual(got, [
    "error 5:46 customizations.styrolite.resources.maxCpus: must be ≥ 1, got the number 0",
    "warning 5:49 unknown property customizations.styrolite.resources.maxCPUs; ignored",
    'error 5:83 customizations.styrolite.virtualization: expected "automatic", "pv", "pvh"; got the string "hvm"',
    'error 5:110 customizations.styrolite.host.socket: expected an absolute path, got the string "relative/path"',
  ]);
});

test("secret names must be environment variable names (error at the key)", () => {
  const result = check('{ "image": "x", "secrets": { "1BAD": {} } }');
  assert.equal(
    result.diagnostics[0]?.message,
    'secrets["1BAD"]: invalid key "1BAD": secret names must be environment variable names',
  );
  assert.equal(result.diagnostics[0]?.column, 30);
});
