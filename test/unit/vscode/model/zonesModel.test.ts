import { test } from "node:test";
import assert from "node:assert/strict";
import { WorkloadState, ZoneState } from "../../../../extension/proto/gen/protect/control/v1/common_pb";
import { parseHostEntry } from "../../../../extension/vscode/model/hostEntry";
import { ZonesModel } from "../../../../extension/vscode/model/zonesModel";
import type { ModelChange } from "../../../../extension/vscode/model/zonesModel";
import { workload, zone } from "../fixtures";

const info = { version: "1.0.0", devHost: true };

function connectedModel(): { model: ZonesModel; changes: ModelChange[] } {
  const model = new ZonesModel();
  model.setHosts([parseHostEntry("unix:///run/a.socket")]);
  model.setConnection("unix:///run/a.socket", { kind: "connected", info, since: 0 });
  const changes: ModelChange[] = [];
  model.onDidChange((c) => changes.push(c));
  return { model, changes };
}
const host = "unix:///run/a.socket";

test("lists zones by name and workloads under their zone", () => {
  const { model } = connectedModel();
  model.replaceAll(
    host,
    [zone("z2", "beta"), zone("z1", "alpha")],
    [workload("w1", "z1", "app"), workload("w2", "z2", "db")],
  );
  assert.deepEqual(
    model.zones(host).map((z) => z.spec?.name),
    ["alpha", "beta"],
  );
  assert.deepEqual(
    model.workloads(host, "z1").map((w) => w.id),
    ["w1"],
  );
  assert.equal(model.zoneCount(), 2);
});

test("a destroyed zone disappears with its workloads; the host scope changes", () => {
  const { model, changes } = connectedModel();
  model.replaceAll(host, [zone("z1", "alpha")], [workload("w1", "z1", "app")]);
  changes.length = 0;
  model.applyZone(host, zone("z1", "alpha", ZoneState.DESTROYED));
  assert.equal(model.zones(host).length, 0);
  assert.equal(model.workload(host, "w1"), undefined);
  assert.deepEqual(changes, [{ scope: "host", hostId: host }]);
});

test("a new zone from an event changes the host; a changed zone only that zone", () => {
  const { model, changes } = connectedModel();
  model.applyZone(host, zone("z1", "alpha", ZoneState.CREATING));
  model.applyZone(host, zone("z1", "alpha", ZoneState.READY));
  assert.deepEqual(changes, [
    { scope: "host", hostId: host },
    { scope: "zone", hostId: host, zoneId: "z1" },
  ]);
  assert.equal(model.zone(host, "z1")?.status?.state, ZoneState.READY);
});

test("a workload event changes its zone", () => {
  const { model, changes } = connectedModel();
  model.replaceAll(host, [zone("z1", "alpha")], []);
  changes.length = 0;
  model.applyWorkload(host, workload("w1", "z1", "app", WorkloadState.CREATING));
  model.applyWorkload(host, workload("w1", "z1", "app", WorkloadState.DESTROYED));
  assert.deepEqual(changes, [
    { scope: "zone", hostId: host, zoneId: "z1" },
    { scope: "zone", hostId: host, zoneId: "z1" },
  ]);
  assert.equal(model.workloads(host, "z1").length, 0);
});

test("re-listing reconciles: missing zones go, unchanged zones fire nothing", () => {
  const { model, changes } = connectedModel();
  model.replaceAll(host, [zone("z1", "alpha"), zone("z2", "beta")], []);
  changes.length = 0;
  model.replaceAll(host, [zone("z1", "alpha"), zone("z2", "beta")], []);
  assert.deepEqual(changes, [], "identical lists change nothing");
  model.replaceAll(host, [zone("z2", "beta")], []);
  assert.deepEqual(
    model.zones(host).map((z) => z.id),
    ["z2"],
  );
  assert.deepEqual(changes, [{ scope: "host", hostId: host }]);
  changes.length = 0;
  model.replaceAll(host, [zone("z2", "beta", ZoneState.FAILED)], []);
  assert.deepEqual(changes, [{ scope: "zone", hostId: host, zoneId: "z2" }]);
});

test("events for a host that is not connected are ignored; failing clears its zones", () => {
  const { model } = connectedModel();
  model.replaceAll(host, [zone("z1", "alpha")], []);
  model.setConnection(host, { kind: "failed", message: "lost" });
  assert.equal(model.zones(host).length, 0);
  model.applyZone(host, zone("z9", "late"));
  assert.equal(model.zones(host).length, 0);
  assert.equal(model.zoneCount(), 0);
});

test("setHosts keeps known hosts, drops removed ones, and keeps the configured order", () => {
  const { model, changes } = connectedModel();
  model.setHosts([parseHostEntry("alice@example.com"), parseHostEntry(host)]);
  assert.deepEqual(
    model.hosts().map((h) => h.entry.id),
    ["alice@example.com", host],
  );
  assert.equal(model.host(host)?.connection.kind, "connected");
  assert.equal(model.host("alice@example.com")?.connection.kind, "disconnected");
  model.setHosts([parseHostEntry("alice@example.com")]);
  assert.equal(model.host(host), undefined);
  assert.deepEqual(changes, [{ scope: "hosts" }, { scope: "hosts" }]);
});
