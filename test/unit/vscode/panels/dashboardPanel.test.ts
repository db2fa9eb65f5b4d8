import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import {
  MetricFormat,
  MetricNodeSchema,
  ZoneSchema,
  ZoneState,
  type MetricNode,
} from "../../../../extension/proto/gen/protect/control/v1/common_pb";
import { MetricsSampler } from "../../../../extension/core/metrics/sampler";
import {
  DashboardPanel,
  DashboardPanels,
  type DashboardDependencies,
} from "../../../../extension/vscode/panels/dashboardPanel";
import { renderWebviewHtml } from "../../../../extension/vscode/panels/panelHost";
import type { DashboardState } from "../../../../webview/dashboard/protocol";
import { FakeClock, settle } from "../../metrics/fakeClock";
import { asPanel, FakePanel, fakeEnvironment, randomValue, seededRandom } from "../../../harness/fakeVscode";

const num = (value: number) => create(ValueSchema, { kind: { case: "numberValue", value } });
const tree = (used: number): MetricNode =>
  create(MetricNodeSchema, {
    name: "zone",
    children: [
      {
        name: "system",
        children: [
          {
            name: "memory",
            children: [
              { name: "total", value: num(2000), format: MetricFormat.BYTES },
              { name: "used", value: num(used), format: MetricFormat.BYTES },
            ],
          },
        ],
      },
      {
        name: "process",
        children: [
          {
            name: "7",
            children: [
              {
                name: "executable",
                value: create(ValueSchema, { kind: { case: "stringValue", value: "/bin/burn" } }),
              },
              { name: "parent", value: num(1) },
            ],
          },
        ],
      },
    ],
  });

function setup(target: DashboardState["target"] = { kind: "zone", hostId: "devhost", zoneId: "z1" }) {
  const clock = new FakeClock();
  let reads = 0;
  const sampler = new MetricsSampler({
    readZoneMetrics: async () => tree(100 + reads++),
    clock,
    capacity: 3600,
  });
  const resizes: { hostId: string; zoneId: string; cpus: number; memory: number }[] = [];
  let resizeImpl = async (): Promise<void> => {};
  const deps: DashboardDependencies = {
    sampler: (hostId) => (hostId === "devhost" ? sampler : undefined),
    resize: async (hostId, zoneId, cpus, memory) => {
      resizes.push({ hostId, zoneId, cpus, memory });
      await resizeImpl();
    },
  };
  const { env, panels, logs } = fakeEnvironment();
  const panel = DashboardPanel.create(env, deps, { target, windowSeconds: 900 });
  const fake = panels[0]!;
  return {
    clock,
    sampler,
    deps,
    env,
    panel,
    fake,
    logs,
    resizes,
    reads: () => reads,
    setResize: (impl: () => Promise<void>) => (resizeImpl = impl),
  };
}

describe("DashboardPanel", () => {
  it("serves a page with a strict CSP, a nonce'd script and no data in the HTML", () => {
    const { fake, panel, sampler } = setup({ kind: "zone", hostId: "devhost", zoneId: "zone-secret-id" });
    const html = fake.webview.html;
    const csp = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(html)![1]!;
    assert.match(csp, /default-src 'none'/);
    const nonce = /script-src 'nonce-([A-Za-z0-9+/=]+)'/.exec(csp)![1]!;
    assert.equal(Buffer.from(nonce, "base64").length, 16);
    assert.ok(
      html.includes(`<script nonce="${nonce}" src="https://ext/webview.test/ext/dist/webview/dashboard.js">`),
    );
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.match(csp, /style-src https:\/\/webview\.test(;|$)/);
    assert.ok(!html.includes("zone-secret-id"), "the target travels by message, not in the page");
    assert.equal((html.match(/<script/g) ?? []).length, 1, "one script, no inline code");
    const options = fake.webview.options as unknown as {
      localResourceRoots: { path: string }[];
      enableScripts: boolean;
    };
    assert.deepEqual(
      options.localResourceRoots.map((u) => u.path),
      ["/ext/dist/webview", "/ext/media"],
    );
    // A second panel gets a different nonce.
    const other = setup();
    assert.notEqual(/nonce-([^']+)'/.exec(other.fake.webview.html)![1], nonce);
    panel.dispose();
    other.panel.dispose();
    sampler.dispose();
  });

  it("holds everything until ready, then sends the history and streams what follows", async () => {
    const { clock, fake, panel, sampler } = setup();
    await clock.advance(3000);
    assert.equal(fake.webview.posted.length, 0, "nothing before ready");
    fake.webview.send({ method: "dashboard/ready", params: {} });
    const init = fake.webview.ofMethod("dashboard/init")[0]!;
    assert.equal(init.params.series.times.length, 4);
    assert.deepEqual(init.params.series.columns["mem.used"], [100, 101, 102, 103]);
    assert.equal(init.params.canResize, true);
    assert.deepEqual(init.params.state, {
      target: { kind: "zone", hostId: "devhost", zoneId: "z1" },
      windowSeconds: 900,
    });
    assert.deepEqual(init.params.processes, [
      { pid: 7, command: "/bin/burn", residentBytes: null, lifetimeSeconds: null },
    ]);
    await clock.advance(1000);
    const samples = fake.webview.ofMethod("dashboard/samples");
    assert.equal(samples.length, 1);
    assert.deepEqual(samples[0]!.params.series.columns["mem.used"], [104]);
    assert.equal(samples[0]!.params.series.columns["cpu"][0], null, "NaN travels as null");
    panel.dispose();
    sampler.dispose();
  });

  it("forwards limits and markers from zone events", async () => {
    const { fake, panel, sampler } = setup();
    fake.webview.send({ method: "dashboard/ready", params: {} });
    const zone = (targetMemory: bigint) =>
      create(ZoneSchema, {
        id: "z1",
        spec: { name: "web" },
        status: {
          state: ZoneState.READY,
          resourceStatus: { activeResources: { targetMemory, maxMemory: 2048n, targetCpus: 2 } },
        },
      });
    sampler.noteZone(zone(512n));
    sampler.noteZone(zone(1024n));
    const limits = fake.webview
      .ofMethod("dashboard/limits")
      .map((m) => m.params.limits.targetMemoryBytes as number);
    assert.deepEqual(limits, [512 * 2 ** 20, 1024 * 2 ** 20]);
    assert.equal(fake.webview.ofMethod("dashboard/marker")[0]!.params.marker.kind, "resize");
    panel.dispose();
    sampler.dispose();
  });

  it("turns a valid Resize into one resize call and answers it; refuses overlapping ones", async () => {
    const { fake, panel, sampler, resizes, setResize } = setup();
    fake.webview.send({ method: "dashboard/ready", params: {} });
    let release!: () => void;
    setResize(() => new Promise<void>((r) => (release = r)));
    fake.webview.send({
      method: "dashboard/resize",
      id: 1,
      params: { targetCpus: 2, targetMemoryMiB: 1024 },
    });
    fake.webview.send({
      method: "dashboard/resize",
      id: 2,
      params: { targetCpus: 3, targetMemoryMiB: 1024 },
    });
    await settle();
    assert.deepEqual(resizes, [{ hostId: "devhost", zoneId: "z1", cpus: 2, memory: 1024 }]);
    release();
    await settle();
    const replies = fake.webview.ofMethod("dashboard/resize/response");
    assert.deepEqual(
      replies.map((r) => [r.id, r.params.ok as boolean]),
      [
        [2, false],
        [1, true],
      ],
    );
    assert.match(replies[0]!.params.message as string, /already in progress/);
    setResize(() => Promise.reject(new Error("zone is not running")));
    fake.webview.send({ method: "dashboard/resize", id: 3, params: { targetCpus: 1, targetMemoryMiB: 512 } });
    await settle();
    assert.deepEqual(fake.webview.ofMethod("dashboard/resize/response").at(-1), {
      method: "dashboard/resize/response",
      id: 3,
      params: { ok: false, message: "Resize failed: zone is not running" },
    });
    panel.dispose();
    sampler.dispose();
  });

  it("posts nothing while hidden and starts over with init when shown again", async () => {
    const { clock, fake, panel, sampler } = setup();
    fake.webview.send({ method: "dashboard/ready", params: {} });
    fake.setVisible(false);
    const before = fake.webview.posted.length;
    await clock.advance(5000);
    assert.equal(fake.webview.posted.length, before, "a hidden panel costs no messages");
    fake.setVisible(true);
    fake.webview.send({ method: "dashboard/ready", params: {} });
    const inits = fake.webview.ofMethod("dashboard/init");
    assert.equal(inits.length, 2);
    assert.equal(
      inits[1]!.params.series.times.length,
      6,
      "the new document gets the history sampled meanwhile",
    );
    panel.dispose();
    sampler.dispose();
  });

  it("stops sampling when the panel closes, keeps the history for the next one", async () => {
    const { clock, fake, panel, sampler, env, deps } = setup();
    await clock.advance(2000);
    assert.ok(sampler.isSampling("z1"));
    fake.dispose(); // the user closes the tab
    assert.ok(panel.isDisposed);
    assert.equal(sampler.isSampling("z1"), false);
    const again = DashboardPanel.create(env, deps, {
      target: { kind: "zone", hostId: "devhost", zoneId: "z1" },
      windowSeconds: 60,
    });
    assert.ok(sampler.isSampling("z1"));
    assert.ok(sampler.history("z1")!.ring.length >= 3, "the reopened panel finds the earlier samples");
    again.dispose();
    sampler.dispose();
  });

  it("holds a reply that arrives while the webview is gone and delivers it after the next init", async () => {
    const { fake, panel, sampler, setResize } = setup();
    fake.webview.send({ method: "dashboard/ready", params: {} });
    let release!: () => void;
    setResize(() => new Promise<void>((r) => (release = r)));
    fake.webview.send({
      method: "dashboard/resize",
      id: 5,
      params: { targetCpus: 2, targetMemoryMiB: 1024 },
    });
    fake.setVisible(false);
    release();
    await settle();
    assert.equal(
      fake.webview.ofMethod("dashboard/resize/response").length,
      0,
      "held while there is no document",
    );
    fake.setVisible(true);
    fake.webview.send({ method: "dashboard/ready", params: {} });
    const methods = fake.webview.posted.map((m) => m.method);
    assert.deepEqual(methods.slice(-2), ["dashboard/init", "dashboard/resize/response"]);
    panel.dispose();
    sampler.dispose();
  });

  it("tells the webview when the host is unknown instead of failing", () => {
    const { env, panels } = fakeEnvironment();
    const panel = DashboardPanel.create(
      env,
      { sampler: () => undefined, resize: async () => {} },
      { target: { kind: "host", hostId: "gone" }, windowSeconds: 60 },
    );
    panels[0]!.webview.send({ method: "dashboard/ready", params: {} });
    const init = panels[0]!.webview.ofMethod("dashboard/init")[0]!;
    assert.deepEqual(init.params.status, { state: "error", message: "Host gone is not configured." });
    assert.equal(init.params.canResize, false);
    panel.dispose();
  });

  it("restores a panel from valid persisted state and closes one with bad state", async () => {
    const { env } = fakeEnvironment();
    const clock = new FakeClock();
    const sampler = new MetricsSampler({ readZoneMetrics: async () => tree(1), clock });
    const panels = new DashboardPanels(env, { sampler: () => sampler, resize: async () => {} });
    const good = new FakePanel(DashboardPanel.viewType, "old", {});
    await panels.serializer.deserializeWebviewPanel(asPanel(good), {
      target: { kind: "zone", hostId: "h", zoneId: "z9" },
      windowSeconds: 3600,
    });
    assert.equal(good.disposed, false);
    assert.ok(sampler.isSampling("z9"));
    assert.equal(panels.openPanels.length, 1);
    for (const bad of [
      undefined,
      null,
      { target: { kind: "zone", hostId: "h" } },
      { target: { kind: "host", hostId: "h" }, windowSeconds: 5 },
      { target: { kind: "host", hostId: "h" }, windowSeconds: 60, samples: [1, 2] },
    ]) {
      const panel = new FakePanel(DashboardPanel.viewType, "old", {});
      await panels.serializer.deserializeWebviewPanel(asPanel(panel), bad);
      assert.equal(panel.disposed, true, `state ${JSON.stringify(bad)} is refused`);
    }
    // show() reveals the open panel rather than opening a second
    const shown = panels.show({ kind: "zone", hostId: "h", zoneId: "z9" });
    assert.equal(good.revealed, 1);
    assert.equal(panels.openPanels.length, 1);
    void shown;
    panels.dispose();
    assert.equal(good.disposed, true);
    assert.equal(sampler.isSampling("z9"), false);
    sampler.dispose();
  });

  it("a dev host zone's dashboard says what isolates it: a VM with its accelerator, or the shared kernel", () => {
    const { env, panels: created } = fakeEnvironment();
    const sampler = new MetricsSampler({ readZoneMetrics: async () => tree(1), clock: new FakeClock() });
    const panels = new DashboardPanels(env, {
      sampler: () => sampler,
      resize: async () => {},
      hostLabel: () => "dev",
    });
    const note = (id: string, isolation: string) =>
      sampler.noteZone(
        create(ZoneSchema, {
          id,
          spec: {
            name: id,
            annotations: [
              { key: "dev.styrolite.devhost", value: "true" },
              { key: "dev.styrolite.devhost/isolation", value: isolation },
            ],
          },
          status: { state: ZoneState.READY },
        }),
      );
    note("vmzone", "vm-tcg");
    note("nszone", "namespaces");
    panels.show({ kind: "zone", hostId: "h", zoneId: "vmzone" });
    panels.show({ kind: "zone", hostId: "h", zoneId: "nszone" });
    assert.deepEqual(
      created.map((p) => p.title),
      ["Resources: vmzone (dev) · VM · TCG", "Resources: nszone (dev) · shared kernel"],
    );
    panels.dispose();
    sampler.dispose();
  });

  it("a restored panel keeps its saved title until the zone's name is known, then names tab and page", async () => {
    const { env, panels: created } = fakeEnvironment();
    const clock = new FakeClock();
    const sampler = new MetricsSampler({ readZoneMetrics: async () => tree(1), clock });
    const panels = new DashboardPanels(env, {
      sampler: () => sampler,
      resize: async () => {},
      hostLabel: () => "web1",
    });
    const restored = new FakePanel(DashboardPanel.viewType, "Resources: api (web1)", {});
    await panels.serializer.deserializeWebviewPanel(asPanel(restored), {
      target: { kind: "zone", hostId: "h", zoneId: "z9" },
      windowSeconds: 900,
    });
    assert.equal(
      restored.title,
      "Resources: api (web1)",
      "not replaced by the zone id while the host is not listed yet",
    );
    restored.webview.send({ method: "dashboard/ready", params: {} });
    assert.equal(restored.webview.ofMethod("dashboard/init")[0]!.params.title, "Resources: api (web1)");
    // The host is listed (the zone was renamed meanwhile): tab and page follow.
    sampler.noteZone(
      create(ZoneSchema, {
        id: "z9",
        spec: { name: "api-v2" },
        status: {
          state: ZoneState.READY,
          resourceStatus: { activeResources: { targetMemory: 256n, maxMemory: 512n, targetCpus: 1 } },
        },
      }),
    );
    assert.equal(restored.title, "Resources: api-v2 (web1)");
    assert.deepEqual(
      restored.webview.ofMethod("dashboard/title").map((m) => m.params as unknown),
      [{ title: "Resources: api-v2 (web1)" }],
    );
    // A new panel for a zone nobody has named is titled by its id.
    panels.show({ kind: "zone", hostId: "h", zoneId: "0123456789abcdef" });
    assert.equal(created[0]!.title, "Resources: 01234567 (web1)");
    panels.dispose();
    sampler.dispose();
  });

  it("escapes what goes into the page", () => {
    const html = renderWebviewHtml({
      title: "<x>",
      nonce: 'a"b',
      cspSource: "https://s",
      scriptUri: 'https://s/a.js"onload="x',
      styleUris: [],
    });
    assert.ok(!html.includes('"onload="'));
    assert.ok(html.includes("&lt;x&gt;"));
  });
});

/** Valid by the protocol's rules, checked by hand — the oracle the fuzz test filters against. */
function validByHand(m: unknown): boolean {
  if (typeof m !== "object" || m === null || Array.isArray(m)) return false;
  const o = m as Record<string, unknown>;
  const keys = Object.keys(o).sort().join();
  const p = o["params"] as Record<string, unknown> | undefined;
  const plain = (v: unknown): v is Record<string, unknown> =>
    typeof v === "object" && v !== null && !Array.isArray(v);
  if (o["method"] === "dashboard/ready")
    return keys === "method,params" && plain(p) && Object.keys(p).length === 0;
  if (o["method"] === "dashboard/windowChanged")
    return (
      keys === "method,params" &&
      plain(p) &&
      Object.keys(p).join() === "windowSeconds" &&
      [60, 900, 3600].includes(p["windowSeconds"] as number)
    );
  if (o["method"] === "dashboard/resize") {
    const int = (v: unknown, lo: number, hi: number) =>
      typeof v === "number" && Number.isInteger(v) && v >= lo && v <= hi;
    return (
      keys === "id,method,params" &&
      int(o["id"], 0, Number.MAX_SAFE_INTEGER) &&
      plain(p) &&
      Object.keys(p).sort().join() === "targetCpus,targetMemoryMiB" &&
      int(p["targetCpus"], 1, 256) &&
      int(p["targetMemoryMiB"], 32, 4 * 1024 * 1024)
    );
  }
  return false;
}

/** A message built from a valid one and then broken in one random way. */
function mutated(rand: () => number): unknown {
  const bases = [
    () => ({ method: "dashboard/ready", params: {} as Record<string, unknown> }),
    () => ({ method: "dashboard/windowChanged", params: { windowSeconds: 900 } as Record<string, unknown> }),
    () => ({
      method: "dashboard/resize",
      id: 1,
      params: { targetCpus: 2, targetMemoryMiB: 1024 } as Record<string, unknown>,
    }),
  ];
  const m: Record<string, unknown> = bases[Math.floor(rand() * bases.length)]!();
  const params = m["params"] as Record<string, unknown>;
  const bad = [
    0,
    -1,
    1.5,
    257,
    NaN,
    Infinity,
    -Infinity,
    "2",
    null,
    true,
    [],
    {},
    2 ** 60,
    31,
    4 * 1024 * 1024 + 1,
    61,
    "900",
  ];
  const badValue = () => bad[Math.floor(rand() * bad.length)];
  switch (Math.floor(rand() * 9)) {
    case 0:
      delete m["params"];
      break;
    case 1:
      m["params"] = [null, 1, "x", [], true][Math.floor(rand() * 5)];
      break;
    case 2:
      m["extra"] = randomValue(rand);
      break;
    case 3:
      params["extra"] = randomValue(rand);
      break;
    case 4:
      m["method"] = [
        "",
        "dashboard/Ready",
        "dashboard/resize/response",
        "dashboard/init",
        "console/input",
        "__proto__",
      ][Math.floor(rand() * 6)];
      break;
    case 5:
      m["id"] = badValue();
      break;
    case 6:
      for (const k of Object.keys(params)) params[k] = badValue();
      break;
    case 7:
      return JSON.parse(
        `{"__proto__":{"isAdmin":true},"method":${JSON.stringify(m["method"])},"params":{"__proto__":{"x":1}}}`,
      );
    default:
      return randomValue(rand);
  }
  return m;
}

describe("DashboardPanel fuzz", () => {
  it("survives 10 000 random and malformed messages without acting on any", async () => {
    const { fake, panel, sampler, resizes, logs, reads } = setup();
    await settle();
    const readsBefore = reads();
    const rand = seededRandom(20250601);
    let sent = 0;
    let skipped = 0;
    while (sent < 10_000) {
      const message = mutated(rand);
      if (validByHand(message)) {
        skipped++;
        continue;
      }
      assert.doesNotThrow(() => panel.handleMessage(message));
      fake.webview.send(message); // and through the real event path
      sent++;
    }
    await settle();
    assert.equal(resizes.length, 0, "no resize for an invalid message");
    assert.equal(fake.webview.posted.length, 0, "no init for a malformed ready, nothing held released");
    assert.equal(reads(), readsBefore, "no extra metric reads");
    const warnings = logs.filter((l) => l.startsWith("warn:"));
    assert.ok(
      warnings.length > 0 && warnings.length < 60,
      `${warnings.length} warning lines for 20 000 bad messages`,
    );
    assert.ok(
      warnings.every((l) => l.length < 300),
      "log lines carry no payloads",
    );
    // still alive and correct afterwards
    fake.webview.send({ method: "dashboard/ready", params: {} });
    fake.webview.send({
      method: "dashboard/resize",
      id: 9,
      params: { targetCpus: 4, targetMemoryMiB: 2048 },
    });
    await settle();
    assert.equal(fake.webview.ofMethod("dashboard/init").length, 1);
    assert.equal(resizes.length, 1);
    assert.ok(skipped < 500);
    panel.dispose();
    sampler.dispose();
  });
});
