import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { styroliteJsonSchema, styroliteSchema } from "../../../extension/core/devcontainer/styrolite";

const schemaFile = join(import.meta.dirname, "../../../extension/core/devcontainer/styrolite.schema.json");
const fresh = `${JSON.stringify(styroliteJsonSchema(), null, 2)}\n`;

test("the published styrolite.schema.json matches the zod schema (UPDATE_SCHEMA=1 rewrites it)", () => {
  if (process.env["UPDATE_SCHEMA"] === "1") writeFileSync(schemaFile, fresh);
  assert.equal(
    readFileSync(schemaFile, "utf8"),
    fresh,
    "styrolite.schema.json is stale: run UPDATE_SCHEMA=1 node test/run.mjs unit test/unit/devcontainer/styroliteSchema.test.ts",
  );
});

// Walks a parsed JSON value by keys; undefined when a step is missing.
function at(value: unknown, ...keys: string[]): unknown {
  return keys.reduce<unknown>(
    (v, k) => (v !== null && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined),
    value,
  );
}

test("the schema applies to a whole devcontainer.json and describes only customizations.styrolite", () => {
  const schema: unknown = JSON.parse(fresh);
  assert.equal(at(schema, "$schema"), "http://json-schema.org/draft-07/schema#");
  assert.equal(
    at(schema, "additionalProperties"),
    undefined,
    "other devcontainer.json properties stay allowed",
  );
  const styrolite = at(schema, "properties", "customizations", "properties", "styrolite");
  assert.equal(
    at(styrolite, "additionalProperties"),
    false,
    "typos inside customizations.styrolite are flagged by the editor",
  );
  assert.deepEqual(
    Object.keys(at(styrolite, "properties") as object).sort(),
    Object.keys(styroliteSchema.shape).sort(),
  );
  for (const key of [
    "kernel",
    "resources",
    "devices",
    "network",
    "virtualization",
    "scratchDisk",
    "annotations",
    "host",
  ]) {
    assert.ok(
      at(styrolite, "properties", key, "description") ?? at(styrolite, "properties", key, "anyOf"),
      `${key} is documented`,
    );
  }
  assert.deepEqual(at(styrolite, "properties", "virtualization", "enum"), ["automatic", "pv", "pvh"]);
});
