// The extension's forward list against a model driven as WatchEvents would drive it: real local
// listeners, closed when their zone goes or their host is disconnected, kept while it reconnects.
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect, createServer } from "node:net";
import { silentLogger } from "../../../extension/core/log";
import { ZoneState } from "../../../extension/proto/gen/protect/control/v1/common_pb";
import { ZoneForwards } from "../../../extension/vscode/forwards";
import { HostAccess } from "../../../extension/vscode/hostAccess";
import type { HostConnections } from "../../../extension/vscode/hostConnections";
import { parseHostEntry } from "../../../extension/vscode/model/hostEntry";
import { ZonesModel } from "../../../extension/vscode/model/zonesModel";
import { zone } from "./fixtures";

const hostId = "unix:///run/dev.socket";
const info = { version: "0.1.0", devHost: true };

function setup() {
  const model = new ZonesModel();
  model.setHosts([parseHostEntry(hostId)]);
  model.setConnection(hostId, { kind: "connected", info, since: 0 });
  model.replaceAll(hostId, [zone("z1", "web"), zone("z2", "db")], []);
  // No connection is needed until something connects to a forward.
  const connections = { session: () => undefined } as unknown as HostConnections;
  const forwards = new ZoneForwards(model, new HostAccess(model, connections), silentLogger);
  return { model, forwards };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

async function until(probe: () => Promise<boolean> | boolean): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail("condition not reached");
}

test("a forward listens on loopback with the zone's name; the same zone port is not forwarded twice", async () => {
  const { forwards } = setup();
  const f = await forwards.open({ hostId, zoneId: "z1", zonePort: 8080, localPort: 0 });
  try {
    assert.equal(f.info.localAddress, "127.0.0.1");
    assert.ok(f.info.localPort > 0);
    assert.equal(f.zoneName, "web");
    assert.ok(await accepts(f.info.localPort));
    const again = await forwards.open({ hostId, zoneId: "z1", zonePort: 8080, localPort: 0 });
    assert.equal(again.id, f.id);
    assert.equal(forwards.list().length, 1);
  } finally {
    forwards.dispose();
  }
});

test("a taken local port falls back to a free one unless the port is required", async () => {
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", () => r()));
  const taken = (blocker.address() as { port: number }).port;
  const { forwards } = setup();
  try {
    const f = await forwards.open({ hostId, zoneId: "z1", zonePort: 80, localPort: taken });
    assert.notEqual(f.info.localPort, taken);
    await assert.rejects(
      forwards.open({ hostId, zoneId: "z2", zonePort: 80, localPort: taken, requireLocalPort: true }),
      (err: Error & { reason?: string }) => err.reason === "portInUse",
    );
  } finally {
    forwards.dispose();
    blocker.close();
  }
});

test("a zone's forwards close when the zone is destroyed; others stay", async () => {
  const { model, forwards } = setup();
  const web = await forwards.open({ hostId, zoneId: "z1", zonePort: 80, localPort: 0 });
  const db = await forwards.open({ hostId, zoneId: "z2", zonePort: 5432, localPort: 0 });
  try {
    model.applyZone(hostId, zone("z1", "web", ZoneState.DESTROYED));
    await until(() => forwards.list().length === 1);
    assert.equal(forwards.list()[0]!.id, db.id);
    await until(async () => !(await accepts(web.info.localPort)));
    assert.ok(await accepts(db.info.localPort));
  } finally {
    forwards.dispose();
  }
});

test("forwards survive a reconnect in progress, and close when the user disconnects the host", async () => {
  const { model, forwards } = setup();
  const f = await forwards.open({ hostId, zoneId: "z1", zonePort: 80, localPort: 0 });
  try {
    model.setConnection(hostId, { kind: "connecting", attempt: 1 });
    model.setConnection(hostId, { kind: "failed", message: "connection reset", retryAt: Date.now() + 1000 });
    assert.equal(forwards.list().length, 1, "a reconnect may bring the zone back");
    model.setConnection(hostId, { kind: "disconnected" });
    await until(() => forwards.list().length === 0);
    await until(async () => !(await accepts(f.info.localPort)));
  } finally {
    forwards.dispose();
  }
});
