import assert from "node:assert/strict";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { LocalHostFiles } from "../../../extension/core/launch/hostFiles";
import {
  ensureHostDirectory,
  pullWorkspace,
  pushWorkspace,
  removeHostTree,
} from "../../../extension/core/launch/workspaceSync";
import { isWorkspaceCopyPath } from "../../../extension/core/launch/teardown";

function setup(
  files: Record<string, string>,
  gitignore?: string,
): {
  local: string;
  host: string;
  outside: string;
  sync: { localFolder: string; hostPath: string; exclude: string[]; respectGitignore: boolean };
} {
  const base = mkdtempSync(join(tmpdir(), "sync-unit-"));
  bases.push(base);
  const local = join(base, "project");
  const outside = join(base, "outside");
  mkdirSync(local);
  mkdirSync(outside);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(local, path, ".."), { recursive: true });
    writeFileSync(join(local, path), text);
  }
  const host = join(base, "host", "ws", "abc");
  return {
    local,
    host,
    outside,
    sync: {
      localFolder: local,
      hostPath: host,
      exclude: [".git/", ...(gitignore ?? "").split("\n").filter(Boolean)],
      respectGitignore: true,
    },
  };
}

const files = new LocalHostFiles();
const bases: string[] = [];
after(() => {
  for (const b of bases) rmSync(b, { recursive: true, force: true });
});

test("push copies files, directories and symlinks, minus .git and .gitignore'd paths (root and nested)", async () => {
  const s = setup(
    {
      "a.txt": "A",
      "src/b.ts": "B",
      ".git/HEAD": "ref",
      "build/out.js": "x",
      "src/.gitignore": "*.gen.ts\n",
      "src/c.gen.ts": "gen",
      "debug.log": "log",
    },
    "build/\n*.log",
  );
  symlinkSync("a.txt", join(s.local, "link-to-a"));
  const r = await pushWorkspace({ files, sync: s.sync });
  assert.equal(readFileSync(join(s.host, "a.txt"), "utf8"), "A");
  assert.equal(readFileSync(join(s.host, "src/b.ts"), "utf8"), "B");
  assert.equal(
    readlinkSync(join(s.host, "link-to-a")),
    "a.txt",
    "the symlink itself, not its target's content",
  );
  for (const gone of [".git", "build", "debug.log", "src/c.gen.ts"])
    assert.equal(existsSync(join(s.host, gone)), false, `${gone} must not be copied`);
  assert.equal(r.filesCopied, 3, "a.txt, src/b.ts, src/.gitignore");
  assert.equal(r.createdRoot, true);
  assert.equal(
    Math.floor(lstatSync(join(s.host, "a.txt")).mtimeMs / 1000),
    Math.floor(lstatSync(join(s.local, "a.txt")).mtimeMs / 1000),
    "mtime carried over",
  );
});

test("a second push is incremental: unchanged files are not copied, a changed one is", async () => {
  const s = setup({ "a.txt": "A", "b.txt": "B" });
  await pushWorkspace({ files, sync: s.sync });
  const again = await pushWorkspace({ files, sync: s.sync });
  assert.equal(again.filesCopied, 0);
  assert.equal(again.createdRoot, false);
  writeFileSync(join(s.local, "b.txt"), "B, longer now");
  const third = await pushWorkspace({ files, sync: s.sync });
  assert.equal(third.filesCopied, 1);
  assert.equal(readFileSync(join(s.host, "b.txt"), "utf8"), "B, longer now");
});

test("a file changed on the host after the copy is left alone and reported; the local file is never touched", async () => {
  const s = setup({ "notes.md": "local" });
  await pushWorkspace({ files, sync: s.sync });
  writeFileSync(join(s.host, "notes.md"), "edited in the zone");
  const later = Date.now() / 1000 + 60;
  utimesSync(join(s.host, "notes.md"), later, later);
  const r = await pushWorkspace({ files, sync: s.sync });
  assert.deepEqual(r.conflicts, ["notes.md"]);
  assert.equal(readFileSync(join(s.host, "notes.md"), "utf8"), "edited in the zone");
  assert.equal(readFileSync(join(s.local, "notes.md"), "utf8"), "local");
});

test("a symlink planted in the host copy is replaced, never written through", async () => {
  const s = setup({ "etc/passwd": "project file", "data.txt": "v1" });
  await pushWorkspace({ files, sync: s.sync });
  writeFileSync(join(s.outside, "victim"), "precious");
  // The workload replaces a synced directory and a synced file with symlinks out of the copy.
  rmSync(join(s.host, "etc"), { recursive: true });
  symlinkSync(s.outside, join(s.host, "etc"));
  rmSync(join(s.host, "data.txt"));
  symlinkSync(join(s.outside, "victim"), join(s.host, "data.txt"));
  writeFileSync(join(s.local, "etc/passwd"), "project file, changed");
  writeFileSync(join(s.local, "data.txt"), "v2");
  await pushWorkspace({ files, sync: s.sync });
  assert.equal(readFileSync(join(s.outside, "victim"), "utf8"), "precious");
  assert.equal(existsSync(join(s.outside, "passwd")), false);
  assert.ok(lstatSync(join(s.host, "etc")).isDirectory());
  assert.equal(readFileSync(join(s.host, "etc/passwd"), "utf8"), "project file, changed");
  assert.ok(lstatSync(join(s.host, "data.txt")).isFile());
});

test("pull brings host changes back, never deletes local files, leaves newer local edits and local symlinks alone", async () => {
  const s = setup({
    "keep.txt": "only local after the host deletes it",
    "edited.txt": "v1",
    "newer-here.txt": "v1",
  });
  await pushWorkspace({ files, sync: s.sync });
  rmSync(join(s.host, "keep.txt"));
  writeFileSync(join(s.host, "edited.txt"), "v2 from the zone");
  const future = Date.now() / 1000 + 120;
  utimesSync(join(s.host, "edited.txt"), future, future);
  writeFileSync(join(s.host, "made-in-zone.txt"), "new");
  mkdirSync(join(s.host, "out"));
  writeFileSync(join(s.host, "out/result.bin"), "bin");
  writeFileSync(join(s.local, "newer-here.txt"), "v2 local");
  utimesSync(join(s.local, "newer-here.txt"), future + 60, future + 60);
  writeFileSync(join(s.host, "newer-here.txt"), "v1 host, longer");
  writeFileSync(join(s.outside, "target"), "outside");
  symlinkSync(join(s.outside, "target"), join(s.local, "via-link.txt"));
  writeFileSync(join(s.host, "via-link.txt"), "would overwrite the link target");
  const r = await pullWorkspace({ files, sync: s.sync });
  assert.equal(readFileSync(join(s.local, "keep.txt"), "utf8"), "only local after the host deletes it");
  assert.equal(readFileSync(join(s.local, "edited.txt"), "utf8"), "v2 from the zone");
  assert.equal(readFileSync(join(s.local, "made-in-zone.txt"), "utf8"), "new");
  assert.equal(readFileSync(join(s.local, "out/result.bin"), "utf8"), "bin");
  assert.equal(readFileSync(join(s.local, "newer-here.txt"), "utf8"), "v2 local");
  assert.equal(readFileSync(join(s.outside, "target"), "utf8"), "outside");
  assert.deepEqual([...r.conflicts].sort(), ["newer-here.txt", "via-link.txt"]);
  const forced = await pullWorkspace({ files, sync: s.sync, force: true });
  assert.equal(readFileSync(join(s.local, "newer-here.txt"), "utf8"), "v1 host, longer");
  assert.deepEqual(
    forced.conflicts,
    ["via-link.txt"],
    "a local symlink is never written through, even with force",
  );
});

test("removeHostTree deletes symlinks, not what they point to; ensureHostDirectory reports what it created", async () => {
  const s = setup({ "a.txt": "A" });
  writeFileSync(join(s.outside, "keep"), "keep");
  const top = await ensureHostDirectory(files, s.host);
  assert.equal(top, join(s.host, "..", ".."));
  assert.equal(await ensureHostDirectory(files, s.host), undefined);
  symlinkSync(s.outside, join(s.host, "out"));
  writeFileSync(join(s.host, "f"), "f");
  await removeHostTree(files, s.host);
  assert.equal(existsSync(s.host), false);
  assert.equal(readFileSync(join(s.outside, "keep"), "utf8"), "keep");
});

test("down only deletes folders that are provably a workspace copy", () => {
  const id = "0qepoala0ph12sdnm8rhe4aq2qr6gff0gesb6gotppbubjoup1cf";
  assert.equal(isWorkspaceCopyPath(`/var/lib/styrolite-zones/workspaces/${id}`, id), true);
  for (const bad of [
    "/",
    `/${id}`,
    `/var/../etc/${id}`,
    "/home/dev",
    `relative/${id}`,
    `/var/lib/x/${id}/`,
    `/var/lib/x/other`,
  ]) {
    assert.equal(isWorkspaceCopyPath(bad, id), false, bad);
  }
  assert.equal(isWorkspaceCopyPath(`/var/lib/x/${id}`, undefined), false);
  assert.equal(isWorkspaceCopyPath("/var/lib/x/..", ".."), false);
});

test("pull withholds what runs on this machine (.devcontainer, .vscode, .git*) and links leading out", async () => {
  const s = setup({ ".devcontainer/devcontainer.json": '{"image":"busybox"}', "src/a.txt": "a" });
  await pushWorkspace({ files, sync: s.sync });
  const future = Date.now() / 1000 + 120;
  const hostile = '{"image":"busybox","initializeCommand":"touch /tmp/pwned"}';
  writeFileSync(join(s.host, ".devcontainer/devcontainer.json"), hostile);
  utimesSync(join(s.host, ".devcontainer/devcontainer.json"), future, future);
  mkdirSync(join(s.host, ".vscode"));
  writeFileSync(join(s.host, ".vscode/tasks.json"), '{"tasks":[]}');
  writeFileSync(join(s.host, ".gitattributes"), "* filter=evil\n");
  symlinkSync("/etc/shadow", join(s.host, "src/shadow"));
  symlinkSync("../../outside", join(s.host, "src/up"));
  symlinkSync("a.txt", join(s.host, "src/fine"));
  const r = await pullWorkspace({ files, sync: s.sync });
  assert.equal(readFileSync(join(s.local, ".devcontainer/devcontainer.json"), "utf8"), '{"image":"busybox"}');
  assert.equal(existsSync(join(s.local, ".vscode")), false);
  assert.equal(existsSync(join(s.local, ".gitattributes")), false);
  assert.equal(existsSync(join(s.local, "src/shadow")), false, "an absolute link is not recreated");
  assert.equal(existsSync(join(s.local, "src/up")) || lstatExists(join(s.local, "src/up")), false);
  assert.equal(readlinkSync(join(s.local, "src/fine")), "a.txt");
  assert.deepEqual(r.withheld.map((w) => w.path).sort(), [
    ".devcontainer",
    ".gitattributes",
    ".vscode",
    "src/shadow",
    "src/up",
  ]);
  const all = await pullWorkspace({ files, sync: s.sync, includeConfig: true, force: true });
  assert.equal(readFileSync(join(s.local, ".devcontainer/devcontainer.json"), "utf8"), hostile);
  assert.deepEqual(all.withheld.map((w) => w.path).sort(), ["src/shadow", "src/up"]);
});

function lstatExists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}
