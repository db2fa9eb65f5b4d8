import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { Code, ConnectError } from "@connectrpc/connect";
import { MetricFormat, WorkloadState } from "../../../extension/proto/gen/protect/control/v1/common_pb";
import type { MetricNode } from "../../../extension/proto/gen/protect/control/v1/common_pb";
import { zoneSampleFromTree } from "../../../extension/core/metrics/metricTree";
import { parsePrometheusText, protectResourceReading } from "../../../extension/core/metrics/prometheus";
import { freePort } from "../../harness/sshd";
import type { UnixClient } from "./client";
import { waitForWorkload } from "./helpers";
import { startZoneFixture } from "./zoneFixture";
import type { ZoneFixture } from "./zoneFixture";

let conn: UnixClient;
let digest: string;
let zoneId: string;
let fixture: ZoneFixture | undefined;
let promPort: number;

before(async () => {
  promPort = await freePort();
  fixture = await startZoneFixture({
    name: "observed",
    targetCpus: 1,
    targetMemory: 200n,
    devHostArgs: ["--prometheus", `127.0.0.1:${promPort}`],
  });
  ({ conn, digest, zoneId } = fixture);
});

after(async () => {
  await fixture?.stop();
});

async function startWorkload(name: string, command: string[]): Promise<string> {
  const { workloadId } = await conn.client.createWorkload({
    spec: { name, zoneId, image: { digest }, process: { command } },
  });
  await waitForWorkload(conn.client, workloadId, [WorkloadState.CREATED]);
  await conn.client.startWorkload({ workloadId });
  await waitForWorkload(conn.client, workloadId, [WorkloadState.RUNNING]);
  return workloadId;
}

function find(node: MetricNode, path: string[]): MetricNode | undefined {
  if (path.length === 0) return node;
  const child = node.children.find((c) => c.name === path[0]);
  return child && find(child, path.slice(1));
}

test("ReadZoneMetrics returns the tree a real zone returns, with real readings", async () => {
  const spinner = await startWorkload("spinner", ["sh", "-c", "while :; do :; done"]);
  await conn.client.readZoneMetrics({ zoneId }); // the first read starts the CPU window
  await new Promise((r) => setTimeout(r, 500));
  const { root } = await conn.client.readZoneMetrics({ zoneId });
  assert.ok(root);
  const total = find(root, ["system", "memory", "total"])!;
  assert.equal(total.format, MetricFormat.BYTES);
  assert.equal(total.value?.kind.value, 200 * 1024 * 1024, "total is the zone's memory limit");
  const used = find(root, ["system", "memory", "used"])!.value!.kind.value as number;
  const free = find(root, ["system", "memory", "free"])!.value!.kind.value as number;
  assert.ok(used > 0 && used + free === 200 * 1024 * 1024);
  const cpu = find(root, ["system", "cpu", "usage"])!;
  assert.equal(cpu.format, MetricFormat.PERCENT);
  // The machine is shared (2 cores, many tests): a busy loop gets what the scheduler gives it,
  // so only "clearly busy" is asserted, not a number near 100.
  const busy = cpu.value!.kind.value as number;
  assert.ok(busy > 2, `a busy loop in the zone shows as CPU use (${busy}%)`);

  const processes = find(root, ["process"])!.children;
  const init = processes.find((p) => p.name === "1");
  assert.ok(init, "the zone's init is pid 1 of its namespace");
  const loop = processes.find((p) => {
    const cmdline = find(p, ["cmdline"])?.value?.kind;
    return cmdline?.case === "stringValue" && cmdline.value.includes("while :");
  });
  assert.ok(loop, "the workload's process is listed");
  for (const key of ["parent", "executable", "cmdline", "cwd", "lifetime", "uid", "gid"])
    assert.ok(find(loop, [key]), `process/<pid>/${key}`);
  assert.equal(find(loop, ["memory", "resident"])!.format, MetricFormat.BYTES);

  // The product's own reader understands it.
  const sample = zoneSampleFromTree(root, Date.now());
  assert.equal(sample.memoryTotal, 200 * 1024 * 1024);
  assert.ok((sample.cpuPercent ?? 0) > 2);
  assert.ok(sample.processes.length >= 2);

  // Prometheus text with a real host's names.
  const text = await (await fetch(`http://127.0.0.1:${promPort}/metrics/resource`)).text();
  assert.match(text, /^host_cpu_usage_percent\{cpu="0"\} [\d.]+$/m);
  assert.match(text, /^host_memory_total_bytes \d+$/m);
  assert.match(
    text,
    new RegExp(`^zone_memory_total_bytes\\{zone_id="${zoneId}"\\} ${200 * 1024 * 1024}$`, "m"),
  );
  assert.match(text, new RegExp(`^zone_cpu_usage_percent\\{cpu="\\d+",zone_id="${zoneId}"\\} [\\d.]+$`, "m"));
  const parsed = parsePrometheusText(text);
  assert.deepEqual(parsed.errors, []);
  const reading = protectResourceReading(parsed.samples, Date.now());
  assert.equal(reading.zones.get(zoneId)?.memoryTotal, 200 * 1024 * 1024);
  assert.equal((await fetch(`http://127.0.0.1:${promPort}/other`)).status, 404);

  await conn.client.destroyWorkload({ workloadId: spinner });
});

test("DialNetworkSocket reaches a listener on the zone's own loopback", async () => {
  const echo = await startWorkload("echo", ["nc", "-ll", "-p", "7777", "-e", "cat"]);
  // It listens inside the zone: the host's loopback does not have it.
  const hostConnect = await new Promise<string>((resolve) => {
    const s = connect(7777, "127.0.0.1");
    s.once("connect", () => (s.destroy(), resolve("connected")));
    s.once("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? "error"));
  });
  assert.equal(hostConnect, "ECONNREFUSED");

  let received: string;
  const deadline = Date.now() + 5000;
  for (;;) {
    received = "";
    let wake: (() => void) | undefined;
    const lines = ["ping 1\n", "ping 2\n"];
    async function* requests() {
      yield { request: { case: "start" as const, value: { zoneId, address: "127.0.0.1", port: 7777 } } };
      for (const line of lines) {
        yield { request: { case: "data" as const, value: { content: Buffer.from(line) } } };
        await new Promise<void>((r) => (wake = r));
      }
    }
    try {
      for await (const reply of conn.client.dialNetworkSocket(requests(), { timeoutMs: 5000 })) {
        received += Buffer.from(reply.data!.content).toString();
        wake?.();
        if (received === "ping 1\nping 2\n") break;
      }
      break;
    } catch (err) {
      // nc may not be listening yet right after RUNNING: retry briefly
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  assert.equal(received, "ping 1\nping 2\n");

  await assert.rejects(
    (async () => {
      async function* requests() {
        yield { request: { case: "start" as const, value: { zoneId, address: "127.0.0.1", port: 7778 } } };
      }
      for await (const _ of conn.client.dialNetworkSocket(requests())) break;
    })(),
    (err: unknown) =>
      err instanceof ConnectError && err.code === Code.Unavailable && /7778/.test(err.message),
  );
  await assert.rejects(
    (async () => {
      async function* requests() {
        yield { request: { case: "start" as const, value: { zoneId, address: "127.0.0.1,fork", port: 1 } } };
      }
      for await (const _ of conn.client.dialNetworkSocket(requests())) break;
    })(),
    (err: unknown) => err instanceof ConnectError && err.code === Code.InvalidArgument,
    "an address cannot smuggle socat options",
  );
  await conn.client.destroyWorkload({ workloadId: echo });
});

test("ReadHypervisorConsole returns the dev host's own log", async () => {
  const { data } = await conn.client.readHypervisorConsole({});
  assert.match(data, /serving protect\.control\.v1\.ControlService/);
  assert.match(data, new RegExp(`${zoneId} READY`));
});
