import * as vscode from "vscode";
import { Disposable } from "../core/lifecycle";
import type { ZonesModel } from "./model/zonesModel";

/**
 * One status bar item: connected hosts out of configured ones and the zone count; a warning
 * background while any host has failed. Clicking it focuses the Zones view.
 */
export class ZonesStatusBar extends Disposable {
  readonly #item = this.register(
    vscode.window.createStatusBarItem("zones.status", vscode.StatusBarAlignment.Left, 10),
  );

  constructor(private readonly model: ZonesModel) {
    super();
    this.#item.name = "Zones";
    this.#item.command = "zones.hosts.focus";
    this.register(model.onDidChange(() => this.update()));
    this.update();
  }

  update(): void {
    const hosts = this.model.hosts();
    if (!hosts.length) {
      this.#item.hide();
      return;
    }
    const connected = hosts.filter((h) => h.connection.kind === "connected").length;
    const connecting = hosts.some((h) => h.connection.kind === "connecting");
    const failed = hosts.filter((h) => h.connection.kind === "failed");
    const zones = this.model.zoneCount();
    const icon = connecting ? "$(loading~spin)" : failed.length ? "$(vm-outline)" : "$(vm-active)";
    this.#item.text = `${icon} ${connected}/${hosts.length} · ${zones} ${zones === 1 ? "zone" : "zones"}`;
    const tip = new vscode.MarkdownString(undefined, true);
    tip.appendMarkdown("**Zones**\n\n");
    for (const h of hosts)
      tip.appendMarkdown(
        `- ${h.entry.label.replace(/[\\`*_[\]<>]/g, "\\$&")}: ${h.connection.kind}${h.connection.kind === "connected" ? `, ${h.zones.size} zones` : ""}\n`,
      );
    this.#item.tooltip = tip;
    this.#item.backgroundColor = failed.length
      ? new vscode.ThemeColor("statusBarItem.warningBackground")
      : undefined;
    this.#item.accessibilityInformation = {
      label: `Zones: ${connected} of ${hosts.length} hosts connected, ${zones} zones`,
    };
    this.#item.show();
  }
}
