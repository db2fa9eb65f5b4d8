// `zonectl up` end to end: the real CLI → a real OpenSSH sshd → the real dev host, with the
// busybox test image pulled from a loopback registry and the workspace copied over SFTP.
import assert from "node:assert/strict";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { annotationKeys } from "../../../extension/core/devcontainer/plan";
import { ProtectHost } from "../../../extension/core/protect/host";
import type { Workload, Zone } from "../../../extension/proto/gen/protect/control/v1/common_pb";
import { startDevHost } from "../../harness/devHost";
import type { StartedDevHost } from "../../harness/devHost";
import { pushTestImage, startRegistry } from "../../harness/registry";
import type { TestRegistry } from "../../harness/registry";
import { startSshd } from "../../harness/sshd";
import type { Sshd } from "../../harness/sshd";
import { buildTestImage } from "../../harness/testImage";
import { CliRun, PtyRun, repoRoot, zonectl } from "./cli";

const fixtures = join(repoRoot, "test/fixtures/launch");

let work: string;
let registry: TestRegistry;
let devHost: StartedDevHost;
let sshd: Sshd;
let api: ProtectHost;
let env: Record<string, string>;
let project: string;
const measured: Record<string, number | string> = {};

before(async () => {
  work = mkdtempSync(join(tmpdir(), "launch-it-"));
  const image = await buildTestImage(join(work, "image"));
  registry = await startRegistry();
  await pushTestImage(registry, image);
  devHost = await startDevHost();
  sshd = await startSshd();
  api = await ProtectHost.open(`unix://${devHost.socketPath}`);
  env = {
    ZONECTL_HOST: sshd.alias,
    ZONECTL_SSH_CONFIG: sshd.sshConfigPath,
    ZONECTL_SOCKET: devHost.socketPath,
    ZONECTL_WORKSPACE_ROOT: join(work, "host-workspaces"),
    LAUNCH_TEST_IMAGE: `${registry.host}/test/busybox:1`,
  };
  project = join(work, "project");
  cpSync(join(fixtures, "project"), project, { recursive: true });
  // Files the project's .gitignore excludes (not in the repo: git itself would ignore them).
  mkdirSync(join(project, "ignored"));
  writeFileSync(join(project, "ignored/secret.txt"), "must stay on this machine\n");
  writeFileSync(join(project, "debug.log"), "also excluded\n");
});

after(async () => {
  try {
    for (const z of (await api?.listZones().catch(() => [] as Zone[])) ?? [])
      await api.destroyZone(z.id).catch(() => undefined);
  } finally {
    api?.close();
    await sshd?.stop();
    await devHost?.stop();
    await registry?.stop();
    rmSync(work, { recursive: true, force: true });
    if (Object.keys(measured).length) console.log(`# measured: ${JSON.stringify(measured)}`);
  }
});

async function zonesOf(folder: string): Promise<Zone[]> {
  const all = await api.listZones();
  return all.filter((z) =>
    z.spec?.annotations.some((a) => a.key === annotationKeys.localFolder && a.value === folder),
  );
}

async function workloadsIn(zoneId: string): Promise<Workload[]> {
  return (await api.listWorkloads()).filter((w) => w.spec?.zoneId === zoneId);
}

interface UpJson {
  zoneId: string;
  zoneName: string;
  workloadId: string;
  reusedZone: boolean;
  firstLaunch: boolean;
  hostPath: string;
  workspaceFolder: string;
  forwards: { localAddress: string; localPort: number; remote: string }[];
  sync: { filesCopied: number; filesTotal: number };
  timings: { step: string; ms: number; outcome: string }[];
  totalMs: number;
}

function parseUp(stdout: string): UpJson {
  const start = stdout.indexOf("{");
  assert.ok(start >= 0, `no JSON in: ${stdout}`);
  return JSON.parse(stdout.slice(start)) as UpJson;
}

describe("zonectl up through a real sshd against the dev host", () => {
  let up: UpJson;

  test("a broken devcontainer.json gives file:line:col and creates nothing", async () => {
    const broken = join(work, "broken");
    cpSync(join(fixtures, "broken"), broken, { recursive: true });
    const before = (await api.listZones()).map((z) => z.id).sort();
    const r = await zonectl(["up", broken], env);
    assert.equal(r.code, 40, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `${broken.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/\\.devcontainer/devcontainer\\.json:5:5: error: ',' expected`,
      ),
    );
    assert.match(r.stderr, /nothing was created/);
    assert.deepEqual((await api.listZones()).map((z) => z.id).sort(), before);
  });

  test("up --forward: workspace file, env and every hook in order in the zone; HTTP through the forward", async () => {
    const run = new CliRun(["--json", "up", project, "--forward"], env, { timeoutMs: 180_000 });
    try {
      await run.waitFor(/forwards open; Ctrl-C to stop/, 120_000);
      await run.waitFor(/"totalMs": \d+\s*\}\s*$/, 10_000, "stdout"); // stdout and stderr are separate pipes: either may arrive first
      up = parseUp(run.stdout);
      assert.equal(up.firstLaunch, true);
      assert.equal(up.reusedZone, false);
      assert.equal(up.workspaceFolder, "/workspaces/project");
      measured["upFirstMs"] = up.totalMs;
      measured["upFirstSteps"] = up.timings
        .filter((t) => t.outcome === "done")
        .map((t) => `${t.step}=${t.ms}`)
        .join(",");

      // The workspace file, at workspaceFolder; the excluded ones are not there.
      const cat = await zonectl(["exec", up.zoneName, "--", "cat", "/workspaces/project/hello.txt"], env);
      assert.equal(cat.code, 0, cat.stderr);
      assert.equal(cat.stdout, "hello from the workspace\n");
      const excluded = await zonectl(["exec", up.zoneName, "--", "ls", "-a", "/workspaces/project"], env);
      assert.doesNotMatch(excluded.stdout, /ignored|debug\.log/);
      assert.match(
        excluded.stdout,
        /\.launch-init/,
        "initializeCommand's file, made locally before the sync",
      );
      assert.ok(
        existsSync(join(project, ".launch-init")),
        "initializeCommand ran in the project folder on this machine",
      );

      // containerEnv reaches the workload, byte for byte (no shell on the way).
      const envOut = await zonectl(
        ["exec", up.zoneName, "--", "sh", "-c", 'printf "%s|%s" "$GREETING" "$SPACED"'],
        env,
      );
      assert.equal(envOut.stdout, "hello from containerEnv|a b  c; $(not run)");

      // The hooks wrote their names in order; the object form's two may interleave.
      const log = (await zonectl(["exec", up.zoneName, "--", "cat", "/tmp/hooks.log"], env)).stdout
        .trim()
        .split("\n");
      assert.deepEqual(log.slice(0, 2), ["onCreateCommand", "updateContentCommand"]);
      assert.deepEqual(log.slice(2, 4).sort(), ["postCreateCommand:first", "postCreateCommand:second"]);
      assert.deepEqual(
        log.slice(4),
        ["postStartCommand remote+hello from containerEnv", "postAttachCommand"],
        "remoteEnv with ${containerEnv:GREETING} resolved",
      );

      // An HTTP server in the zone, reached through the forward (8080 may be taken here: then another port).
      assert.equal(up.forwards.length, 1);
      const f = up.forwards[0]!;
      assert.equal(f.localAddress, "127.0.0.1");
      const res = await fetch(`http://127.0.0.1:${f.localPort}/index.html`);
      assert.equal(res.status, 200);
      assert.equal(await res.text(), "<h1>served from the zone</h1>\n");

      run.child.kill("SIGINT");
      const done = await run.done;
      assert.equal(done.code, 0, done.stderr);
      await assert.rejects(fetch(`http://127.0.0.1:${f.localPort}/`), "the forward closed with the CLI");
      assert.equal((await zonesOf(project)).length, 1, "the zone keeps running after the CLI leaves");
    } finally {
      run.child.kill("SIGKILL");
    }
  });

  test("up again on the same folder reuses the zone: re-sync, postStart only", async () => {
    writeFileSync(join(project, "hello.txt"), "hello again\n");
    const r = await zonectl(["--json", "up", project], env, { timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    const again = parseUp(r.stdout);
    assert.equal(again.reusedZone, true);
    assert.equal(again.zoneId, up.zoneId);
    assert.equal(again.workloadId, up.workloadId);
    assert.equal(again.firstLaunch, false);
    assert.equal(again.sync.filesCopied, 2, "hello.txt and .launch-init changed; the rest did not");
    measured["upReuseMs"] = again.totalMs;
    assert.equal((await zonesOf(project)).length, 1);
    const log = (await zonectl(["exec", up.zoneName, "--", "cat", "/tmp/hooks.log"], env)).stdout
      .trim()
      .split("\n");
    assert.equal(log.filter((l) => l === "onCreateCommand").length, 1, "first-launch hooks ran once");
    assert.equal(log.filter((l) => l.startsWith("postStartCommand")).length, 2);
    assert.equal(
      (await zonectl(["exec", up.zoneName, "--", "cat", "/workspaces/project/hello.txt"], env)).stdout,
      "hello again\n",
    );
  });

  test("exec passes the exit code through and streams stdin to EOF", async () => {
    const seven = await zonectl(["exec", up.zoneName, "--", "sh", "-c", "exit 7"], env);
    assert.equal(seven.code, 7);
    const input = "line one\nline two\nno newline at the end";
    const wc = await zonectl(["exec", up.zoneName, "--", "wc", "-c"], env, { stdin: input });
    assert.equal(wc.code, 0, wc.stderr);
    assert.equal(wc.stdout.trim(), String(Buffer.byteLength(input)), "wc saw every byte and then EOF");
    const hostile = await zonectl(
      ["exec", up.zoneName, "--", "printf", "%s|", "$(touch /tmp/pwned)", "a b", "'q'"],
      env,
    );
    assert.equal(hostile.stdout, "$(touch /tmp/pwned)|a b|'q'|");
    const pwned = await zonectl(["exec", up.zoneName, "--", "test", "-e", "/tmp/pwned"], env);
    assert.equal(pwned.code, 1, "no argument went through a shell");
    const remote = await zonectl(["exec", up.zoneName, "--", "sh", "-c", 'printf "%s" "$HOOK_VAR"'], env);
    assert.equal(
      remote.stdout,
      "remote+hello from containerEnv",
      "remoteEnv applies to exec, ${containerEnv:…} resolved",
    );
    const missing = await zonectl(["exec", `${up.zoneName}/no-such-workload`, "--", "true"], env);
    assert.equal(missing.code, 24);
    assert.match(missing.stderr, /no workload 'no-such-workload'/);
  });

  test("shell through a PTY: a prompt in the workspace folder, $((6*7)) is 42, resize follows", async () => {
    const t = new PtyRun(["shell", up.zoneName], env, { cols: 100, rows: 30 });
    try {
      const started = Date.now();
      let at = await t.waitFor(/\/workspaces\/project # /);
      measured["shellPromptMs"] = Date.now() - started;
      t.term.write("echo $((6*7))\r");
      at = await t.waitFor(/\r+\n42\r+\n/, at);
      t.term.write('echo "[$HOOK_VAR]"\r');
      at = await t.waitFor(/\[remote\+hello from containerEnv\]/, at);
      t.term.write("stty size\r");
      at = await t.waitFor(/30 100\r+\n/, at);
      t.term.resize(120, 40);
      await new Promise((r) => setTimeout(r, 300));
      t.term.write("stty size\r");
      await t.waitFor(/40 120\r+\n/, at);
      t.term.write("exit 5\r");
      const exit = await t.exited;
      assert.equal(exit.exitCode, 5, "the shell's exit code");
    } finally {
      t.kill();
    }
  });

  test("top, logs and resize show the zone", async () => {
    const top = await zonectl(["--json", "top", up.zoneName], env);
    assert.equal(top.code, 0, top.stderr);
    const rows = JSON.parse(top.stdout) as {
      id: string;
      memoryUsedBytes: number | null;
      memoryLimitBytes: number | null;
      cpuPercent: number | null;
    }[];
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.id, up.zoneId);
    assert.ok((rows[0]!.memoryUsedBytes ?? 0) > 0);
    assert.equal(rows[0]!.memoryLimitBytes, 2048 * 1024 * 1024);
    assert.equal(typeof rows[0]!.cpuPercent, "number");
    const logs = await zonectl(["logs", up.zoneName], env);
    assert.equal(logs.code, 0, logs.stderr);
    assert.match(logs.stdout, /zone ready/);
    const resized = await zonectl(["resize", up.zoneName, "--cpus", "1", "--memory", "512m"], env);
    assert.equal(resized.code, 0, resized.stderr);
    assert.match(resized.stdout, /before\s+2 vCPU \(max 2\), 2048 MiB/);
    assert.match(resized.stdout, /after\s+1 vCPU \(max 2\), 512 MiB/);
  });

  test("forward --via ssh reaches the server over an SSH channel to the zone's IP", async () => {
    const run = new CliRun(["forward", up.zoneName, "8080:0", "--via", "ssh"], env);
    try {
      const m = await run.waitFor(/forwarding 127\.0\.0\.1:(\d+) → /);
      const res = await fetch(`http://127.0.0.1:${m[1]}/index.html`);
      assert.equal(await res.text(), "<h1>served from the zone</h1>\n");
      run.child.kill("SIGINT");
      assert.equal((await run.done).code, 0);
    } finally {
      run.child.kill("SIGKILL");
    }
  });

  test("sync --pull brings back a file made in the zone and leaves local files alone", async () => {
    await zonectl(
      ["exec", up.zoneName, "--", "sh", "-c", "echo built in the zone > /workspaces/project/result.txt"],
      env,
    );
    const r = await zonectl(["sync", project, "--pull"], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(join(project, "result.txt"), "utf8"), "built in the zone\n");
    assert.equal(readFileSync(join(project, "ignored/secret.txt"), "utf8"), "must stay on this machine\n");
  });

  test("stop stops the workload (shutdownAction), up starts it again", async () => {
    const stop = await zonectl(["stop", project], env);
    assert.equal(stop.code, 0, stop.stderr);
    assert.match(stop.stdout, /stopped workload/);
    const r = await zonectl(["--json", "up", project], env, { timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(parseUp(r.stdout).workloadId, up.workloadId);
    assert.match(r.stderr, /started again/);
  });

  test("attach shows a workload's output from the start and ends when it exits", async () => {
    const digest = (await api.getWorkload(up.workloadId)).spec?.image?.digest ?? "";
    const workloadId = await api.createWorkload({
      name: "talker",
      zoneId: up.zoneId,
      image: { digest },
      process: {
        command: ["sh", "-c", "echo first line; sleep 1; echo second line >&2; exit 3"],
        stdout: true,
        stderr: true,
      },
    });
    await api.startWorkload(workloadId).catch(() => undefined); // a daemon that starts on create says so
    const r = await zonectl(["attach", "talker"], env, { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /first line/, "output from before the attach is replayed");
    assert.match(r.stderr, /second line/, "stderr stays stderr");
    assert.match(r.stderr, /workload talker is failed \(exit 3\)/);
    await api.destroyWorkload(workloadId);
  });

  test("down leaves no zone, workload or host folder behind", async () => {
    const hostPath = up.hostPath;
    assert.ok(existsSync(hostPath), "the SFTP copy is on the host");
    const r = await zonectl(["down", project], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /destroyed workload/);
    assert.match(r.stderr, /destroyed zone/);
    assert.match(r.stderr, /removed host folder/);
    assert.deepEqual(await zonesOf(project), []);
    assert.deepEqual(await workloadsIn(up.zoneId), []);
    assert.equal(existsSync(hostPath), false);
    assert.ok(existsSync(join(project, "hello.txt")), "nothing local was deleted");
  });

  test("Ctrl-C during up rolls back: no zone, workload or host folder left", async () => {
    const slow = join(work, "slow");
    cpSync(join(fixtures, "slow"), slow, { recursive: true });
    const root = env["ZONECTL_WORKSPACE_ROOT"]!;
    const copiesBefore = existsSync(root) ? readdirSync(root).sort() : [];
    const run = new CliRun(["--json", "up", slow], env, { timeoutMs: 120_000 });
    try {
      await run.waitFor(/\[onCreateCommand\] \$ sleep 60/);
      const zones = await zonesOf(slow);
      assert.equal(zones.length, 1, "the zone exists while the hook runs");
      const zoneId = zones[0]!.id;
      const interrupted = Date.now();
      run.child.kill("SIGINT");
      const done = await run.done;
      measured["rollbackMs"] = Date.now() - interrupted;
      assert.equal(done.code, 130, done.stderr);
      assert.match(done.stderr, /↺ removed workload/);
      assert.match(done.stderr, /↺ removed host folder/);
      assert.match(done.stderr, /↺ removed zone/);
      assert.match(done.stderr, /cancelled \(rolled back\)/);
      assert.deepEqual(await zonesOf(slow), []);
      assert.deepEqual(await workloadsIn(zoneId), []);
      assert.deepEqual(
        existsSync(root) ? readdirSync(root).sort() : [],
        copiesBefore,
        "the slow project's workspace copy is gone",
      );
    } finally {
      run.child.kill("SIGKILL");
    }
  });

  test("time to a shell prompt: up --shell on a fresh project", async () => {
    const fresh = join(work, "fresh");
    cpSync(join(fixtures, "project"), fresh, { recursive: true });
    const t = new PtyRun(["up", fresh, "--shell"], env, { cols: 120, rows: 40 });
    try {
      const started = Date.now();
      let at = await t.waitFor(/\/workspaces\/project # /, 0, 120_000);
      measured["upToPromptMs"] = Date.now() - started;
      const table = /up in [^\r\n]*:\r?\n((?: {2}\S+ +[\d.]+ m?s\r?\n)+)/.exec(t.output);
      if (table)
        measured["upToPromptSteps"] = table[1]!
          .trim()
          .split(/\r?\n/)
          .map((l) =>
            l
              .trim()
              .replace(/\s+(?=[\d.]+ m?s$)/, "=")
              .replace(/ (m?s)$/, "$1"),
          )
          .join(",");
      t.term.write("echo $((6*7))\r");
      at = await t.waitFor(/\r+\n42\r+\n/, at);
      t.term.write("cat /tmp/hooks.log\r");
      await t.waitFor(/postAttachCommand/, at);
      t.term.write("exit\r");
      assert.equal((await t.exited).exitCode, 0);
    } finally {
      t.kill();
    }
    const down = await zonectl(["down", fresh], env);
    assert.equal(down.code, 0, down.stderr);
  });
});
