import { test } from "node:test";
import assert from "node:assert/strict";
import { SyncFilter } from "../../../extension/core/devcontainer/syncFilter";
import { planOf } from "./planHelpers";

test("the plan's exclusions: .git/ always, root .gitignore, nested .gitignore files below their folder", () => {
  const plan = planOf({ image: "x" }, { gitignore: ["node_modules/", "*.log", "!keep.log", "/build"] });
  const nested: Record<string, string> = {
    "packages/web": "dist/\nsecret.txt\n",
    "packages/web/src": "*.tmp",
  };
  const reads: string[] = [];
  const filter = new SyncFilter(plan.sync, (folder) => {
    reads.push(folder);
    return nested[folder];
  });
  const excluded = (path: string, dir = false) => filter.isExcluded(path, dir);
  assert.equal(excluded(".git", true), true);
  assert.equal(excluded(".git/config"), true);
  assert.equal(excluded("node_modules", true), true);
  assert.equal(excluded("packages/web/node_modules", true), true);
  assert.equal(excluded("debug.log"), true);
  assert.equal(excluded("keep.log"), false, "negations work");
  assert.equal(excluded("build", true), true);
  assert.equal(excluded("src/build", true), false, "anchored patterns only match at the root");
  assert.equal(excluded("packages/web/dist", true), true);
  assert.equal(excluded("packages/web/secret.txt"), true);
  assert.equal(excluded("packages/api/secret.txt"), false, "a nested .gitignore does not leak to siblings");
  assert.equal(excluded("packages/web/src/a.tmp"), true);
  assert.equal(excluded("packages/web/a.tmp"), false);
  assert.equal(excluded("src/index.ts"), false);
  assert.equal(excluded(".gitignore"), false);
  filter.isExcluded("packages/web/other.txt", false);
  assert.equal(reads.filter((r) => r === "packages/web").length, 1, "each .gitignore is read once");
});

test("respectGitignore false: only the listed patterns apply", () => {
  const filter = new SyncFilter({ exclude: [".git/"], respectGitignore: false }, () => "*");
  assert.equal(filter.isExcluded("a/b.txt", false), false);
  assert.equal(filter.isExcluded(".git", true), true);
});
