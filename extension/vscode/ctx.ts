/**
 * The composition root: everything that lives as long as the extension is built
 * here and registered for disposal. What lives as long as one SSH session belongs to that
 * host's lifetime inside HostConnections and is torn down on disconnect.
 *
 * Built in two steps so that activation is quick and the tree draws at once: the constructor
 * makes the log, settings, model, connections, tree and status bar and registers every command
 * of the manifest; the rest (terminals, forwards, launches, panels, metrics, sync; services.ts)
 * is a separate chunk loaded right after, and a command that arrives before it waits for it.
 */
import * as vscode from "vscode";
import { messageOf } from "../core/errors";
import { Disposable, toDisposable } from "../core/lifecycle";
import type { Logger } from "../core/log";
import type { ZoneForwards } from "./forwards";
import { HostAccess } from "./hostAccess";
import { HostConnections } from "./hostConnections";
import type { Launcher } from "./launch/launcher";
import type { PlanDocuments } from "./launch/planDocuments";
import type { HostSamplers } from "./metrics/hostSamplers";
import type { ConsolePanels } from "./panels/consolePanel";
import type { DashboardPanels } from "./panels/dashboardPanel";
import type { ZoneWindows } from "./remote/zoneWindows";
import type { Services, startServices } from "./services";
import type { SaveSync } from "./sync/saveSync";
import type { DevcontainerDiagnostics } from "./devcontainer/devcontainerDiagnostics";
import type { ZoneTerminals } from "./terminal/zoneTerminals";
import { TreeArrangement } from "./tree/treeArrangement";
import { channelLogger } from "./log";
import { parseHostEntry } from "./model/hostEntry";
import type { HostConnector } from "./model/hostSession";
import { ZonesModel } from "./model/zonesModel";
import { showFatalConnectionError, VsCodePrompts } from "./prompts";
import { Settings } from "./settings";
import { ZonesStatusBar } from "./statusBar";
import type { ZonesNode } from "./tree/nodes";
import { ZonesTreeProvider } from "./tree/zonesTree";

/** The services chunk, as its dynamic import yields it. */
type ServicesModule = { readonly startServices: typeof startServices };

/** What activate() returns: the live parts tests and other extensions may read. */
export interface ZonesApi {
  /** Settles when the services below the tree (terminals … saveSync) exist; rejects if they could not load. */
  readonly ready: Promise<void>;
  /** Milliseconds from activation until the first host was connected and listed (undefined until then). */
  readonly populatedAfterMs: number | undefined;
  readonly model: ZonesModel;
  readonly connections: HostConnections;
  readonly tree: ZonesTreeProvider;
  readonly treeView: vscode.TreeView<ZonesNode>;
  readonly hosts: HostAccess;
  readonly terminals: ZoneTerminals;
  readonly forwards: ZoneForwards;
  readonly launcher: Launcher;
  readonly samplers: HostSamplers;
  readonly dashboards: DashboardPanels;
  readonly consoles: ConsolePanels;
  readonly diagnostics: DevcontainerDiagnostics;
  readonly arrangement: TreeArrangement;
  readonly windows: ZoneWindows;
  readonly saveSync: SaveSync;
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
  readonly hosts: HostAccess;
  readonly arrangement: TreeArrangement;
  readonly ready: Promise<void>;
  #services: Services | undefined;
  readonly #registered = new Set<string>();

  constructor(
    readonly extension: vscode.ExtensionContext,
    connector: HostConnector,
    timing: { readonly evaluatedAt?: number } = {},
    loadServices: () => Promise<ServicesModule> = () => import("./services"),
  ) {
    super();
    this.log = this.register(vscode.window.createOutputChannel("Styrolite Zones", { log: true }));
    this.logger = channelLogger(this.log);
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
    this.treeView = this.register(
      vscode.window.createTreeView("zones.hosts", {
        treeDataProvider: this.tree,
        showCollapseAll: true,
        canSelectMany: true,
      }),
    );
    this.register(new ZonesStatusBar(this.model));
    this.arrangement = this.register(new TreeArrangement(extension.workspaceState, this.tree, this.treeView));
    this.hosts = new HostAccess(this.model, this.connections);

    const populated = this.register(
      this.model.onDidChange(() => {
        if (
          this.populatedAfterMs !== undefined ||
          !this.model.hosts().some((h) => h.connection.kind === "connected")
        )
          return;
        this.populatedAfterMs = Date.now() - this.#activatedAt;
        this.logger.info(`tree populated ${this.populatedAfterMs} ms after activation`);
        populated.dispose();
      }),
    );
    this.ready = this.#loadServices(loadServices);
    this.ready.catch(() => undefined); // reported where it fails; commands awaiting it see the error
    this.#registerCommands();
    this.register(
      this.settings.onDidChange(({ settings, keys }) => {
        if (keys.includes("hosts")) this.connections.sync(settings.hosts.map(parseHostEntry));
      }),
    );
    this.connections.sync(this.settings.current.hosts.map(parseHostEntry));
    const manifest = extension.extension.packageJSON as { version?: string };
    // Where activation time goes: our module's evaluation ended `evaluatedAt`, activate() began
    // `#activatedAt`; the rest is this constructor.
    const waited =
      timing.evaluatedAt === undefined
        ? ""
        : `, ${this.#activatedAt - timing.evaluatedAt} ms after our code loaded`;
    this.logger.info(
      `Styrolite Zones ${manifest.version ?? "?"} activated (VS Code ${vscode.version}) in ${Date.now() - this.#activatedAt} ms${waited}`,
    );
  }

  /**
   * Every command the manifest declares, registered now so that menus and the palette work
   * from the first moment; each runs once the services exist.
   */
  #registerCommands(): void {
    const manifest = this.extension.extension.packageJSON as {
      contributes?: { commands?: readonly { command: string }[] };
    };
    for (const { command: id } of manifest.contributes?.commands ?? []) this.#registerCommand(id);
  }

  #registerCommand(id: string): void {
    this.#registered.add(id);
    this.register(
      vscode.commands.registerCommand(id, async (...args: unknown[]) => {
        await this.ready;
        const command = this.#services?.commands.get(id);
        if (!command) throw new Error(`Styrolite Zones has no command ${id}`);
        return command.run(this, ...args);
      }),
    );
  }

  async #loadServices(load: () => Promise<ServicesModule>): Promise<void> {
    try {
      const { startServices } = await load();
      if (this.isDisposed) return;
      this.#services = startServices(this, (d) => this.register(d));
      // Commands the manifest does not list (internal ones) are registered with their code.
      for (const id of this.#services.commands.keys())
        if (!this.#registered.has(id)) this.#registerCommand(id);
      this.logger.info(`services ready ${Date.now() - this.#activatedAt} ms after activation`);
    } catch (err) {
      this.logger.error(`Styrolite Zones could not load its services: ${messageOf(err)}`);
      void vscode.window.showErrorMessage(`Styrolite Zones could not start: ${messageOf(err)}`);
      throw err;
    }
  }

  /** The services; only after `ready` (commands wait for it, the tree never needs them). */
  #svc(): Services {
    if (!this.#services) throw new Error("Styrolite Zones is still starting");
    return this.#services;
  }

  get terminals(): ZoneTerminals {
    return this.#svc().terminals;
  }
  get forwards(): ZoneForwards {
    return this.#svc().forwards;
  }
  get launcher(): Launcher {
    return this.#svc().launcher;
  }
  /** Where launches print their steps and hook output. */
  get launchOutput(): vscode.OutputChannel {
    return this.#svc().launchOutput;
  }
  get plans(): PlanDocuments {
    return this.#svc().plans;
  }
  get samplers(): HostSamplers {
    return this.#svc().samplers;
  }
  get dashboards(): DashboardPanels {
    return this.#svc().dashboards;
  }
  get consoles(): ConsolePanels {
    return this.#svc().consoles;
  }
  get diagnostics(): DevcontainerDiagnostics {
    return this.#svc().diagnostics;
  }
  get windows(): ZoneWindows {
    return this.#svc().windows;
  }
  get saveSync(): SaveSync {
    return this.#svc().saveSync;
  }
}
