// A webview cannot trigger an RPC with a forged message. The dashboard panel host is the one
// panel whose messages can reach the host (Resize → UpdateZoneResources); here it is wired to a
// real zone on the real dev host through a real sshd, and its webview side sends what a
// compromised page would: other zones' and hosts' ids, wrong types, out-of-range values,
// prototype tricks, host-side methods, floods. No forged message may cause an RPC or change any
// zone; a genuine Resize (the positive control) changes exactly the panel's own zone.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ProtectHost } from "../../../extension/core/protect/host";
import { MetricsSampler } from "../../../extension/core/metrics/sampler";
import { DashboardPanel } from "../../../extension/vscode/panels/dashboardPanel";
import type { DashboardDependencies } from "../../../extension/vscode/panels/dashboardPanel";
import { ZoneState } from "../../../extension/proto/gen/protect/control/v1/common_pb";
import type { Zone } from "../../../extension/proto/gen/protect/control/v1/common_pb";
import { startDevHost } from "../../harness/devHost";
import type { StartedDevHost } from "../../harness/devHost";
import { startSshd } from "../../harness/sshd";
import type { Sshd } from "../../harness/sshd";
import { fakeEnvironment } from "../../harness/fakeVscode";

let devHost: StartedDevHost;
let sshd: Sshd;
let host: ProtectHost;
let mine: string;
let other: string;

before(async () => {
  devHost = await startDevHost();
  sshd = await startSshd();
  host = await ProtectHost.open(sshd.alias, {
    configFile: sshd.sshConfigPath,
    env: {},
    socketPath: devHost.socketPath,
  });
  // One after the other: two CreateZone calls back to back can leave the first FAILED on the dev
  // host ("ip link add … RTNETLINK answers: File exists"), reported separately.
  const ready = async (name: string): Promise<string> => {
    const id = await host.createZone({
      name,
      initialResources: { targetCpus: 1, targetMemory: 256n, maxCpus: 2, maxMemory: 512n },
    });
    const zone = await host.waitForZone(
      id,
      (z) => z?.status?.state === ZoneState.READY || z?.status?.state === ZoneState.FAILED,
      { timeoutMs: 60_000 },
    );
    assert.equal(zone?.status?.state, ZoneState.READY, zone?.status?.errorStatus?.message);
    return id;
  };
  mine = await ready("panel-zone");
  other = await ready("other-zone");
});

after(async () => {
  try {
    for (const id of [mine, other]) await host?.destroyZone(id).catch(() => undefined);
  } finally {
    host?.close();
    await sshd?.stop();
    await devHost?.stop();
  }
});

/** What a zone's resources are right now, as the host reports them. */
async function resourcesOf(id: string): Promise<string> {
  const z: Zone = await host.getZone(id);
  const active = z.status?.resourceStatus?.activeResources ?? z.spec?.initialResources;
  return `${active?.targetCpus ?? "?"} cpu / ${active?.targetMemory ?? "?"} MiB`;
}

/** Deterministic pseudo-random values of every JSON shape, some deeply nested or huge. */
function* randomValues(seed: number, count: number): Generator<unknown> {
  let s = seed;
  const next = (): number => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const value = (depth: number): unknown => {
    const r = next();
    if (depth > 4 || r < 0.15) return Math.floor(next() * 2 ** 40) - 2 ** 39;
    if (r < 0.3) return "x".repeat(Math.floor(next() * 5000));
    if (r < 0.4) return null;
    if (r < 0.5) return next() < 0.5;
    if (r < 0.65) return Array.from({ length: Math.floor(next() * 5) }, () => value(depth + 1));
    const keys = [
      "method",
      "id",
      "params",
      "targetCpus",
      "targetMemoryMiB",
      "hostId",
      "zoneId",
      "__proto__",
      "constructor",
    ];
    return Object.fromEntries(
      Array.from({ length: Math.floor(next() * 5) }, () => [
        keys[Math.floor(next() * keys.length)]!,
        value(depth + 1),
      ]),
    );
  };
  for (let i = 0; i < count; i++) {
    const v = value(0);
    yield next() < 0.5 && v && typeof v === "object" && !Array.isArray(v)
      ? { method: "dashboard/resize", ...v }
      : v;
  }
}

describe("forged webview messages", () => {
  test("no forged message reaches UpdateZoneResources; a genuine Resize changes only the panel's own zone", async () => {
    const calls: { hostId: string; zoneId: string; cpus: number; memory: number }[] = [];
    const sampler = new MetricsSampler({
      readZoneMetrics: async (zoneId, signal) => await host.readZoneMetrics(zoneId, { signal }),
    });
    // The extension's wiring (ctx.ts): ProtectHost.resizeZone, UpdateZoneResources on the host.
    const deps: DashboardDependencies = {
      sampler: (hostId) => (hostId === sshd.alias ? sampler : undefined),
      resize: async (hostId, zoneId, cpus, memory, signal) => {
        calls.push({ hostId, zoneId, cpus, memory });
        await host.resizeZone(zoneId, cpus, memory, { signal });
      },
    };
    const { env, panels } = fakeEnvironment();
    const panel = DashboardPanel.create(env, deps, {
      target: { kind: "zone", hostId: sshd.alias, zoneId: mine },
      windowSeconds: 900,
    });
    const webview = panels[0]!.webview;
    try {
      webview.send({ method: "dashboard/ready", params: {} });
      const before = { mine: await resourcesOf(mine), other: await resourcesOf(other) };

      const forged: unknown[] = [
        // Someone else's zone, or another host, named in the message.
        { method: "dashboard/resize", id: 1, params: { targetCpus: 2, targetMemoryMiB: 512, zoneId: other } },
        {
          method: "dashboard/resize",
          id: 2,
          params: { targetCpus: 2, targetMemoryMiB: 512, hostId: "evil-host", zoneId: other },
        },
        {
          method: "dashboard/resize",
          id: 3,
          params: { targetCpus: 2, targetMemoryMiB: 512 },
          zoneId: other,
          hostId: "evil-host",
        },
        // Wrong types and values out of range.
        { method: "dashboard/resize", id: 4, params: { targetCpus: "2", targetMemoryMiB: 512 } },
        { method: "dashboard/resize", id: 5, params: { targetCpus: 2.5, targetMemoryMiB: 512 } },
        { method: "dashboard/resize", id: 6, params: { targetCpus: -1, targetMemoryMiB: 512 } },
        { method: "dashboard/resize", id: 7, params: { targetCpus: 1e9, targetMemoryMiB: 512 } },
        { method: "dashboard/resize", id: 8, params: { targetCpus: 2, targetMemoryMiB: Number.NaN } },
        { method: "dashboard/resize", id: 9, params: { targetCpus: 2, targetMemoryMiB: 1e12 } },
        { method: "dashboard/resize", id: -1, params: { targetCpus: 2, targetMemoryMiB: 512 } },
        { method: "dashboard/resize", id: "10", params: { targetCpus: 2, targetMemoryMiB: 512 } },
        { method: "dashboard/resize", params: { targetCpus: 2, targetMemoryMiB: 512 } },
        { method: "dashboard/resize", id: 11, params: null },
        { method: "dashboard/resize", id: 12, params: [2, 512] },
        // Prototype tricks and smuggled keys.
        JSON.parse(
          '{"method":"dashboard/resize","id":13,"params":{"__proto__":{"targetCpus":2,"targetMemoryMiB":512}}}',
        ),
        JSON.parse(
          '{"method":"dashboard/resize","id":14,"params":{"targetCpus":2,"targetMemoryMiB":512,"__proto__":{"zoneId":"x"}}}',
        ),
        {
          method: "dashboard/resize",
          id: 15,
          params: { targetCpus: 2, targetMemoryMiB: 512, constructor: { prototype: { zoneId: other } } },
        },
        // Host-side and unknown methods, and junk.
        { method: "dashboard/init", params: { target: { kind: "zone", hostId: "evil", zoneId: other } } },
        { method: "zones.zone.resize", params: [other, 2, 512] },
        { method: "dashboard/resize ", id: 16, params: { targetCpus: 2, targetMemoryMiB: 512 } },
        { method: "DASHBOARD/RESIZE", id: 17, params: { targetCpus: 2, targetMemoryMiB: 512 } },
        "dashboard/resize",
        42,
        null,
        undefined,
        [],
        {
          method: { toString: () => "dashboard/resize" },
          id: 18,
          params: { targetCpus: 2, targetMemoryMiB: 512 },
        },
      ];
      for (const message of forged) webview.send(message);
      for (const message of randomValues(7, 3000)) webview.send(message);
      // Give anything that slipped through time to reach the host.
      await new Promise((r) => setTimeout(r, 1_000));
      assert.deepEqual(calls, [], "a forged message caused an RPC");
      assert.equal(await resourcesOf(other), before.other, "another zone changed");
      assert.equal(
        await resourcesOf(mine),
        before.mine,
        "the panel's zone changed without a genuine request",
      );

      // Positive control: the genuine request goes through, for the panel's own zone only.
      webview.send({ method: "dashboard/resize", id: 99, params: { targetCpus: 2, targetMemoryMiB: 384 } });
      const deadline = Date.now() + 30_000;
      while (!webview.posted.some((m) => m.id === 99) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      const reply = webview.posted.find((m) => m.id === 99);
      assert.ok(reply, "no reply to the genuine resize");
      assert.deepEqual(calls, [{ hostId: sshd.alias, zoneId: mine, cpus: 2, memory: 384 }]);
      assert.equal(await resourcesOf(other), before.other, "the genuine resize touched another zone");
      assert.notEqual(
        await resourcesOf(mine),
        before.mine,
        `the genuine resize did not apply: ${JSON.stringify(reply)}`,
      );
    } finally {
      panel.dispose();
      sampler.dispose();
    }
  });
});
