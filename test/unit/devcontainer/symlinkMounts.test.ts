// Symbolic links in a repository must not carry the workspace sync or a bind mount out of the
// project: a `src -> /home` with a workspaceMount on it would upload the user's home, and a
// `hostroot -> /` used as a mount source would be bind-mounted from the host's root. Real
// folders and links on disk, planned the way `zonectl up` plans them.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { planFromPath } from "../../../extension/core/devcontainer/load";

const work = mkdtempSync(join(tmpdir(), "zones-links-"));
after(() => rmSync(work, { recursive: true, force: true }));

let n = 0;
function project(config: object, links: Record<string, string>): string {
  const dir = join(work, `p${n++}`);
  mkdirSync(join(dir, ".devcontainer"), { recursive: true });
  mkdirSync(join(dir, "real-src"));
  writeFileSync(
    join(dir, ".devcontainer/devcontainer.json"),
    JSON.stringify({ image: "busybox", ...config }),
  );
  for (const [name, target] of Object.entries(links)) symlinkSync(target, join(dir, name));
  return dir;
}

async function plan(dir: string) {
  return (
    await planFromPath(dir, {
      cwd: dir,
      env: {},
      planOptions: { workspaceRoot: "/srv/ws" },
    })
  ).plan;
}

const outside = mkdtempSync(join(tmpdir(), "zones-links-secret-"));
after(() => rmSync(outside, { recursive: true, force: true }));

for (const [label, target] of [
  ["an absolute link", outside],
  ["a relative link climbing out", "../.."],
] as const) {
  test(`a workspaceMount whose source is ${label} is refused, nothing is synced from it`, async () => {
    const dir = project(
      { workspaceMount: "source=${localWorkspaceFolder}/src,target=/work,type=bind" },
      { src: target },
    );
    const p = await plan(dir);
    assert.equal(p.launchable, false);
    assert.match(
      p.refusals.join("\n"),
      /workspaceMount: bind source .*src" leads to .*outside the project folder/,
    );
    assert.notEqual(p.sync.localFolder, join(dir, "src"), "the sync root is not the link");
  });
}

test("a mounts entry on a link to / is refused; the plan sends no mount of it", async () => {
  const dir = project(
    { mounts: ["source=${localWorkspaceFolder}/hostroot,target=/mnt/host,type=bind"] },
    { hostroot: "/" },
  );
  const p = await plan(dir);
  assert.equal(p.launchable, false);
  assert.match(p.refusals.join("\n"), /hostroot" leads to \/, outside the project folder/);
  assert.ok(!p.workloadSpec.mounts.some((m) => m.targetPath === "/mnt/host"));
});

test("a link that leads nowhere here is refused: the host may have what it names", async () => {
  const dir = project(
    { mounts: ["source=${localWorkspaceFolder}/dangling,target=/mnt/d,type=bind"] },
    { dangling: "/nonexistent-on-this-machine/var" },
  );
  const p = await plan(dir);
  assert.equal(p.launchable, false);
  assert.match(p.refusals.join("\n"), /dangling" passes through a symbolic link that leads nowhere/);
});

test("a link that stays inside the project is followed, and the host path names the real folder", async () => {
  const dir = project(
    {
      workspaceMount: "source=${localWorkspaceFolder}/src,target=/work,type=bind",
      mounts: ["source=${localWorkspaceFolder}/src,target=/mnt/src,type=bind"],
    },
    { src: "real-src" },
  );
  const p = await plan(dir);
  assert.deepEqual(p.refusals, []);
  assert.equal(p.sync.localFolder, join(dir, "real-src"));
  const m = p.workloadSpec.mounts.find((x) => x.targetPath === "/mnt/src");
  assert.equal(m?.hostPath, `/srv/ws/${p.devcontainerId}/real-src`);
});
