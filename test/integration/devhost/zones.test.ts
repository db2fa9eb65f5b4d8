import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { Code, ConnectError } from "@connectrpc/connect";
import { ZoneState } from "../../../extension/proto/gen/protect/control/v1/common_pb";
import { startDevHost } from "../../harness/devHost";
import type { StartedDevHost } from "../../harness/devHost";
import { connectUnix } from "./client";
import type { UnixClient } from "./client";
import { cgroupDirsMatching, linksWithPrefix, listAllZones, waitForZone } from "./helpers";

let host: StartedDevHost;
let conn: UnixClient;

before(async () => {
  host = await startDevHost();
  conn = connectUnix(host.socketPath);
});

after(async () => {
  conn?.close();
  await host?.stop();
});

test("the socket is private and GetHostStatus says plainly it is a dev host", async () => {
  assert.equal(statSync(host.socketPath).mode & 0o777, 0o600);
  const status = await conn.client.getHostStatus({});
  assert.match(status.protectVersion, /^devhost-/);
  assert.match(status.hostUuid, /^[0-9a-f-]{36}$/);
});

test("a zone goes CREATING → CREATED → READY with events, an address, limits and a console; destroy leaves nothing", async () => {
  const { client } = conn;
  const seen: { id: string; state: ZoneState }[] = [];
  const watch = new AbortController();
  const watching = (async () => {
    try {
      for await (const reply of client.watchEvents({}, { signal: watch.signal })) {
        // The CREATING event can arrive before CreateZone's reply: filter by id afterwards.
        if (reply.event.case === "zoneChanged")
          seen.push({ id: reply.event.value.zone!.id, state: reply.event.value.zone!.status!.state });
      }
    } catch (err) {
      if (!(err instanceof ConnectError && err.code === Code.Canceled)) throw err;
    }
  })();
  await new Promise((r) => setTimeout(r, 100));

  const started = Date.now();
  const { zoneId } = await client.createZone({
    spec: { name: "lifecycle", initialResources: { targetCpus: 1, targetMemory: 192n } },
  });
  const zone = await waitForZone(client, zoneId, [ZoneState.READY, ZoneState.FAILED]);
  const readyMs = Date.now() - started;
  assert.equal(zone.status!.state, ZoneState.READY, zone.status?.errorStatus?.message);
  process.stdout.write(`# zone create → READY: ${readyMs} ms\n`);

  const iface = zone.status!.networkStatus!.interfaces[0]!;
  assert.equal(iface.zoneInterface, "eth0");
  assert.match(iface.ips[0]!.address, /^198\.1[89]\.\d+\.\d+\/24$/);
  const annotations = Object.fromEntries(zone.spec!.annotations.map((a) => [a.key, a.value]));
  assert.match(annotations["dev.styrolite.devhost/kernel"] ?? "", /shares host kernel/);

  // The zone's memory limit is the requested 192 MiB, enforced by its own cgroup.
  const short = zoneId.replace(/-/g, "").slice(0, 12);
  const memDir = cgroupDirsMatching(`zone-${short}`).find((d) => d.startsWith("/sys/fs/cgroup/memory/"));
  if (memDir)
    assert.equal(Number(readFileSync(`${memDir}/memory.limit_in_bytes`, "utf8")), 192 * 1024 * 1024);
  const cpuDir = cgroupDirsMatching(`zone-${short}`).find((d) => d.startsWith("/sys/fs/cgroup/cpu/"));
  if (cpuDir) assert.equal(readFileSync(`${cpuDir}/cpu.cfs_quota_us`, "utf8").trim(), "100000");

  // UpdateZoneResources changes the limit live.
  await client.updateZoneResources({ zoneId, resources: { targetCpus: 2, targetMemory: 320n } });
  if (memDir)
    assert.equal(Number(readFileSync(`${memDir}/memory.limit_in_bytes`, "utf8")), 320 * 1024 * 1024);
  if (cpuDir) assert.equal(readFileSync(`${cpuDir}/cpu.cfs_quota_us`, "utf8").trim(), "200000");

  assert.ok((await listAllZones(client)).some((z) => z.id === zoneId));
  assert.equal((await client.resolveZoneId({ name: "lifecycle" })).zoneId, zoneId);
  assert.deepEqual((await client.resolveZoneIds({ name: "lifecycle" })).zoneIds, [zoneId]);
  assert.equal((await client.resolveZoneId({ name: "no-such-zone" })).zoneId, "");

  // The console replays the init's boot output, which names the shared kernel and the address.
  const consoleText = await readConsole(zoneId, true, 400);
  assert.match(consoleText, /shares the host kernel/);
  assert.match(consoleText, /init: eth0 198\.1[89]\./);
  assert.match(consoleText, /zone ready/);
  assert.equal(await readConsole(zoneId, false, 300), "", "without replay_history only new output arrives");

  await client.destroyZone({ zoneId });
  const deadline = Date.now() + 15_000;
  while ((await listAllZones(client)).some((z) => z.id === zoneId)) {
    assert.ok(Date.now() < deadline, "destroyed zone still listed");
    await new Promise((r) => setTimeout(r, 20));
  }
  await assert.rejects(
    client.getZone({ zoneId }),
    (err: unknown) => err instanceof ConnectError && err.code === Code.NotFound,
  );
  assert.deepEqual(cgroupDirsMatching(`zone-${short}`), []);
  assert.deepEqual(linksWithPrefix(iface.hostInterface), []);

  await new Promise((r) => setTimeout(r, 100));
  watch.abort();
  await watching;
  assert.deepEqual(
    seen.filter((e) => e.id === zoneId).map((e) => ZoneState[e.state]),
    ["CREATING", "CREATED", "READY", "READY", "DESTROYING", "DESTROYED"],
    "every transition is an event (the second READY is the resource update)",
  );
});

test("RPCs the dev host does not implement answer UNIMPLEMENTED", async () => {
  await assert.rejects(
    (async () => {
      for await (const _ of conn.client.snoopIdm({})) break;
    })(),
    (err: unknown) => err instanceof ConnectError && err.code === Code.Unimplemented,
  );
});

test("destroying an unknown zone is NOT_FOUND and a bad resource spec is INVALID_ARGUMENT", async () => {
  await assert.rejects(
    conn.client.destroyZone({ zoneId: "00000000-0000-0000-0000-000000000000" }),
    (err: unknown) => err instanceof ConnectError && err.code === Code.NotFound,
  );
  await assert.rejects(
    conn.client.createZone({ spec: { name: "tiny", initialResources: { targetMemory: 1n } } }),
    (err: unknown) => err instanceof ConnectError && err.code === Code.InvalidArgument,
  );
});

async function readConsole(zoneId: string, replay: boolean, ms: number): Promise<string> {
  const chunks: Buffer[] = [];
  async function* requests() {
    yield { zoneId, replayHistory: replay, data: new Uint8Array() };
    await new Promise((r) => setTimeout(r, ms + 1000));
  }
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), ms);
  try {
    for await (const reply of conn.client.attachZoneConsole(requests(), { signal: abort.signal }))
      chunks.push(Buffer.from(reply.data));
  } catch (err) {
    if (!(err instanceof ConnectError && err.code === Code.Canceled)) throw err;
  } finally {
    clearTimeout(timer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

test("a zone whose init dies on its own shows FAILED with the reason, and its sandbox is cleaned up", async () => {
  const { client } = conn;
  const { zoneId } = await client.createZone({ spec: { name: "crashing" } });
  const zone = await waitForZone(client, zoneId, [ZoneState.READY]);
  const record = JSON.parse(readFileSync(`${host.stateDir}/zones/${zoneId}.json`, "utf8")) as {
    runtime: { initPid: number };
  };
  process.kill(record.runtime.initPid, "SIGKILL");
  const failed = await waitForZone(client, zoneId, [ZoneState.FAILED]);
  assert.match(failed.status!.errorStatus!.message, /init exited unexpectedly/);
  const short = zoneId.replace(/-/g, "").slice(0, 12);
  const deadline = Date.now() + 5000;
  while (cgroupDirsMatching(`zone-${short}`).length > 0 && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(cgroupDirsMatching(`zone-${short}`), []);
  assert.deepEqual(linksWithPrefix(zone.status!.networkStatus!.interfaces[0]!.hostInterface), []);
  await client.destroyZone({ zoneId });
});
