/**
 * The composition root (STYLE.md 2): everything that lives as long as the extension is built
 * here and registered for disposal. What lives as long as one SSH session belongs to that
 * host's lifetime inside HostConnections and is torn down on disconnect.
 */
import * as vscode from "vscode";
import { Disposable, toDisposable } from "../core/lifecycle";
import type { Logger } from "../core/log";
import { addHostCommand } from "./commands/addHost";
import type { ZonesCommand } from "./commands/command";
import { connectHostCommand } from "./commands/connectHost";
import { copyIdCommand } from "./commands/copyId";
import { copyIpCommand } from "./commands/copyIp";
import { destroyZoneCommand } from "./commands/destroyZone";
import { disconnectHostCommand } from "./commands/disconnectHost";
import { editSshConfigCommand } from "./commands/editSshConfig";
import { refreshTreeCommand } from "./commands/refreshTree";
import { removeHostCommand } from "./commands/removeHost";
import { showLogCommand } from "./commands/showLog";
import { HostConnections } from "./hostConnections";
import { channelLogger } from "./log";
import { parseHostEntry } from "./model/hostEntry";
import type { HostConnector } from "./model/hostSession";
import { ZonesModel } from "./model/zonesModel";
import { showFatalConnectionError, VsCodePrompts } from "./prompts";
import { Settings } from "./settings";
import { ZonesStatusBar } from "./statusBar";
import type { ZonesNode } from "./tree/nodes";
import { ZonesTreeProvider } from "./tree/zonesTree";

const commands: readonly ZonesCommand[] = [
  showLogCommand,
  addHostCommand,
  connectHostCommand,
  disconnectHostCommand,
  removeHostCommand,
  refreshTreeCommand,
  editSshConfigCommand,
  copyIdCommand,
  copyIpCommand,
  destroyZoneCommand,
];

/** What activate() returns: the live parts tests and other extensions may read. */
export interface ZonesApi {
  /** Milliseconds from activation until the first host was connected and listed (undefined until then). */
  readonly populatedAfterMs: number | undefined;
  readonly model: ZonesModel;
  readonly connections: HostConnections;
  readonly tree: ZonesTreeProvider;
  readonly treeView: vscode.TreeView<ZonesNode>;
}

export class Ctx extends Disposable implements ZonesApi {
  readonly #activatedAt = Date.now();
  populatedAfterMs: number | undefined;
  readonly log: vscode.LogOutputChannel;
  readonly logger: Logger;
  readonly settings: Settings;
  readonly model: ZonesModel;
  readonly connections: HostConnections;
  readonly tree: ZonesTreeProvider;
  readonly treeView: vscode.TreeView<ZonesNode>;

  constructor(
    readonly extension: vscode.ExtensionContext,
    connector: HostConnector,
  ) {
    super();
    this.log = this.register(vscode.window.createOutputChannel("Styrolite Zones", { log: true }));
    this.logger = channelLogger(this.log);
    const manifest = extension.extension.packageJSON as { version?: string };
    this.logger.info(`Styrolite Zones ${manifest.version ?? "?"} activated (VS Code ${vscode.version})`);
    this.settings = this.register(new Settings(this.logger, () => this.connections.reconnectAll()));
    this.model = new ZonesModel();
    this.register(toDisposable(() => this.model.dispose()));
    this.connections = this.register(
      new HostConnections({
        model: this.model,
        connector,
        settings: () => this.settings.current,
        prompts: new VsCodePrompts(extension.secrets),
        log: this.logger,
        onFatalError: (entry, err) => void showFatalConnectionError(entry, err), // a modal; the loop does not wait for it
      }),
    );
    this.tree = this.register(new ZonesTreeProvider(this.model));
    this.treeView = this.register(vscode.window.createTreeView("zones.hosts", { treeDataProvider: this.tree, showCollapseAll: true, canSelectMany: true }));
    this.register(new ZonesStatusBar(this.model));
    const populated = this.register(
      this.model.onDidChange(() => {
        if (this.populatedAfterMs !== undefined || !this.model.hosts().some((h) => h.connection.kind === "connected")) return;
        this.populatedAfterMs = Date.now() - this.#activatedAt;
        this.logger.info(`tree populated ${this.populatedAfterMs} ms after activation`);
        populated.dispose();
      }),
    );
    for (const command of commands) {
      this.register(vscode.commands.registerCommand(command.id, (...args: unknown[]) => command.run(this, ...args)));
    }
    this.register(this.settings.onDidChange(({ settings, keys }) => {
      if (keys.includes("hosts")) this.connections.sync(settings.hosts.map(parseHostEntry));
    }));
    this.connections.sync(this.settings.current.hosts.map(parseHostEntry));
  }
}
