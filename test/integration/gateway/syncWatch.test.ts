// `zonectl sync --watch` over SSH (the dev host's embedded SFTP): edits, new files, renames and
// deletions reach the zone's workspace as they happen; a burst of 500 files (what a git
// checkout writes: sorted paths, folder by folder) arrives complete and in order; ignored
// files stay on this machine.
import assert from "node:assert/strict";
import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CliRun } from "../launch/cli";
import { startGatewayEnv } from "./gatewayEnv";
import type { GatewayEnv } from "./gatewayEnv";

let g: GatewayEnv;
let watch: CliRun;
const workspace = "/workspaces/project";

before(async () => {
  g = await startGatewayEnv("sync");
  watch = new CliRun(["sync", "--watch", g.project], g.env, { timeoutMs: 600_000 });
  await watch.waitFor(/watching .*; Ctrl-C to stop/, 60_000);
});

after(async () => {
  watch?.child.kill("SIGINT");
  await watch?.done;
  await g?.stop();
});

/** Waits until the watch printed `count` lines matching `line` after position `from`. */
async function pushed(line: RegExp, count: number, from: number): Promise<string[]> {
  const all = new RegExp(line.source, "gm");
  for (let i = 0; i < 1200; i++) {
    const found = [...watch.stdout.slice(from).matchAll(all)].map((m) => m[1] ?? m[0]);
    if (found.length >= count) return found;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `waited for ${count} × ${line}; stdout:\n${watch.stdout.slice(from).slice(-3000)}\nstderr:\n${watch.stderr}`,
  );
}

async function inZone(script: string): Promise<string> {
  const r = await g.zonectl(["exec", g.zoneName, "--", "sh", "-c", script]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

describe("zonectl sync --watch", () => {
  test("edit, create (in a new folder), rename and delete reach the zone; ignored files do not", async () => {
    let from = watch.stdout.length;
    writeFileSync(join(g.project, "hello.txt"), "edited here\n");
    await pushed(/^↑ (hello\.txt) /, 1, from);
    assert.equal(await inZone(`cat ${workspace}/hello.txt`), "edited here\n");

    from = watch.stdout.length;
    mkdirSync(join(g.project, "src/deep"), { recursive: true });
    writeFileSync(join(g.project, "src/deep/new.ts"), "export {};\n");
    writeFileSync(join(g.project, "debug.log"), "ignored by *.log\n");
    mkdirSync(join(g.project, "ignored"));
    writeFileSync(join(g.project, "ignored/secret.txt"), "stays here\n");
    await pushed(/^↑ (src\/deep\/new\.ts) /, 1, from);
    assert.equal(await inZone(`cat ${workspace}/src/deep/new.ts`), "export {};\n");

    from = watch.stdout.length;
    renameSync(join(g.project, "src/deep/new.ts"), join(g.project, "src/renamed.ts"));
    await pushed(/^✕ (src\/deep\/new\.ts) /, 1, from);
    await pushed(/^↑ (src\/renamed\.ts) /, 1, from);

    from = watch.stdout.length;
    rmSync(join(g.project, "src/deep"), { recursive: true });
    await pushed(/^✕ (src\/deep) /, 1, from);
    assert.equal(
      await inZone(
        `cd ${workspace} && ls -a . src; test -e debug.log || echo no-log; test -e ignored || echo no-ignored`,
      ),
      ".:\n.\n..\n.devcontainer\n.gitignore\nhello.txt\nsrc\nwww\n\nsrc:\n.\n..\nrenamed.ts\nno-log\nno-ignored\n",
    );
  });

  test("a burst of 500 files arrives complete and in order", async () => {
    const from = watch.stdout.length;
    const written: string[] = [];
    for (let d = 0; d < 5; d++) {
      mkdirSync(join(g.project, `burst/d${d}`), { recursive: true });
      for (let f = 0; f < 100; f++) {
        const path = `burst/d${d}/f${String(f).padStart(3, "0")}.txt`;
        writeFileSync(join(g.project, path), `${path} content ${d * 100 + f}\n`);
        written.push(path);
      }
    }
    const order = await pushed(/^↑ (burst\/\S+) /, 500, from);
    assert.deepEqual(order, written, "pushed in the order they were written, each once");
    const listing = await inZone(`cd ${workspace} && for f in burst/d*/f*; do cat "$f"; done`);
    assert.deepEqual(
      listing.trim().split("\n"),
      written.map((p, i) => `${p} content ${i}`),
      "every file is in the zone with its content",
    );
  });
});
