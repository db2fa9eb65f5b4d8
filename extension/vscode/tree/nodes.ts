/**
 * Tree nodes: one small class per kind, each with a stable `id` (VS Code keeps selection and
 * expansion by it). Nodes hold ids,
 * not data: they read the model when VS Code asks for their item, so a cached node is never
 * stale. `contextValue` is `<kind>:<state>` so menus match with `viewItem =~ /^zone:ready$/`.
 */
import * as vscode from "vscode";
import type { ZonesModel, HostRecord } from "../model/zonesModel";
import {
  md,
  workloadDescription,
  workloadIcon,
  workloadTooltip,
  zoneDescription,
  zoneIcon,
  zoneTooltip,
} from "./presentation";
import { workloadStateName, zoneStateName } from "../../core/protect/zoneFacts";

/** Any node of the Zones tree. */
export type ZonesNode = HostNode | StateGroupNode | ZoneNode | WorkloadNode | MessageNode;

/** A configured host. */
export class HostNode {
  readonly kind = "host";
  readonly id: string;

  constructor(
    private readonly model: ZonesModel,
    readonly hostId: string,
  ) {
    this.id = `host:${hostId}`;
  }

  get parent(): undefined {
    return undefined;
  }

  get record(): HostRecord | undefined {
    return this.model.host(this.hostId);
  }

  toTreeItem(): vscode.TreeItem {
    const record = this.record;
    const item = new vscode.TreeItem(
      record?.entry.label ?? this.hostId,
      vscode.TreeItemCollapsibleState.Expanded,
    );
    item.id = this.id;
    const connection = record?.connection ?? { kind: "disconnected" as const };
    item.contextValue = `host:${connection.kind}`;
    switch (connection.kind) {
      case "connected": {
        const { info } = connection;
        item.iconPath = new vscode.ThemeIcon("vm-active", new vscode.ThemeColor("charts.green"));
        item.description = info.devHost ? `dev host ${info.version}` : `Protect ${info.version}`;
        const tip = new vscode.MarkdownString(undefined, true);
        tip.appendMarkdown(`**${md(record?.entry.label ?? this.hostId)}** — connected\n\n`);
        tip.appendMarkdown(
          info.devHost
            ? `Dev host ${md(info.version)}: each zone says what isolates it — namespaces sharing this machine's kernel, or a QEMU virtual machine with its own (\`--sandbox vm\`).`
            : `Edera Protect ${md(info.version)}`,
        );
        item.tooltip = tip;
        break;
      }
      case "connecting":
        item.iconPath = new vscode.ThemeIcon("loading~spin");
        item.description =
          connection.attempt > 1 ? `connecting (attempt ${connection.attempt})…` : "connecting…";
        break;
      case "failed":
        item.iconPath = new vscode.ThemeIcon("error", new vscode.ThemeColor("errorForeground"));
        item.description = connection.retryAt ? `failed · retrying` : "failed";
        item.tooltip = connection.message;
        break;
      case "disconnected":
        item.iconPath = new vscode.ThemeIcon("debug-disconnect");
        item.description = "disconnected";
        break;
    }
    return item;
  }
}

/** Zones of one state under a host, when the tree groups by state. */
export class StateGroupNode {
  readonly kind = "group";
  readonly id: string;

  constructor(
    readonly parent: HostNode,
    readonly state: string,
    /** How many zones the group shows. */
    public count: number,
  ) {
    this.id = `group:${parent.hostId}/${state}`;
  }

  get hostId(): string {
    return this.parent.hostId;
  }

  toTreeItem(): vscode.TreeItem {
    const item = new vscode.TreeItem(
      this.state.charAt(0).toUpperCase() + this.state.slice(1),
      vscode.TreeItemCollapsibleState.Expanded,
    );
    item.id = this.id;
    item.description = String(this.count);
    item.contextValue = `group:${this.state}`;
    item.iconPath = new vscode.ThemeIcon("symbol-folder");
    return item;
  }
}

/** A zone on a host. */
export class ZoneNode {
  readonly kind = "zone";
  readonly id: string;
  /** Where the tree shows it: under its host, or under a state group of it. */
  parent: HostNode | StateGroupNode;

  constructor(
    private readonly model: ZonesModel,
    readonly host: HostNode,
    readonly zoneId: string,
  ) {
    this.id = `zone:${host.hostId}/${zoneId}`;
    this.parent = host;
  }

  get hostId(): string {
    return this.host.hostId;
  }

  get zone() {
    return this.model.zone(this.hostId, this.zoneId);
  }

  toTreeItem(): vscode.TreeItem {
    const zone = this.zone;
    if (!zone) return new vscode.TreeItem(this.zoneId);
    const hasWorkloads = this.model.workloads(this.hostId, this.zoneId).length > 0;
    const item = new vscode.TreeItem(
      zone.spec?.name || zone.id,
      hasWorkloads ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.None,
    );
    item.id = this.id;
    item.description = zoneDescription(zone);
    item.iconPath = zoneIcon(zone);
    item.tooltip = zoneTooltip(zone, this.host.record?.entry.label ?? this.hostId);
    item.contextValue = `zone:${zoneStateName(zone.status?.state)}`;
    item.accessibilityInformation = {
      label: `zone ${zone.spec?.name || zone.id}, ${zoneStateName(zone.status?.state)}`,
    };
    return item;
  }
}

/** A workload in a zone. */
export class WorkloadNode {
  readonly kind = "workload";
  readonly id: string;

  constructor(
    private readonly model: ZonesModel,
    readonly parent: ZoneNode,
    readonly workloadId: string,
  ) {
    this.id = `workload:${parent.hostId}/${workloadId}`;
  }

  get hostId(): string {
    return this.parent.hostId;
  }

  get workload() {
    return this.model.workload(this.hostId, this.workloadId);
  }

  toTreeItem(): vscode.TreeItem {
    const workload = this.workload;
    if (!workload) return new vscode.TreeItem(this.workloadId);
    const item = new vscode.TreeItem(
      workload.spec?.name || workload.id,
      vscode.TreeItemCollapsibleState.None,
    );
    item.id = this.id;
    item.description = workloadDescription(workload);
    item.iconPath = workloadIcon(workload);
    item.tooltip = workloadTooltip(workload);
    item.contextValue = `workload:${workloadStateName(workload.status?.state)}`;
    item.accessibilityInformation = {
      label: `workload ${workload.spec?.name || workload.id}, ${workloadStateName(workload.status?.state)}`,
    };
    return item;
  }
}

/** A line of text under a host: a failure with its reason, an action (Retry…), or a hint. */
export class MessageNode {
  readonly kind = "message";

  constructor(
    readonly id: string,
    readonly parent: HostNode,
    private readonly label: string,
    private readonly options: {
      icon?: vscode.ThemeIcon;
      tooltip?: string;
      command?: vscode.Command;
      contextValue?: string;
    } = {},
  ) {}

  toTreeItem(): vscode.TreeItem {
    const item = new vscode.TreeItem(this.label, vscode.TreeItemCollapsibleState.None);
    item.id = this.id;
    if (this.options.icon) item.iconPath = this.options.icon;
    if (this.options.tooltip) item.tooltip = this.options.tooltip;
    if (this.options.command) item.command = this.options.command;
    item.contextValue = this.options.contextValue ?? "message";
    return item;
  }
}
