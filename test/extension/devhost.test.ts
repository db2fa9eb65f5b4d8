/**
 * The packaged extension against the dev host through a real sshd (set up by test/e2e/run.ts):
 * the host connects over SSH, zones created or destroyed by another client appear and vanish
 * through WatchEvents alone, commands act on tree nodes, and Disconnect / Connect re-list.
 */
import * as assert from "node:assert/strict";
import * as vscode from "vscode";
import { ProtectHost } from "../../extension/core/protect/host";
import { ZoneState } from "../../extension/proto/gen/protect/control/v1/common_pb";
import type { ZonesApi } from "../../extension/vscode/ctx";
import type { ZonesNode } from "../../extension/vscode/tree/nodes";
import { zoneIp } from "../../extension/core/protect/zoneFacts";

// The extension's classes live in its own bundle, so nodes are recognised by their `kind`.
const isZone = (n: ZonesNode, id: string): boolean => n.kind === "zone" && n.zoneId === id;

const alias = process.env.ZONES_TEST_HOST_ID;
const socket = process.env.ZONES_TEST_DEVHOST_SOCKET;

async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

suite("dev host (over ssh unless ZONES_E2E_TRANSPORT=unix)", function () {
  let zones: ZonesApi;
  let other: ProtectHost;
  const created: string[] = [];

  suiteSetup(async function () {
    if (!alias || !socket) this.skip();
    zones = await vscode.extensions.getExtension<ZonesApi>("styrolite.styrolite-zones")!.activate();
    await zones.ready; // the services (terminals, launches, panels) load just after activation
    // Another client on the same host, like zonectl in a terminal: the extension never hears of it.
    other = await ProtectHost.open(`unix://${socket}`);
  });

  suiteTeardown(async () => {
    for (const id of created) await other?.destroyZone(id).catch(() => undefined);
    other?.close();
  });

  test("the host connects and says it is a dev host", async () => {
    const started = Date.now();
    const record = await until("connected", () => {
      const h = zones.model.host(alias!);
      return h?.connection.kind === "connected" ? h : undefined;
    });
    console.log(
      `    (tree populated ${zones.populatedAfterMs ?? "?"} ms after activation; connected ${Date.now() - started} ms after the suite asked)`,
    );
    assert.equal(record.connection.kind === "connected" && record.connection.info.devHost, true);
    const hostNode = zones.tree.getChildren().find((n) => n.kind === "host" && n.hostId === alias);
    assert.ok(hostNode, "the host is a root of the tree");
    assert.match(String(zones.tree.getTreeItem(hostNode).description), /^dev host /);
  });

  test("a zone created behind the extension's back appears within a second, then goes when destroyed", async () => {
    await until("connected", () => zones.model.host(alias!)?.connection.kind === "connected");
    const started = Date.now();
    const id = await other.createZone({
      name: "behind-your-back",
      initialResources: { targetCpus: 1, maxCpus: 1, targetMemory: 128n, maxMemory: 128n },
    });
    created.push(id);
    await until("the zone in the model", () => zones.model.zone(alias!, id), 5000);
    const appearedMs = Date.now() - started;
    console.log(`    (zone appeared ${appearedMs} ms after CreateZone returned)`);
    assert.ok(appearedMs < 1500, `took ${appearedMs} ms`);
    const ready = await until("READY", () => {
      const z = zones.model.zone(alias!, id);
      return z?.status?.state === ZoneState.READY ? z : undefined;
    });
    const hostNode = zones.tree.find(`host:${alias}`)!;
    const zoneNode = zones.tree.getChildren(hostNode).find((n) => isZone(n, id));
    assert.ok(zoneNode, "the zone is under its host in the tree");
    const item = zones.tree.getTreeItem(zoneNode);
    assert.equal(item.label, "behind-your-back");
    assert.equal(item.contextValue, "zone:ready");
    assert.match(String(item.description), /\d+\.\d+\.\d+\.\d+ · 1 vCPU · 128 MiB · shared kernel/);

    await vscode.commands.executeCommand("zones.zone.copyIp", zoneNode);
    assert.equal(await vscode.env.clipboard.readText(), zoneIp(ready));
    await vscode.commands.executeCommand("zones.item.copyId", zoneNode);
    assert.equal(await vscode.env.clipboard.readText(), id);

    await other.destroyZone(id);
    await until("the zone gone from the model", () => !zones.model.zone(alias!, id), 10_000);
    assert.ok(!zones.tree.getChildren(hostNode).some((n) => isZone(n, id)));
  });

  test("Disconnect closes the host; Connect re-lists and shows what changed meanwhile", async () => {
    await until("connected", () => zones.model.host(alias!)?.connection.kind === "connected");
    await vscode.commands.executeCommand("zones.host.disconnect", alias);
    assert.equal(zones.model.host(alias!)?.connection.kind, "disconnected");
    const id = await other.createZone({
      name: "while-away",
      initialResources: { targetCpus: 1, targetMemory: 128n },
    });
    created.push(id);
    await vscode.commands.executeCommand("zones.host.connect", alias);
    await until(
      "re-listed with the new zone",
      () => zones.model.host(alias!)?.connection.kind === "connected" && zones.model.zone(alias!, id),
    );
  });
});
