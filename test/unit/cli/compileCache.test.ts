// The shipped zonectl layout (launcher + ES module chunks, built by build.mjs) keeps Node's
// compiled code in the user's cache dir, and runs all the same when that dir cannot be written.
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { after, before, test } from "node:test";
import { compileCacheDir } from "../../../extension/cli/compileCache";

const root = resolve(import.meta.dirname, "../../..");
let out: string;

before(() => {
  // Inside the repository, like dist/, so the bundle's externals resolve from node_modules.
  mkdirSync(join(root, "test/.artifacts"), { recursive: true });
  out = mkdtempSync(join(root, "test/.artifacts/zonectl-cli-"));
  const build = spawnSync(process.execPath, ["build.mjs", "--cli-out", out], { cwd: root, encoding: "utf8" });
  assert.equal(build.status, 0, build.stderr);
});
after(() => rmSync(out, { recursive: true, force: true }));

function zonectl(env: Record<string, string>, ...args: string[]) {
  // Node's own switches for the cache would override what zonectl asks for.
  const base = { ...process.env };
  delete base["NODE_COMPILE_CACHE"];
  delete base["NODE_DISABLE_COMPILE_CACHE"];
  return spawnSync(process.execPath, [join(out, "zonectl.js"), ...args], {
    cwd: out,
    encoding: "utf8",
    env: { ...base, ...env },
  });
}

test("the compile cache lives under $XDG_CACHE_HOME/styrolite-zones, else ~/.cache", () => {
  assert.equal(compileCacheDir({ XDG_CACHE_HOME: "/x/cache" }), "/x/cache/styrolite-zones/compile-cache");
  // A relative XDG_CACHE_HOME is invalid by the spec and ignored.
  assert.match(compileCacheDir({ XDG_CACHE_HOME: "rel" }), /\/\.cache\/styrolite-zones\/compile-cache$/);
});

test("a run of the built zonectl leaves compiled code in the user's cache dir", () => {
  const cache = join(out, "xdg-cache");
  const r = zonectl({ XDG_CACHE_HOME: cache }, "--version");
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^zonectl \d+\.\d+\.\d+\n$/);
  const dir = join(cache, "styrolite-zones", "compile-cache");
  assert.ok(existsSync(dir), `${dir} was not created`);
  const entries = readdirSync(dir, { recursive: true });
  assert.ok(entries.length > 1, `no cache entries in ${dir}`);
});

test("a cache dir that cannot be created changes nothing but the speed", () => {
  const blocked = join(out, "not-a-dir");
  writeFileSync(blocked, "a file where the cache dir would go\n");
  const r = zonectl({ XDG_CACHE_HOME: blocked }, "--version");
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, "");
  assert.match(r.stdout, /^zonectl \d+\.\d+\.\d+\n$/);
});
