// Without root the dev host cannot make namespaces or cgroups; zones are plain process groups.
// Forced here with --sandbox process (this machine runs tests as root), the mode must still be
// fully working and say what it is.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { ZoneState } from "../../../extension/proto/gen/protect/control/v1/common_pb";
import { startDevHost } from "../../harness/devHost";
import type { StartedDevHost } from "../../harness/devHost";
import { connectUnix } from "./client";
import type { UnixClient } from "./client";
import { listAllZones, runExec, waitForZone } from "./helpers";

let host: StartedDevHost;
let conn: UnixClient;

before(async () => {
  host = await startDevHost({ args: ["--sandbox", "process"] });
  conn = connectUnix(host.socketPath);
});

after(async () => {
  conn?.close();
  await host?.stop();
});

function processGroupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!(Number(entry) > 0)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]) === pgid) out.push(Number(entry));
    } catch {
      // gone
    }
  }
  return out;
}

test("process mode: zones say so, live at 127.0.0.1, run commands, and leave no process behind", async () => {
  const { zoneId } = await conn.client.createZone({ spec: { name: "plain" } });
  const zone = await waitForZone(conn.client, zoneId, [ZoneState.READY, ZoneState.FAILED]);
  assert.equal(zone.status!.state, ZoneState.READY, zone.status?.errorStatus?.message);
  const annotations = Object.fromEntries(zone.spec!.annotations.map((a) => [a.key, a.value]));
  assert.match(annotations["dev.styrolite.devhost/sandbox"] ?? "", /process group: no isolation/);
  assert.match(annotations["dev.styrolite.devhost/limits"] ?? "", /unlimited/);
  assert.equal(zone.status!.networkStatus!.interfaces[0]!.ips[0]!.address, "127.0.0.1/8");

  const r = await runExec(conn.client, zoneId, {
    command: ["sh", "-c", 'echo "$FOO"; sleep 30 & echo $!; exit 9'],
    env: { FOO: "plain $(x)" },
  });
  assert.equal(r.exitCode, 9);
  const [foo, bgPid] = r.stdout.trim().split("\n");
  assert.equal(foo, "plain $(x)");

  const { root } = await conn.client.readZoneMetrics({ zoneId });
  assert.ok(
    root!.children.find((c) => c.name === "system"),
    "metrics work without cgroups too",
  );

  const record = JSON.parse(readFileSync(`${host.stateDir}/zones/${zoneId}.json`, "utf8")) as {
    runtime: { wrapperPid: number };
  };
  assert.ok(
    processGroupMembers(record.runtime.wrapperPid).length > 0,
    "the zone init's process group is alive",
  );

  await conn.client.destroyZone({ zoneId });
  const deadline = Date.now() + 10_000;
  while ((await listAllZones(conn.client)).length > 0) {
    assert.ok(Date.now() < deadline);
    await new Promise((res) => setTimeout(res, 20));
  }
  assert.deepEqual(processGroupMembers(record.runtime.wrapperPid), [], "the init's group is gone");
  let bgState: string | undefined;
  try {
    const stat = readFileSync(`/proc/${bgPid}/stat`, "utf8");
    bgState = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
  } catch {
    bgState = undefined;
  }
  assert.ok(
    bgState === undefined || bgState === "Z",
    `a background process an exec left behind went with the zone (state ${bgState})`,
  );
});
