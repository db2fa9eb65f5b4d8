import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";
import { PassThrough } from "node:stream";
import { planCommand } from "../../../extension/cli/commands/plan";
import type { CliContext } from "../../../extension/cli/command";
import { silentLogger } from "../../../extension/core/log";
import type { LaunchPlanJson } from "../../../extension/core/devcontainer/planJson";

const root = join(import.meta.dirname, "../../..");
const fixtures = join(root, "test/fixtures/devcontainer");

async function runPlan(
  args: string[],
  json = false,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on("data", (c: Buffer) => out.push(c));
  stderr.on("data", (c: Buffer) => err.push(c));
  const ctx: CliContext = {
    stdout,
    stderr,
    stdin: new PassThrough(),
    env: { HOME: "/home/dev" },
    log: silentLogger,
    globals: { host: undefined, json, verbose: false },
    signal: new AbortController().signal,
  };
  const config = args.indexOf("--config");
  const values: Record<string, unknown> = config >= 0 ? { config: args[config + 1] } : {};
  const positionals = args.filter((_, i) => config < 0 || (i !== config && i !== config + 1));
  const code = await planCommand.run(ctx, { values, positionals });
  return { code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

test("plan prints a readable summary and exits 0 for a launchable config", async () => {
  const { code, stdout, stderr } = await runPlan([join(fixtures, "hooks")]);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /^Plan for .*hooks\/\.devcontainer\.json/);
  assert.match(stdout, /image busybox:1\.36 \(squashfs\)/);
  assert.match(stdout, /1\. initializeCommand — on this machine, every up/);
  assert.match(stdout, /Launchable/);
});

test("plan --json prints the stable JSON form", async () => {
  const { code, stdout } = await runPlan([join(fixtures, "kitchen-sink")], true);
  assert.equal(code, 0);
  const plan = JSON.parse(stdout) as LaunchPlanJson;
  assert.equal(plan.version, 1);
  assert.equal(plan.launchable, true);
  assert.match(plan.devcontainerId, /^[0-9a-v]{52}$/);
  assert.deepEqual(
    plan.sync.exclude,
    [".git/", "node_modules/", "*.log", "dist"],
    "the project's .gitignore is read",
  );
  assert.equal(plan.hooks.length, 6);
});

test("a config that cannot be launched exits 3 and lists the refusals", async () => {
  const { code, stdout } = await runPlan([
    join(
      root,
      "test/fixtures/devcontainer-corpus/cli/src__test__configs__dockerfile-with-target__dotfile.jsonc",
    ),
  ]);
  assert.equal(code, 3);
  // A corpus test file whose Dockerfile is not beside it, with a feature in the deprecated form.
  assert.match(stdout, /NOT launchable:\n {2}- build\.dockerfile: Dockerfile does not exist/);
  assert.match(stdout, /deprecated GitHub-release form/);
});

test("several configs: exit 1 naming them; --config chooses", async () => {
  const ambiguous = await runPlan([join(fixtures, "multi")]);
  assert.equal(ambiguous.code, 1);
  assert.match(
    ambiguous.stderr,
    /2 devcontainer configs; choose one with --config: .*a\/devcontainer\.json, .*b\/devcontainer\.json/,
  );
  const chosen = await runPlan(
    [join(fixtures, "multi"), "--config", join(fixtures, "multi/.devcontainer/b/devcontainer.json")],
    true,
  );
  assert.equal(chosen.code, 0);
  assert.equal((JSON.parse(chosen.stdout) as LaunchPlanJson).images[0]?.reference, "debian:bookworm");
});

test("the real zonectl: a broken devcontainer.json gives file:line:col for every error, exit 1, nothing created", () => {
  const broken = join(fixtures, "broken/.devcontainer/devcontainer.json");
  const result = spawnSync(
    process.execPath,
    ["--import", "tsx", "extension/cli/main.ts", "plan", join(fixtures, "broken")],
    { cwd: root, encoding: "utf8", env: { ...process.env, ZONECTL_HOST: "" } },
  );
  assert.equal(result.status, 1, result.stderr);
  assert.equal(result.stdout, "");
  assert.deepEqual(result.stderr.trim().split("\n"), [
    `${broken}:5:3: error: ',' expected`,
    `${broken}:6:25: error: value expected`,
    `zonectl plan: 2 error(s) in ${broken}; nothing was created`,
  ]);
  const json = spawnSync(
    process.execPath,
    ["--import", "tsx", "extension/cli/main.ts", "--json", "plan", join(fixtures, "broken")],
    { cwd: root, encoding: "utf8" },
  );
  assert.equal(json.status, 1);
  const error = (
    JSON.parse(json.stdout) as {
      error: { reason: string; diagnostics: Array<{ line: number; column: number }> };
    }
  ).error;
  assert.equal(error.reason, "invalid");
  assert.deepEqual(
    error.diagnostics.map((d) => [d.line, d.column]),
    [
      [5, 3],
      [6, 25],
    ],
  );
});

test("the esbuild bundle of zonectl plans too (the JSONC parser survives bundling)", async (t) => {
  // Inside the repository, like dist/, so externals (node-pty) resolve from node_modules.
  mkdirSync(join(root, "test/.artifacts"), { recursive: true });
  const out = mkdtempSync(join(root, "test/.artifacts/zones-bundle-"));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  // The same options build.mjs gives the CLI bundle.
  await build({
    entryPoints: [join(root, "extension/cli/main.ts")],
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    external: ["cpu-features", "*.node", "node-pty", "esbuild"],
    outfile: join(out, "zonectl.js"),
    logLevel: "error",
  });
  const result = spawnSync(
    process.execPath,
    [join(out, "zonectl.js"), "--json", "plan", join(fixtures, "hooks")],
    { cwd: out, encoding: "utf8" },
  );
  assert.equal(result.status, 0, result.stderr);
  assert.equal((JSON.parse(result.stdout) as LaunchPlanJson).hooks.length, 6);
  const broken = spawnSync(process.execPath, [join(out, "zonectl.js"), "plan", join(fixtures, "broken")], {
    cwd: out,
    encoding: "utf8",
  });
  assert.equal(broken.status, 1);
  assert.match(broken.stderr, /devcontainer\.json:5:3: error: ',' expected/);
});
