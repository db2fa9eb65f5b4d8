/**
 * The Zones tree: maps model changes onto targeted refreshes of the nodes that changed,
 * batched over a short window so a burst of WatchEvents redraws once (STYLE.md 4, 5).
 * Nodes are cached by id so the objects VS Code holds are the ones we fire changes for.
 */
import * as vscode from "vscode";
import { Disposable, toDisposable } from "../../core/lifecycle";
import type { ModelChange, ZonesModel } from "../model/zonesModel";
import { HostNode, MessageNode, WorkloadNode, ZoneNode } from "./nodes";
import type { ZonesNode } from "./nodes";

/** How long changes are collected before the view is told. */
const batchMs = 50;

export class ZonesTreeProvider extends Disposable implements vscode.TreeDataProvider<ZonesNode> {
  readonly #onDidChangeTreeData = this.register(new vscode.EventEmitter<ZonesNode | ZonesNode[] | undefined>());
  readonly onDidChangeTreeData = this.#onDidChangeTreeData.event;
  readonly #nodes = new Map<string, ZonesNode>();
  #pending = new Set<ZonesNode>();
  #pendingRoot = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(private readonly model: ZonesModel) {
    super();
    this.register(model.onDidChange((change) => this.#queue(change)));
    this.register(toDisposable(() => clearTimeout(this.#timer)));
  }

  getTreeItem(node: ZonesNode): vscode.TreeItem {
    return node.toTreeItem();
  }

  getParent(node: ZonesNode): ZonesNode | undefined {
    return node.parent;
  }

  getChildren(node?: ZonesNode): ZonesNode[] {
    if (!node) {
      const hostIds = new Set(this.model.hosts().map((h) => h.entry.id));
      this.#retain((n) => hostIds.has(n.hostId));
      return [...hostIds].map((hostId) => this.#node(`host:${hostId}`, () => new HostNode(this.model, hostId)));
    }
    if (node instanceof HostNode) return this.#hostChildren(node);
    if (node instanceof ZoneNode) {
      const workloads = this.model.workloads(node.hostId, node.zoneId);
      const ids = new Set(workloads.map((w) => w.id));
      this.#retain((n) => !(n instanceof WorkloadNode && n.parent === node) || ids.has(n.workloadId));
      return workloads.map((w) => this.#node(`workload:${node.hostId}/${w.id}`, () => new WorkloadNode(this.model, node, w.id)));
    }
    return [];
  }

  /** The node for a host, zone or workload if the tree has shown it (for reveal and tests). */
  find(id: string): ZonesNode | undefined {
    return this.#nodes.get(id);
  }

  #hostChildren(host: HostNode): ZonesNode[] {
    const record = host.record;
    if (!record) return [];
    const hostId = host.hostId;
    const connection = record.connection;
    if (connection.kind === "connected") {
      const zoneIds = new Set(this.model.zones(hostId).map((z) => z.id));
      this.#retainZones(hostId, zoneIds);
      const zones = [...zoneIds].map((zoneId) => this.#node(`zone:${hostId}/${zoneId}`, () => new ZoneNode(this.model, host, zoneId)));
      if (zones.length) return zones;
      return [
        new MessageNode(`msg:${hostId}:empty`, host, "No zones yet", {
          icon: new vscode.ThemeIcon("info"),
          tooltip: "Launch a devcontainer.json into a zone on this host.",
        }),
      ];
    }
    this.#retainZones(hostId, new Set());
    if (connection.kind === "failed") {
      const actions: MessageNode[] = [
        new MessageNode(`msg:${hostId}:error`, host, connection.message, {
          icon: new vscode.ThemeIcon("warning", new vscode.ThemeColor("errorForeground")),
          tooltip: connection.message,
          contextValue: "hostError",
        }),
        action(host, "retry", connection.retryAt ? "Retry Now" : "Retry", "refresh", { command: "zones.host.connect", title: "Retry", arguments: [hostId] }),
        action(host, "log", "Show Log", "output", { command: "zones.log.show", title: "Show Log" }),
      ];
      if (record.entry.kind === "ssh") {
        actions.push(action(host, "sshConfig", "Edit SSH Config", "gear", { command: "zones.sshConfig.edit", title: "Edit SSH Config", arguments: [hostId] }));
      }
      return actions;
    }
    if (connection.kind === "disconnected") {
      return [action(host, "connect", "Connect", "plug", { command: "zones.host.connect", title: "Connect", arguments: [hostId] })];
    }
    return [];
  }

  #node<T extends ZonesNode>(id: string, create: () => T): T {
    let node = this.#nodes.get(id) as T | undefined;
    if (!node) {
      node = create();
      this.#nodes.set(id, node);
    }
    return node;
  }

  #retainZones(hostId: string, zoneIds: ReadonlySet<string>): void {
    this.#retain((n) => n.hostId !== hostId || n instanceof HostNode || zoneIds.has(n instanceof ZoneNode ? n.zoneId : n.parent.zoneId));
  }

  /** Forgets cached nodes `keep` rejects, so removed hosts, zones and workloads do not pile up. */
  #retain(keep: (node: HostNode | ZoneNode | WorkloadNode) => boolean): void {
    for (const [id, node] of this.#nodes) if (node instanceof MessageNode || !keep(node)) this.#nodes.delete(id);
  }

  #queue(change: ModelChange): void {
    if (change.scope === "hosts") this.#pendingRoot = true;
    else {
      const node = change.scope === "host" ? this.#nodes.get(`host:${change.hostId}`) : this.#nodes.get(`zone:${change.hostId}/${change.zoneId}`);
      // A node the view never asked for has nothing on screen to refresh; its parent will list it.
      if (node) this.#pending.add(node);
      else if (change.scope === "zone") {
        const host = this.#nodes.get(`host:${change.hostId}`);
        if (host) this.#pending.add(host);
      } else this.#pendingRoot = true;
    }
    this.#timer ??= setTimeout(() => this.#flush(), batchMs);
  }

  #flush(): void {
    this.#timer = undefined;
    if (this.#pendingRoot) {
      this.#onDidChangeTreeData.fire(undefined);
    } else if (this.#pending.size) {
      this.#onDidChangeTreeData.fire([...this.#pending]);
    }
    this.#pending = new Set();
    this.#pendingRoot = false;
  }
}

function action(host: HostNode, key: string, label: string, icon: string, command: vscode.Command): MessageNode {
  return new MessageNode(`msg:${host.hostId}:${key}`, host, label, { icon: new vscode.ThemeIcon(icon), command, contextValue: `hostAction` });
}
