import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { WorkloadState } from "../../../extension/proto/gen/protect/control/v1/common_pb";
import type { UnixClient } from "./client";
import { runExec, waitForWorkload } from "./helpers";
import type { ExecScript, ExecStart } from "./helpers";
import { startZoneFixture } from "./zoneFixture";
import type { ZoneFixture } from "./zoneFixture";

let conn: UnixClient;
let digest: string;
let zoneId: string;
let work: string;
let fixture: ZoneFixture | undefined;

before(async () => {
  fixture = await startZoneFixture({ name: "work", targetCpus: 1, targetMemory: 96n });
  ({ conn, digest, zoneId, work } = fixture);
});

after(async () => {
  await fixture?.stop();
});

function exec(start: ExecStart, script?: ExecScript): ReturnType<typeof runExec> {
  return runExec(conn.client, zoneId, start, script);
}

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function runningWorkload(
  name: string,
  extra: { mounts?: { hostPath: string; targetPath: string }[] } = {},
): Promise<string> {
  const { workloadId } = await conn.client.createWorkload({
    spec: {
      name,
      zoneId,
      image: { digest },
      process: { command: ["sleep", "600"] },
      mounts: extra.mounts ?? [],
    },
  });
  await waitForWorkload(conn.client, workloadId, [WorkloadState.CREATED]);
  await conn.client.startWorkload({ workloadId });
  const w = await waitForWorkload(conn.client, workloadId, [WorkloadState.RUNNING, WorkloadState.FAILED]);
  assert.equal(w.status!.state, WorkloadState.RUNNING, w.status?.errorStatus?.message);
  return workloadId;
}

async function consoleOf(workloadId: string): Promise<string> {
  let out = "";
  async function* requests() {
    yield { workloadId };
  }
  for await (const reply of conn.client.attachWorkloadConsole(requests()))
    out += Buffer.from(reply.stdout).toString() + Buffer.from(reply.stderr).toString();
  return out;
}

test("a workload runs its image's config in its own root and walks CREATING → CREATED → RUNNING → COMPLETED", async () => {
  const seen: { id: string; state: WorkloadState }[] = [];
  const watch = new AbortController();
  const watching = (async () => {
    try {
      for await (const r of conn.client.watchEvents({}, { signal: watch.signal })) {
        if (r.event.case === "workloadChanged")
          seen.push({ id: r.event.value.workload!.id, state: r.event.value.workload!.status!.state });
      }
    } catch (err) {
      if (!(err instanceof ConnectError && err.code === Code.Canceled)) throw err;
    }
  })();
  await new Promise((r) => setTimeout(r, 100));

  const started = Date.now();
  const { workloadId } = await conn.client.createWorkload({
    spec: {
      name: "config",
      zoneId,
      image: { digest },
      process: {
        command: [
          "sh",
          "-c",
          'echo "greeting=$STYROLITE_GREETING"; echo "cwd=$(pwd)"; echo "uid=$(id -u)"; cat /etc/motd; echo "FOO=$FOO"; echo "host=$(hostname)"',
        ],
        environment: [{ key: "FOO", value: "from the spec" }],
      },
    },
  });
  await waitForWorkload(conn.client, workloadId, [WorkloadState.CREATED]);
  await conn.client.startWorkload({ workloadId });
  process.stdout.write(`# workload create → RUNNING: ${Date.now() - started} ms\n`);
  const w = await waitForWorkload(conn.client, workloadId, [WorkloadState.COMPLETED, WorkloadState.FAILED]);
  assert.equal(w.status!.state, WorkloadState.COMPLETED, w.status?.errorStatus?.message);
  assert.equal(w.status!.exitStatus!.code, 0);
  const out = await consoleOf(workloadId);
  assert.match(out, /greeting=hello from the test image/);
  assert.match(out, /cwd=\/root/, "the image's WorkingDir");
  assert.match(out, /uid=0/);
  assert.match(out, /styrolite test image/, "the image's own /etc/motd, not the host's");
  assert.match(out, /FOO=from the spec/);
  assert.match(out, /host=work/, "the zone's hostname");

  await conn.client.destroyWorkload({ workloadId });
  await until(
    () => seen.some((e) => e.id === workloadId && e.state === WorkloadState.DESTROYED),
    "DESTROYED",
  );
  watch.abort();
  await watching;
  assert.deepEqual(
    seen.filter((e) => e.id === workloadId).map((e) => WorkloadState[e.state]),
    ["CREATING", "CREATED", "RUNNING", "COMPLETED", "DESTROYING", "DESTROYED"],
  );
  await assert.rejects(
    conn.client.getWorkload({ workloadId }),
    (err: unknown) => err instanceof ConnectError && err.code === Code.NotFound,
  );
});

test("exec in a workload: env honoured, exact exit code, stdin EOF reaches wc -c", async () => {
  const workloadId = await runningWorkload("exec");
  const r = await exec({ workloadId, command: ["sh", "-c", "echo $FOO; exit 7"], env: { FOO: "bar baz" } });
  assert.equal(r.stdout, "bar baz\n");
  assert.equal(r.exitCode, 7);
  process.stdout.write(`# exec round trip (start → exited): ${r.ms} ms\n`);

  const wc = await exec({ workloadId, command: ["wc", "-c"] }, async (send) => {
    send({ request: { case: "stdin", value: { stdin: Buffer.from("hello") } } });
    send({ request: { case: "stdin", value: { stdin: Buffer.from(" world"), closed: true } } });
  });
  assert.equal(wc.stdout.trim(), "11");
  assert.equal(wc.exitCode, 0);

  const killed = await exec({ workloadId, command: ["sh", "-c", "kill -9 $$"] });
  assert.equal(killed.exitCode, 137, "a signal death reports 128 + signal");

  const tester = await exec({ workloadId, command: ["id", "-u"], user: "tester", cwd: "/home/tester" });
  assert.equal(tester.stdout.trim(), "1000", "user by name from the image's /etc/passwd");

  await conn.client.destroyWorkload({ workloadId });
});

test("a TTY exec sees the terminal size and a resize", async () => {
  const workloadId = await runningWorkload("tty");
  const r = await exec(
    { workloadId, command: ["sh", "-c", "stty size; read line; stty size"], tty: { rows: 24, columns: 80 } },
    async (send, output) => {
      await until(() => output().includes("24 80"), "the first stty size");
      send({ request: { case: "terminalResize", value: { size: { rows: 40, columns: 132 } } } });
      await new Promise((r) => setTimeout(r, 100));
      send({ request: { case: "stdin", value: { stdin: Buffer.from("\r") } } });
    },
  );
  assert.match(r.stdout, /24 80\r?\n/);
  assert.match(r.stdout, /40 132\r?\n/);
  assert.equal(r.exitCode, 0);
  await conn.client.destroyWorkload({ workloadId });
});

test("hostile values reach the workload byte for byte, never a shell", async () => {
  const workloadId = await runningWorkload("hostile");
  const marker = join(work, "pwned");
  const nasty = [
    `$(touch ${marker})`,
    `\`touch ${marker}\``,
    `'; touch ${marker}; '`,
    `"quoted" and 'single'`,
    "line1\nline2",
    "-n",
    "--",
    "a\\b",
  ];
  const r = await exec({ workloadId, command: ["printf", "%s|", ...nasty] });
  assert.equal(r.stdout, nasty.map((n) => `${n}|`).join(""));
  const env = await exec({
    workloadId,
    command: ["sh", "-c", 'printf "%s" "$V"'],
    env: { V: nasty.join("\n") },
  });
  assert.equal(env.stdout, nasty.join("\n"));
  const cwd = await exec({ workloadId, command: ["pwd"], cwd: "/tmp/$(touch x)" }).catch((e: unknown) => e);
  assert.ok(
    cwd instanceof Error || (cwd as { exitCode: number }).exitCode !== 0,
    "a missing working directory fails the exec",
  );
  assert.equal(existsSync(marker), false, "nothing was executed by a shell on the host");
  const inZone = await exec({ workloadId, command: ["ls", "/"] });
  assert.doesNotMatch(inZone.stdout, /pwned/);
  await conn.client.destroyWorkload({ workloadId });
});

test("the spec's mounts appear at their targets inside the workload", async () => {
  const shared = join(work, "shared");
  rmSync(shared, { recursive: true, force: true });
  const { mkdirSync } = await import("node:fs");
  mkdirSync(shared);
  writeFileSync(join(shared, "hello.txt"), "from the host\n");
  const workloadId = await runningWorkload("mounts", {
    mounts: [{ hostPath: shared, targetPath: "/workspace/project" }],
  });
  const r = await exec({ workloadId, command: ["cat", "/workspace/project/hello.txt"] });
  assert.equal(r.stdout, "from the host\n");
  await exec({ workloadId, command: ["sh", "-c", "echo back > /workspace/project/reply.txt"] });
  assert.ok(existsSync(join(shared, "reply.txt")), "writes go through to the host directory");
  const w = await conn.client.getWorkload({ workloadId });
  assert.deepEqual(
    w.workload!.status!.mountStatus!.mounts.map((m) => [m.hostPath, m.targetPath]),
    [[shared, "/workspace/project"]],
  );
  await conn.client.destroyWorkload({ workloadId });
});

test("StopWorkload ends a running workload (SIGTERM) and it shows COMPLETED", async () => {
  const workloadId = await runningWorkload("stop");
  await conn.client.stopWorkload({ workloadId, timeout: 5n });
  const w = await waitForWorkload(conn.client, workloadId, [WorkloadState.COMPLETED, WorkloadState.FAILED]);
  assert.equal(w.status!.state, WorkloadState.COMPLETED);
  assert.equal(w.status!.exitStatus!.code, 143);
  await assert.rejects(
    exec({ workloadId, command: ["true"] }),
    (err: unknown) => err instanceof ConnectError && err.code === Code.FailedPrecondition,
  );
  await conn.client.destroyWorkload({ workloadId });
});

test("a workload allocating past the zone's memory limit is OOM-killed and FAILED with the reason", async () => {
  const { workloadId } = await conn.client.createWorkload({
    spec: {
      name: "hog",
      zoneId,
      image: { digest },
      process: { command: ["dd", "if=/dev/zero", "of=/dev/null", "bs=400M", "count=1"] },
    },
  });
  await waitForWorkload(conn.client, workloadId, [WorkloadState.CREATED]);
  await conn.client.startWorkload({ workloadId });
  const w = await waitForWorkload(conn.client, workloadId, [WorkloadState.COMPLETED, WorkloadState.FAILED]);
  assert.equal(w.status!.state, WorkloadState.FAILED);
  assert.match(w.status!.errorStatus!.message, /out of memory/);
  assert.equal(w.status!.exitStatus!.code, 137);
  await conn.client.destroyWorkload({ workloadId });
});

test("a command that ends at once still ran: RUNNING, then COMPLETED with exit 0 (20 runs)", async () => {
  // The dev host sees RUNNING when the process enters the workload root; `true` can be gone
  // before it looks, which once made a finished workload FAILED "did not start".
  for (let i = 0; i < 20; i++) {
    const { workloadId } = await conn.client.createWorkload({
      spec: { name: `quick-${i}`, zoneId, image: { digest }, process: { command: ["true"] } },
    });
    await waitForWorkload(conn.client, workloadId, [WorkloadState.CREATED]);
    await conn.client.startWorkload({ workloadId });
    const w = await waitForWorkload(conn.client, workloadId, [WorkloadState.COMPLETED, WorkloadState.FAILED]);
    assert.equal(w.status!.state, WorkloadState.COMPLETED, `run ${i}: ${w.status?.errorStatus?.message}`);
    assert.equal(w.status!.exitStatus!.code, 0);
    await conn.client.destroyWorkload({ workloadId });
  }
});

test("a workload whose command fails shows FAILED with its exit code; bad specs are refused", async () => {
  const { workloadId } = await conn.client.createWorkload({
    spec: { name: "fails", zoneId, image: { digest }, process: { command: ["sh", "-c", "exit 3"] } },
  });
  await waitForWorkload(conn.client, workloadId, [WorkloadState.CREATED]);
  await conn.client.startWorkload({ workloadId });
  const w = await waitForWorkload(conn.client, workloadId, [WorkloadState.COMPLETED, WorkloadState.FAILED]);
  assert.equal(w.status!.state, WorkloadState.FAILED);
  assert.equal(w.status!.exitStatus!.code, 3);
  await conn.client.destroyWorkload({ workloadId });

  const refused = (code: Code) => (err: unknown) => err instanceof ConnectError && err.code === code;
  await assert.rejects(
    conn.client.createWorkload({ spec: { zoneId, image: { digest: "sha256:" + "0".repeat(64) } } }),
    refused(Code.NotFound),
  );
  await assert.rejects(
    conn.client.createWorkload({
      spec: {
        zoneId,
        image: { digest },
        process: { command: ["true"], environment: [{ key: "A=B", value: "x" }] },
      },
    }),
    refused(Code.InvalidArgument),
  );
  await assert.rejects(
    conn.client.createWorkload({
      spec: {
        zoneId,
        image: { digest },
        process: { command: ["true"], user: { idOrName: { case: "name", value: "nosuchuser" } } },
      },
    }),
    refused(Code.InvalidArgument),
  );
  await assert.rejects(
    conn.client.createWorkload({ spec: { zoneId: "nope", image: { digest } } }),
    refused(Code.NotFound),
  );
});
