// The push queue on this machine's file system standing in for the host (LocalHostFiles, what a
// unix:// dev host uses): order, coalescing, renames and deletions, links, conflicts, exclusions.
import assert from "node:assert/strict";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, test } from "node:test";
import { LocalHostFiles } from "../../../extension/core/launch/hostFiles";
import { WorkspacePushQueue } from "../../../extension/core/launch/pushQueue";
import type { PushEvent } from "../../../extension/core/launch/pushQueue";

let dir: string;
let local: string;
let host: string;
let queue: WorkspacePushQueue;
let events: PushEvent[];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "push-queue-"));
  local = join(dir, "project");
  host = join(dir, "host");
  mkdirSync(local);
  mkdirSync(host);
  writeFileSync(join(local, ".gitignore"), "*.log\n");
  queue = new WorkspacePushQueue({
    files: async () => new LocalHostFiles(),
    sync: { localFolder: local, hostPath: host, exclude: [".git/", "*.log"], respectGitignore: true },
    settleMs: 5,
  });
  events = [];
  queue.onDidPush((e) => void events.push(e));
});

afterEach(() => {
  queue.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const pushedPaths = (): string[] =>
  events.filter((e) => e.action !== "unchanged").map((e) => `${e.action} ${e.path}`);

test("changes are pushed in the order first noticed, each once, with the latest content", async () => {
  writeFileSync(join(local, "b.txt"), "b1");
  queue.notify("b.txt");
  writeFileSync(join(local, "a.txt"), "a");
  queue.notify(join(local, "a.txt"));
  writeFileSync(join(local, "b.txt"), "b2");
  queue.notify("b.txt");
  await queue.idle();
  assert.deepEqual(pushedPaths(), ["uploaded b.txt", "uploaded a.txt"]);
  assert.equal(readFileSync(join(host, "b.txt"), "utf8"), "b2");
});

test("two saves of the same size within one second both arrive (host mtimes are whole seconds)", async () => {
  const file = join(local, "same.txt");
  writeFileSync(file, "save 1");
  utimesSync(file, 1000.25, 1000.25);
  queue.notify("same.txt");
  await queue.idle();
  writeFileSync(file, "save 2");
  utimesSync(file, 1000.75, 1000.75);
  queue.notify("same.txt");
  await queue.idle();
  assert.equal(readFileSync(join(host, "same.txt"), "utf8"), "save 2");
  assert.deepEqual(pushedPaths(), ["uploaded same.txt", "uploaded same.txt"]);
  // Another event for the version already pushed sends nothing.
  queue.notify("same.txt");
  await queue.idle();
  assert.equal(events.at(-1)?.action, "unchanged");
});

test("a new folder's files follow the folder, by name, even when the watcher reported only some", async () => {
  // A recursive watcher misses what was written into a new folder before it watched it, then
  // reports the rest: the folder's event stands for all of it, pushed before anything later.
  for (const d of ["d1", "d2"]) {
    mkdirSync(join(local, d));
    for (const f of ["f0", "f1", "f2", "f3"]) writeFileSync(join(local, d, f), `${d}/${f}`);
  }
  for (const path of ["d1", "d1/f3", "d2", "d2/f2", "d2/f3"]) queue.notify(path);
  await queue.idle();
  assert.deepEqual(pushedPaths(), [
    "created d1",
    ...["f0", "f1", "f2", "f3"].map((f) => `uploaded d1/${f}`),
    "created d2",
    ...["f0", "f1", "f2", "f3"].map((f) => `uploaded d2/${f}`),
  ]);
});

test("a rename removes the old path and uploads the new; a removed folder goes with its files", async () => {
  mkdirSync(join(local, "src"));
  writeFileSync(join(local, "src/x.ts"), "x");
  queue.notify("src");
  await queue.idle();
  assert.equal(readFileSync(join(host, "src/x.ts"), "utf8"), "x", "a folder event brings what is inside");
  renameSync(join(local, "src/x.ts"), join(local, "src/y.ts"));
  queue.notify("src/x.ts");
  queue.notify("src/y.ts");
  await queue.idle();
  assert.equal(existsSync(join(host, "src/x.ts")), false);
  assert.equal(readFileSync(join(host, "src/y.ts"), "utf8"), "x");
  rmSync(join(local, "src"), { recursive: true });
  queue.notify("src");
  await queue.idle();
  assert.equal(existsSync(join(host, "src")), false);
});

test("links are recreated, never followed; a file changed on the host later is left alone", async () => {
  symlinkSync("/etc/passwd", join(local, "link"));
  queue.notify("link");
  await queue.idle();
  assert.ok(lstatSync(join(host, "link")).isSymbolicLink());
  assert.equal(readlinkSync(join(host, "link")), "/etc/passwd");

  writeFileSync(join(local, "c.txt"), "local");
  utimesSync(join(local, "c.txt"), 1000, 1000);
  writeFileSync(join(host, "c.txt"), "changed in the zone");
  utimesSync(join(host, "c.txt"), 2000, 2000);
  queue.notify("c.txt");
  await queue.idle();
  assert.equal(events.at(-1)?.action, "conflict");
  assert.equal(readFileSync(join(host, "c.txt"), "utf8"), "changed in the zone");
});

test("excluded paths never reach the host", async () => {
  writeFileSync(join(local, "debug.log"), "x");
  mkdirSync(join(local, ".git"));
  writeFileSync(join(local, ".git/HEAD"), "ref");
  queue.notify("debug.log");
  queue.notify(".git/HEAD");
  queue.notify(".git");
  await queue.idle();
  assert.equal(existsSync(join(host, "debug.log")), false);
  assert.equal(existsSync(join(host, ".git")), false);
});
