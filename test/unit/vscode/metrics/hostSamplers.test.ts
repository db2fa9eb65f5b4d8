// One sampler per configured host, told about zones by the model (names, limits, removals), and
// gone with its host.
import { test } from "node:test";
import assert from "node:assert/strict";
import { silentLogger } from "../../../../extension/core/log";
import { ZoneState } from "../../../../extension/proto/gen/protect/control/v1/common_pb";
import { HostAccess } from "../../../../extension/vscode/hostAccess";
import type { HostConnections } from "../../../../extension/vscode/hostConnections";
import { HostSamplers } from "../../../../extension/vscode/metrics/hostSamplers";
import { parseHostEntry } from "../../../../extension/vscode/model/hostEntry";
import { ZonesModel } from "../../../../extension/vscode/model/zonesModel";
import { zone } from "../fixtures";

const a = "unix:///run/a.socket";
const b = "unix:///run/b.socket";

function setup() {
  const model = new ZonesModel();
  const connections = { session: () => undefined } as unknown as HostConnections;
  const samplers = new HostSamplers(model, new HostAccess(model, connections), silentLogger, 1000);
  return { model, samplers };
}

test("each configured host gets a sampler that learns zone names and limits from the model", () => {
  const { model, samplers } = setup();
  model.setHosts([parseHostEntry(a), parseHostEntry(b)]);
  assert.ok(samplers.sampler(a) && samplers.sampler(b));
  model.setConnection(a, { kind: "connected", info: { version: "1", devHost: true }, since: 0 });
  model.replaceAll(a, [zone("z1", "web", ZoneState.READY, { memoryMiB: 256 })], []);
  assert.equal(samplers.sampler(a)!.zoneName("z1"), "web");
  model.applyZone(a, zone("z1", "web-renamed"));
  assert.equal(samplers.sampler(a)!.zoneName("z1"), "web-renamed");
  assert.equal(samplers.sampler(b)!.zoneName("z1"), null, "hosts do not share zones");
  samplers.dispose();
});

test("a zone that leaves the host is forgotten; a removed host's sampler is disposed", () => {
  const { model, samplers } = setup();
  model.setHosts([parseHostEntry(a), parseHostEntry(b)]);
  model.setConnection(a, { kind: "connected", info: { version: "1", devHost: true }, since: 0 });
  model.replaceAll(a, [zone("z1", "web"), zone("z2", "db")], []);
  model.replaceAll(a, [zone("z2", "db")], []);
  assert.equal(samplers.sampler(a)!.zoneName("z1"), null);
  assert.equal(samplers.sampler(a)!.zoneName("z2"), "db");
  const old = samplers.sampler(b)!;
  model.setHosts([parseHostEntry(a)]);
  assert.equal(samplers.sampler(b), undefined);
  assert.equal(old.isDisposed, true);
  samplers.dispose();
});

test("the interval setting reaches every sampler; a subscribed zone on a host that is not connected records the error", async () => {
  const { model, samplers } = setup();
  model.setHosts([parseHostEntry(a)]);
  samplers.setIntervalMs(500);
  assert.equal(samplers.sampler(a)!.intervalMs, 500);
  const sub = samplers.sampler(a)!.subscribe("z9");
  await new Promise((r) => setTimeout(r, 20));
  const status = samplers.sampler(a)!.history("z9")!.status;
  assert.equal(status.state, "error");
  assert.match(status.state === "error" ? status.message : "", /not connected/);
  sub.dispose();
  samplers.dispose();
});
