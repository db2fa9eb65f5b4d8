// The plan preview: every property with its verdict, and nothing from the file able to inject
// Markdown (links, tables) into it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { planFromPath } from "../../../../extension/core/devcontainer/load";
import { planMarkdown, propertyCounts } from "../../../../extension/vscode/launch/planMarkdown";

async function planOf(config: string) {
  const dir = mkdtempSync(join(tmpdir(), "plan-md-"));
  try {
    mkdirSync(join(dir, ".devcontainer"));
    writeFileSync(join(dir, ".devcontainer/devcontainer.json"), config);
    return (await planFromPath(dir, { cwd: dir, env: {} })).plan;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("the table lists every property with translated / ignored / refused and the reason", async () => {
  const plan = await planOf(
    '{ "name": "demo", "image": "busybox:latest", "init": true, "hostRequirements": { "cpus": 2 }, "forwardPorts": [8080] }',
  );
  const md = planMarkdown(plan, "devhost");
  const counts = propertyCounts(plan);
  assert.ok(counts.translated >= 3 && counts.ignored >= 1, JSON.stringify(counts));
  assert.match(md, /^# Launch plan: demo/m);
  assert.match(md, /\*\*Launchable\*\* on devhost/);
  assert.match(md, /\| `init` \| – ignored \| the zone's init already reaps processes \|/);
  assert.match(md, /\| `hostRequirements\.cpus` \| ✓ translated \|/);
  assert.match(
    md,
    new RegExp(`## Properties \\(${counts.translated} translated, ${counts.ignored} ignored, 0 refused\\)`),
  );
});

test("a refused plan says it is not launchable, with the reasons", async () => {
  const plan = await planOf('{ "image": "Not A Reference" }');
  const md = planMarkdown(plan);
  assert.match(md, /\*\*Not launchable\*\*/);
  assert.match(md, /✗ refused/);
});

test("names from the file cannot add links or break the table", async () => {
  const plan = await planOf('{ "name": "[x](command:workbench.action.quit) | y", "image": "busybox" }');
  const [rendered, details] = planMarkdown(plan).split("## Details");
  assert.doesNotMatch(rendered!, /\]\(command:/);
  assert.match(rendered!, /\\\[x\\\]\\\(command:workbench\\\.action\\\.quit\\\) \\\| y/);
  // The details are a fenced code block, shown literally; a fence in the file cannot close it.
  assert.equal(details!.match(/```/g)?.length, 2);
});
