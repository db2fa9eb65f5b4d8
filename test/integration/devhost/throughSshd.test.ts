// The dev host's Done-when scenario end to end through a real OpenSSH sshd: every RPC travels
// over one SSH connection (direct-streamlocal to the dev host's socket), as the extension does.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "ssh2";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  MetricFormat,
  WorkloadState,
  ZoneState,
} from "../../../extension/proto/gen/protect/control/v1/common_pb";
import { startDevHost } from "../../harness/devHost";
import type { StartedDevHost } from "../../harness/devHost";
import { startSshd } from "../../harness/sshd";
import type { Sshd } from "../../harness/sshd";
import { connectOverSsh } from "./client";
import type { UnixClient } from "./client";
import { cgroupDirsMatching, linksWithPrefix, runExec, waitForWorkload, waitForZone } from "./helpers";
import { importTestImage } from "./image";

let host: StartedDevHost;
let sshd: Sshd;
let ssh: Client;
let conn: UnixClient;
let work: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), "devhost-sshd-"));
  host = await startDevHost();
  sshd = await startSshd();
  ssh = await new Promise<Client>((resolve, reject) => {
    const c = new Client();
    const expected = sshd.hostPublicKey().split(/\s+/)[1];
    c.on("ready", () => resolve(c)).on("error", reject);
    c.connect({
      host: sshd.host,
      port: sshd.port,
      username: sshd.user,
      privateKey: readFileSync(sshd.clientKeyPath),
      hostVerifier: (key: Buffer) => key.toString("base64") === expected,
    });
  });
  conn = await connectOverSsh(ssh, host.socketPath);
});

after(async () => {
  conn?.close();
  ssh?.end();
  await sshd?.stop();
  await host?.stop();
  rmSync(work, { recursive: true, force: true });
});

test("through sshd: image, zone, workload, exec, TTY resize, stdin EOF, console replay, OOM, metrics, dial, events, clean destroy", async () => {
  const { client } = conn;
  const events: string[] = [];
  const watch = new AbortController();
  const watching = (async () => {
    try {
      for await (const r of client.watchEvents({}, { signal: watch.signal })) {
        if (r.event.case === "zoneChanged")
          events.push(`zone ${r.event.value.zone!.id} ${ZoneState[r.event.value.zone!.status!.state]}`);
        if (r.event.case === "workloadChanged")
          events.push(
            `workload ${r.event.value.workload!.id} ${WorkloadState[r.event.value.workload!.status!.state]}`,
          );
      }
    } catch (err) {
      if (!(err instanceof ConnectError && err.code === Code.Canceled)) throw err;
    }
  })();
  await new Promise((r) => setTimeout(r, 100));

  const { digest } = await importTestImage(client, join(work, "image"));
  const t0 = Date.now();
  const { zoneId } = await client.createZone({
    spec: { name: "via-sshd", initialResources: { targetCpus: 1, targetMemory: 96n } },
  });
  const zone = await waitForZone(client, zoneId, [ZoneState.READY]);
  process.stdout.write(`# through sshd: zone create → READY ${Date.now() - t0} ms\n`);

  const t1 = Date.now();
  const { workloadId } = await client.createWorkload({
    spec: {
      name: "main",
      zoneId,
      image: { digest },
      process: { command: ["nc", "-ll", "-p", "8080", "-e", "cat"] },
    },
  });
  await waitForWorkload(client, workloadId, [WorkloadState.CREATED]);
  await client.startWorkload({ workloadId });
  await waitForWorkload(client, workloadId, [WorkloadState.RUNNING]);
  process.stdout.write(`# through sshd: workload create+start → RUNNING ${Date.now() - t1} ms\n`);

  const echo = await runExec(client, zoneId, {
    workloadId,
    command: ["sh", "-c", "echo $FOO; exit 7"],
    env: { FOO: "bar" },
  });
  assert.equal(echo.stdout, "bar\n");
  assert.equal(echo.exitCode, 7);
  const rounds: number[] = [];
  for (let i = 0; i < 5; i++)
    rounds.push((await runExec(client, zoneId, { workloadId, command: ["true"] })).ms);
  process.stdout.write(`# through sshd: exec round trips ${rounds.join(", ")} ms\n`);

  const tty = await runExec(
    client,
    zoneId,
    { workloadId, command: ["sh", "-c", "stty size; read x; stty size"], tty: { rows: 30, columns: 90 } },
    async (send, output) => {
      while (!output().includes("30 90")) await new Promise((r) => setTimeout(r, 10));
      send({ request: { case: "terminalResize", value: { size: { rows: 45, columns: 160 } } } });
      await new Promise((r) => setTimeout(r, 100));
      send({ request: { case: "stdin", value: { stdin: Buffer.from("\r") } } });
    },
  );
  assert.match(tty.stdout, /30 90/);
  assert.match(tty.stdout, /45 160/);

  const wc = await runExec(client, zoneId, { workloadId, command: ["wc", "-c"] }, async (send) => {
    send({ request: { case: "stdin", value: { stdin: Buffer.from("abcdef"), closed: true } } });
  });
  assert.equal(wc.stdout.trim(), "6");

  // Console history replays from the start of the zone.
  let consoleText = "";
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 500);
  async function* consoleRequests() {
    yield { zoneId, replayHistory: true };
    await new Promise((r) => setTimeout(r, 2000));
  }
  try {
    for await (const r of client.attachZoneConsole(consoleRequests(), { signal: abort.signal }))
      consoleText += Buffer.from(r.data).toString();
  } catch (err) {
    if (!(err instanceof ConnectError && err.code === Code.Canceled)) throw err;
  } finally {
    clearTimeout(timer);
  }
  assert.match(consoleText, /styrolite dev host zone via-sshd/);
  assert.match(consoleText, /zone ready/);

  // The metric tree.
  const { root } = await client.readZoneMetrics({ zoneId });
  const memory = root!.children.find((c) => c.name === "system")!.children.find((c) => c.name === "memory")!;
  assert.equal(memory.children.find((c) => c.name === "total")!.value!.kind.value, 96 * 1024 * 1024);
  assert.equal(memory.children.find((c) => c.name === "total")!.format, MetricFormat.BYTES);
  assert.ok(root!.children.find((c) => c.name === "process")!.children.length >= 2);

  // The listener in the zone through DialNetworkSocket.
  let received = "";
  for (let attempt = 0; ; attempt++) {
    try {
      async function* dial() {
        yield { request: { case: "start" as const, value: { zoneId, address: "127.0.0.1", port: 8080 } } };
        yield { request: { case: "data" as const, value: { content: Buffer.from("through the zone\n") } } };
        await new Promise((r) => setTimeout(r, 3000));
      }
      for await (const r of client.dialNetworkSocket(dial(), { timeoutMs: 2000 })) {
        received += Buffer.from(r.data!.content).toString();
        if (received.includes("\n")) break;
      }
      break;
    } catch (err) {
      if (attempt > 20) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  assert.equal(received, "through the zone\n");

  // A workload allocating past the zone's limit.
  const { workloadId: hog } = await client.createWorkload({
    spec: {
      name: "hog",
      zoneId,
      image: { digest },
      process: { command: ["dd", "if=/dev/zero", "of=/dev/null", "bs=300M", "count=1"] },
    },
  });
  await waitForWorkload(client, hog, [WorkloadState.CREATED]);
  await client.startWorkload({ workloadId: hog });
  const killed = await waitForWorkload(client, hog, [WorkloadState.FAILED, WorkloadState.COMPLETED]);
  assert.equal(killed.status!.state, WorkloadState.FAILED);
  assert.match(killed.status!.errorStatus!.message, /out of memory/);

  // Destroy: the zone takes its workloads; nothing of it remains.
  await client.destroyZone({ zoneId });
  const deadline = Date.now() + 15_000;
  while (!events.includes(`zone ${zoneId} DESTROYED`)) {
    assert.ok(Date.now() < deadline, "no DESTROYED event");
    await new Promise((r) => setTimeout(r, 20));
  }
  watch.abort();
  await watching;
  const mine = (prefix: string) => events.filter((e) => e.startsWith(prefix)).map((e) => e.split(" ")[2]);
  assert.deepEqual(mine(`zone ${zoneId}`), ["CREATING", "CREATED", "READY", "DESTROYING", "DESTROYED"]);
  assert.deepEqual(mine(`workload ${workloadId}`), [
    "CREATING",
    "CREATED",
    "RUNNING",
    "DESTROYING",
    "DESTROYED",
  ]);
  assert.deepEqual(mine(`workload ${hog}`), [
    "CREATING",
    "CREATED",
    "RUNNING",
    "FAILED",
    "DESTROYING",
    "DESTROYED",
  ]);
  assert.deepEqual(cgroupDirsMatching(`zone-${zoneId.replace(/-/g, "").slice(0, 12)}`), []);
  assert.deepEqual(linksWithPrefix(zone.status!.networkStatus!.interfaces[0]!.hostInterface), []);
});
