/**
 * The tree provider over a model, with VS Code's real TreeItem, ThemeIcon and MarkdownString:
 * what each node shows, which refreshes a burst of events causes, and host failure actions.
 */
import * as assert from "node:assert/strict";
import * as vscode from "vscode";
import { WorkloadState, ZoneState } from "../../extension/proto/gen/protect/control/v1/common_pb";
import { parseHostEntry } from "../../extension/vscode/model/hostEntry";
import { ZonesModel } from "../../extension/vscode/model/zonesModel";
import { HostNode, ZoneNode } from "../../extension/vscode/tree/nodes";
import type { ZonesNode } from "../../extension/vscode/tree/nodes";
import { ZonesTreeProvider } from "../../extension/vscode/tree/zonesTree";
import { workload, zone } from "../unit/vscode/fixtures";

const sshHost = "root@zones.example.com";
const socketHost = "unix:///run/dev.socket";

function setup(): {
  model: ZonesModel;
  tree: ZonesTreeProvider;
  changes: (ZonesNode | ZonesNode[] | undefined)[];
} {
  const model = new ZonesModel();
  model.setHosts([parseHostEntry(sshHost), parseHostEntry(socketHost)]);
  const tree = new ZonesTreeProvider(model);
  const changes: (ZonesNode | ZonesNode[] | undefined)[] = [];
  tree.onDidChangeTreeData((c) => changes.push(c ?? undefined));
  return { model, tree, changes };
}

const item = (tree: ZonesTreeProvider, node: ZonesNode): vscode.TreeItem => tree.getTreeItem(node);
const label = (i: vscode.TreeItem): string =>
  typeof i.label === "string" ? i.label : (i.label?.label ?? "");
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 120));

suite("zones tree", () => {
  test("a connected host shows its version and its zones with state, IP and resources", () => {
    const { model, tree } = setup();
    model.setConnection(sshHost, {
      kind: "connected",
      info: { version: "1.4.2", devHost: false },
      since: Date.now(),
    });
    model.replaceAll(
      sshHost,
      [
        zone("z1", "web", ZoneState.READY, { ip: "10.75.0.2", cpus: 2, memoryMiB: 2048 }),
        zone("z2", "build", ZoneState.FAILED),
      ],
      [workload("w1", "z1", "app")],
    );
    const [hostNode] = tree.getChildren();
    assert.ok(hostNode instanceof HostNode);
    const hostItem = item(tree, hostNode);
    assert.equal(hostItem.description, "Protect 1.4.2");
    assert.equal(hostItem.contextValue, "host:connected");
    const zones = tree.getChildren(hostNode);
    assert.deepEqual(
      zones.map((z) => label(item(tree, z))),
      ["build", "web"],
    );
    const web = item(tree, zones[1]!);
    assert.equal(web.description, "10.75.0.2 · 2 vCPU · 2 GiB");
    assert.equal(web.contextValue, "zone:ready");
    assert.equal((web.iconPath as vscode.ThemeIcon).id, "vm-running");
    assert.ok(web.tooltip instanceof vscode.MarkdownString);
    assert.match(web.tooltip.value, /z1/);
    assert.equal(item(tree, zones[0]!).contextValue, "zone:failed");
    assert.equal(web.collapsibleState, vscode.TreeItemCollapsibleState.Expanded);
    const [app] = tree.getChildren(zones[1]);
    assert.equal(item(tree, app!).contextValue, "workload:running");
    assert.match(String(item(tree, app!).description), /sha256:0123456789ab · running/);
    assert.equal(tree.getParent(app!), zones[1]);
    assert.equal(tree.getParent(zones[1]!), hostNode);
  });

  test("host-supplied names cannot inject Markdown into tooltips", () => {
    const { model, tree } = setup();
    model.setConnection(sshHost, { kind: "connected", info: { version: "1", devHost: false }, since: 0 });
    model.replaceAll(sshHost, [zone("z1", "[click](command:workbench.action.quit)")], []);
    const [zoneNode] = tree.getChildren(tree.getChildren()[0]);
    const tip = item(tree, zoneNode!).tooltip as vscode.MarkdownString;
    assert.doesNotMatch(tip.value, /\]\(command:/);
  });

  test("a failed host shows the reason with Retry, Show Log and (for ssh) Edit SSH Config", () => {
    const { model, tree } = setup();
    model.setConnection(sshHost, {
      kind: "failed",
      message: "Connection refused (ECONNREFUSED)",
      reason: "connectFailed",
    });
    model.setConnection(socketHost, { kind: "failed", message: "no such socket" });
    const [ssh, socket] = tree.getChildren();
    const sshChildren = tree.getChildren(ssh).map((n) => item(tree, n));
    assert.deepEqual(sshChildren.map(label), [
      "Connection refused (ECONNREFUSED)",
      "Retry",
      "Show Log",
      "Edit SSH Config",
    ]);
    assert.equal(sshChildren[1]!.command?.command, "zones.host.connect");
    assert.deepEqual(sshChildren[1]!.command?.arguments, [sshHost]);
    assert.deepEqual(
      tree.getChildren(socket).map((n) => label(item(tree, n))),
      ["no such socket", "Retry", "Show Log"],
    );
    assert.equal(item(tree, ssh!).contextValue, "host:failed");
  });

  test("a burst of events becomes one targeted refresh; a new zone refreshes its host", async () => {
    const { model, tree, changes } = setup();
    model.setConnection(sshHost, { kind: "connected", info: { version: "1", devHost: false }, since: 0 });
    model.replaceAll(sshHost, [zone("z1", "web")], []);
    const hostNode = tree.getChildren()[0]!;
    const [zoneNode] = tree.getChildren(hostNode);
    await settle();
    changes.length = 0;
    for (let i = 0; i < 50; i++)
      model.applyZone(sshHost, zone("z1", "web", i % 2 ? ZoneState.READY : ZoneState.CREATED));
    await settle();
    assert.equal(changes.length, 1, "one refresh for the burst");
    assert.deepEqual(changes[0], [zoneNode], "only the zone that changed");
    changes.length = 0;
    model.applyZone(sshHost, zone("z2", "db"));
    await settle();
    assert.deepEqual(changes, [[hostNode]]);
    assert.ok(tree.getChildren(hostNode).some((n) => n instanceof ZoneNode && n.zoneId === "z2"));
    tree.dispose();
  });

  test("node objects are stable across refreshes, so VS Code keeps selection and expansion", () => {
    const { model, tree } = setup();
    model.setConnection(sshHost, { kind: "connected", info: { version: "1", devHost: false }, since: 0 });
    model.replaceAll(sshHost, [zone("z1", "web")], [workload("w1", "z1", "app", WorkloadState.CREATING)]);
    const hostNode = tree.getChildren()[0]!;
    const first = tree.getChildren(hostNode)[0];
    model.applyWorkload(sshHost, workload("w1", "z1", "app", WorkloadState.RUNNING));
    assert.equal(tree.getChildren(hostNode)[0], first);
    assert.equal(tree.getChildren()[0], hostNode);
  });
});
