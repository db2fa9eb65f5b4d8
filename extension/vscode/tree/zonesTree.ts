/**
 * The Zones tree: maps model changes onto targeted refreshes of the nodes that changed,
 * batched over a short window so a burst of WatchEvents redraws once.
 * Nodes are cached by id so the objects VS Code holds are the ones we fire changes for.
 */
import * as vscode from "vscode";
import { Disposable, toDisposable } from "../../core/lifecycle";
import type { ModelChange, ZonesModel } from "../model/zonesModel";
import { arrangeZones, defaultTreeOptions, stateOrder } from "./treeOptions";
import type { TreeOptions } from "./treeOptions";
import { HostNode, MessageNode, StateGroupNode, WorkloadNode, ZoneNode } from "./nodes";
import type { ZonesNode } from "./nodes";
import { zoneStateName } from "../../core/protect/zoneFacts";

/** How long changes are collected before the view is told. */
const batchMs = 50;

export class ZonesTreeProvider extends Disposable implements vscode.TreeDataProvider<ZonesNode> {
  readonly #onDidChangeTreeData = this.register(
    new vscode.EventEmitter<ZonesNode | ZonesNode[] | undefined>(),
  );
  readonly onDidChangeTreeData = this.#onDidChangeTreeData.event;
  readonly #nodes = new Map<string, ZonesNode>();
  #pending = new Set<ZonesNode>();
  #pendingRoot = false;
  #timer: NodeJS.Timeout | undefined;
  #options: TreeOptions = defaultTreeOptions;

  constructor(private readonly model: ZonesModel) {
    super();
    this.register(model.onDidChange((change) => this.#queue(change)));
    this.register(toDisposable(() => clearTimeout(this.#timer)));
  }

  /** Filter, sort and grouping in force. */
  get options(): TreeOptions {
    return this.#options;
  }

  /** Changes filter, sort or grouping and redraws the whole tree. */
  setOptions(options: TreeOptions): void {
    this.#options = options;
    this.#pendingRoot = true;
    this.#timer ??= setTimeout(() => this.#flush(), 0);
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
      return [...hostIds].map((hostId) =>
        this.#node(`host:${hostId}`, () => new HostNode(this.model, hostId)),
      );
    }
    if (node instanceof HostNode) return this.#hostChildren(node);
    if (node instanceof StateGroupNode)
      return this.#zoneNodes(
        node.parent,
        this.#arranged(node.hostId)
          .filter((z) => zoneStateName(z.status?.state) === node.state)
          .map((z) => z.id),
        node,
      );
    if (node instanceof ZoneNode) {
      const workloads = this.model.workloads(node.hostId, node.zoneId);
      const ids = new Set(workloads.map((w) => w.id));
      this.#retain((n) => !(n instanceof WorkloadNode && n.parent === node) || ids.has(n.workloadId));
      return workloads.map((w) =>
        this.#node(`workload:${node.hostId}/${w.id}`, () => new WorkloadNode(this.model, node, w.id)),
      );
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
      const arranged = this.#arranged(hostId);
      this.#retainZones(hostId, new Set(arranged.map((z) => z.id)));
      if (!arranged.length) {
        const filtered = this.#options.filter !== "" && this.model.zones(hostId).length > 0;
        return [
          new MessageNode(
            `msg:${hostId}:empty`,
            host,
            filtered ? `No zones match “${this.#options.filter}”` : "No zones yet",
            {
              icon: new vscode.ThemeIcon(filtered ? "filter" : "info"),
              tooltip: filtered
                ? "Clear the filter to see every zone."
                : "Launch a devcontainer.json into a zone on this host.",
            },
          ),
        ];
      }
      if (!this.#options.groupByState)
        return this.#zoneNodes(
          host,
          arranged.map((z) => z.id),
          host,
        );
      const counts = new Map<string, number>();
      for (const z of arranged)
        counts.set(zoneStateName(z.status?.state), (counts.get(zoneStateName(z.status?.state)) ?? 0) + 1);
      const states = [...counts.keys()].sort((a, b) => stateOrder(a) - stateOrder(b) || a.localeCompare(b));
      this.#retain((n) => !(n instanceof StateGroupNode) || n.hostId !== hostId || counts.has(n.state));
      return states.map((state) => {
        const group = this.#node(`group:${hostId}/${state}`, () => new StateGroupNode(host, state, 0));
        group.count = counts.get(state) ?? 0;
        return group;
      });
    }
    this.#retainZones(hostId, new Set());
    if (connection.kind === "failed") {
      const actions: MessageNode[] = [
        new MessageNode(`msg:${hostId}:error`, host, connection.message, {
          icon: new vscode.ThemeIcon("warning", new vscode.ThemeColor("errorForeground")),
          tooltip: connection.message,
          contextValue: "hostError",
        }),
        action(host, "retry", connection.retryAt ? "Retry Now" : "Retry", "refresh", {
          command: "zones.host.connect",
          title: "Retry",
          arguments: [hostId],
        }),
        action(host, "log", "Show Log", "output", { command: "zones.log.show", title: "Show Log" }),
      ];
      if (record.entry.kind === "ssh") {
        actions.push(
          action(host, "sshConfig", "Edit SSH Config", "gear", {
            command: "zones.sshConfig.edit",
            title: "Edit SSH Config",
            arguments: [hostId],
          }),
        );
      }
      return actions;
    }
    if (connection.kind === "disconnected") {
      return [
        action(host, "connect", "Connect", "plug", {
          command: "zones.host.connect",
          title: "Connect",
          arguments: [hostId],
        }),
      ];
    }
    return [];
  }

  /** The host's zones as the view shows them: filtered and sorted. */
  #arranged(hostId: string) {
    return arrangeZones(
      this.model.zones(hostId),
      (zoneId) => this.model.workloads(hostId, zoneId),
      this.#options,
    );
  }

  #zoneNodes(host: HostNode, zoneIds: readonly string[], parent: HostNode | StateGroupNode): ZoneNode[] {
    return zoneIds.map((zoneId) => {
      const node = this.#node(`zone:${host.hostId}/${zoneId}`, () => new ZoneNode(this.model, host, zoneId));
      node.parent = parent;
      return node;
    });
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
    this.#retain(
      (n) =>
        n.hostId !== hostId ||
        n instanceof HostNode ||
        (n instanceof StateGroupNode
          ? this.#options.groupByState
          : zoneIds.has(n instanceof ZoneNode ? n.zoneId : n.parent.zoneId)),
    );
  }

  /** Forgets cached nodes `keep` rejects, so removed hosts, zones and workloads do not pile up. */
  #retain(keep: (node: HostNode | StateGroupNode | ZoneNode | WorkloadNode) => boolean): void {
    for (const [id, node] of this.#nodes)
      if (node instanceof MessageNode || !keep(node)) this.#nodes.delete(id);
  }

  #queue(change: ModelChange): void {
    // A zone's change may move it (another group or place, in or out of the filter): redraw its host.
    if (
      change.scope === "zone" &&
      (this.#options.groupByState || this.#options.filter !== "" || this.#options.sort !== "name")
    )
      change = { scope: "host", hostId: change.hostId };
    if (change.scope === "hosts") this.#pendingRoot = true;
    else {
      const node =
        change.scope === "host"
          ? this.#nodes.get(`host:${change.hostId}`)
          : this.#nodes.get(`zone:${change.hostId}/${change.zoneId}`);
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

function action(
  host: HostNode,
  key: string,
  label: string,
  icon: string,
  command: vscode.Command,
): MessageNode {
  return new MessageNode(`msg:${host.hostId}:${key}`, host, label, {
    icon: new vscode.ThemeIcon(icon),
    command,
    contextValue: `hostAction`,
  });
}
