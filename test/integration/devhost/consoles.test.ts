import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { cpus } from "node:os";
import { Code, ConnectError } from "@connectrpc/connect";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { WorkloadState } from "../../../extension/proto/gen/protect/control/v1/common_pb";
import type { WorkloadConsoleRequestSchema } from "../../../extension/proto/gen/protect/control/v1/control_pb";
import type { UnixClient } from "./client";
import { waitForWorkload } from "./helpers";
import { startZoneFixture } from "./zoneFixture";
import type { ZoneFixture } from "./zoneFixture";

let conn: UnixClient;
let digest: string;
let zoneId: string;
let fixture: ZoneFixture | undefined;

before(async () => {
  fixture = await startZoneFixture({ name: "consoles" });
  ({ conn, digest, zoneId } = fixture);
});

after(async () => {
  await fixture?.stop();
});

type ConsoleInit = MessageInitShape<typeof WorkloadConsoleRequestSchema>;

/** Attaches to a workload; `script` sends requests and watches output until the stream ends. */
async function attach(
  workloadId: string,
  script: (send: (r: ConsoleInit) => void, out: () => { stdout: string; stderr: string }) => Promise<void>,
) {
  const pending: ConsoleInit[] = [];
  let wake: (() => void) | undefined;
  let finished = false;
  const send = (r: ConsoleInit): void => {
    pending.push(r);
    wake?.();
  };
  async function* requests(): AsyncGenerator<ConsoleInit> {
    yield { workloadId };
    while (!finished) {
      while (pending.length) yield pending.shift()!;
      await new Promise<void>((r) => (wake = r));
    }
  }
  let stdout = "";
  let stderr = "";
  const scripted = script(send, () => ({ stdout, stderr }));
  for await (const r of conn.client.attachWorkloadConsole(requests())) {
    stdout += Buffer.from(r.stdout).toString();
    stderr += Buffer.from(r.stderr).toString();
  }
  finished = true;
  wake?.();
  await scripted;
  return { stdout, stderr };
}

async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    assert.ok(Date.now() < deadline, "timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}

test("AttachWorkloadConsole drives a TTY workload: input, resize, exit code", async () => {
  const { workloadId } = await conn.client.createWorkload({
    spec: {
      name: "interactive",
      zoneId,
      image: { digest },
      process: { command: ["sh"], tty: true, terminalSize: { rows: 20, columns: 70 } },
    },
  });
  await waitForWorkload(conn.client, workloadId, [WorkloadState.CREATED]);
  await conn.client.startWorkload({ workloadId });
  await waitForWorkload(conn.client, workloadId, [WorkloadState.RUNNING]);
  const { stdout } = await attach(workloadId, async (send, out) => {
    send({ stdin: Buffer.from("stty size\n") });
    await until(() => out().stdout.includes("20 70"));
    send({ terminalResize: { rows: 33, columns: 101 } });
    send({ stdin: Buffer.from("stty size; exit 5\n") });
  });
  assert.match(stdout, /20 70/);
  assert.match(stdout, /33 101/);
  const w = await waitForWorkload(conn.client, workloadId, [WorkloadState.FAILED, WorkloadState.COMPLETED]);
  assert.equal(w.status!.exitStatus!.code, 5);
  await conn.client.destroyWorkload({ workloadId });
});

test("AttachWorkloadConsole with pipes: stdout and stderr apart, stdin_closed is EOF", async () => {
  const { workloadId } = await conn.client.createWorkload({
    spec: {
      name: "piped",
      zoneId,
      image: { digest },
      process: { command: ["sh", "-c", "echo to-stderr >&2; tr a-z A-Z"], stdin: true },
    },
  });
  await waitForWorkload(conn.client, workloadId, [WorkloadState.CREATED]);
  await conn.client.startWorkload({ workloadId });
  const { stdout, stderr } = await attach(workloadId, async (send) => {
    send({ stdin: Buffer.from("hello ") });
    send({ stdin: Buffer.from("console"), stdinClosed: true });
  });
  assert.equal(stdout, "HELLO CONSOLE");
  assert.equal(stderr, "to-stderr\n");
  const w = await waitForWorkload(conn.client, workloadId, [WorkloadState.COMPLETED, WorkloadState.FAILED]);
  assert.equal(w.status!.state, WorkloadState.COMPLETED);

  // A late attach replays what the workload printed, then ends (it has exited).
  const replay = await attach(workloadId, async () => undefined);
  assert.equal(replay.stdout, "HELLO CONSOLE");
  await conn.client.destroyWorkload({ workloadId });
});

test("the zone console takes input and shows it; a late follower replays the history", async () => {
  let text = "";
  const abort = new AbortController();
  async function* requests() {
    yield { zoneId, replayHistory: true };
    yield { zoneId, data: Buffer.from("hello hvc0\n") };
    await new Promise((r) => setTimeout(r, 3000));
  }
  try {
    for await (const r of conn.client.attachZoneConsole(requests(), { signal: abort.signal })) {
      text += Buffer.from(r.data).toString();
      if (text.includes("console: hello hvc0")) abort.abort();
    }
  } catch (err) {
    if (!(err instanceof ConnectError && err.code === Code.Canceled)) throw err;
  }
  assert.match(text, /zone ready[\s\S]*console: hello hvc0/);
});

test("GetHostCpuTopology lists this machine's CPUs", async () => {
  const { cpus: topology } = await conn.client.getHostCpuTopology({});
  assert.equal(topology.length, cpus().length);
});
