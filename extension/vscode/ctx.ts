/**
 * The composition root: everything that lives as long as the extension is built
 * here and registered for disposal. What lives as long as one SSH session belongs to that
 * host's lifetime inside HostConnections and is torn down on disconnect.
 */
import * as vscode from "vscode";
import { Disposable, toDisposable } from "../core/lifecycle";
import type { Logger } from "../core/log";
import { addHostCommand } from "./commands/addHost";
import { applyTemplateCommand } from "./commands/applyTemplate";
import { attachConsoleCommand } from "./commands/attachConsole";
import { clearTreeFilterCommand } from "./commands/clearTreeFilter";
import { filterTreeCommand } from "./commands/filterTree";
import { forwardPortCommand } from "./commands/forwardPort";
import { groupTreeByStateCommand, ungroupTreeCommand } from "./commands/groupTree";
import { launchDevcontainerCommand } from "./commands/launchDevcontainer";
import { listForwardsCommand } from "./commands/listForwards";
import { openDashboardCommand } from "./commands/openDashboard";
import { openInNewWindowCommand } from "./commands/openInNewWindow";
import { openTerminalCommand } from "./commands/openTerminal";
import { resizeZoneCommand } from "./commands/resizeZone";
import { showLogsCommand } from "./commands/showLogs";
import { showPlanCommand } from "./commands/showPlan";
import { sortTreeCommand } from "./commands/sortTree";
import { stopForwardCommand } from "./commands/stopForward";
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
import { DevcontainerDiagnostics } from "./devcontainer/devcontainerDiagnostics";
import { LaunchCodeLens } from "./devcontainer/launchCodeLens";
import { ZoneForwards } from "./forwards";
import { HostAccess } from "./hostAccess";
import { HostConnections } from "./hostConnections";
import { Launcher } from "./launch/launcher";
import { PlanDocuments } from "./launch/planDocuments";
import { HostSamplers } from "./metrics/hostSamplers";
import { ConsolePanel, ConsolePanels } from "./panels/consolePanel";
import { openConsoleSource } from "./panels/consoleSources";
import { DashboardPanel, DashboardPanels } from "./panels/dashboardPanel";
import { ZoneWindows } from "./remote/zoneWindows";
import { SaveSync } from "./sync/saveSync";
import { ZoneTerminals } from "./terminal/zoneTerminals";
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
  launchDevcontainerCommand,
  applyTemplateCommand,
  showPlanCommand,
  openTerminalCommand,
  openInNewWindowCommand,
  attachConsoleCommand,
  showLogsCommand,
  forwardPortCommand,
  listForwardsCommand,
  stopForwardCommand,
  resizeZoneCommand,
  openDashboardCommand,
  filterTreeCommand,
  clearTreeFilterCommand,
  sortTreeCommand,
  groupTreeByStateCommand,
  ungroupTreeCommand,
];

/** What activate() returns: the live parts tests and other extensions may read. */
export interface ZonesApi {
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
  readonly terminals: ZoneTerminals;
  readonly forwards: ZoneForwards;
  readonly launcher: Launcher;
  /** Where launches print their steps and hook output. */
  readonly launchOutput: vscode.OutputChannel;
  readonly plans: PlanDocuments;
  readonly samplers: HostSamplers;
  readonly dashboards: DashboardPanels;
  readonly consoles: ConsolePanels;
  readonly diagnostics: DevcontainerDiagnostics;
  readonly arrangement: TreeArrangement;
  readonly windows: ZoneWindows;
  readonly saveSync: SaveSync;

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
    this.terminals = this.register(new ZoneTerminals(this.hosts, this.logger));
    this.forwards = this.register(new ZoneForwards(this.model, this.hosts, this.logger));
    this.launchOutput = this.register(vscode.window.createOutputChannel("Styrolite Zones: Launch"));
    this.plans = this.register(new PlanDocuments());
    const planOptions = () => ({
      defaultCpus: this.settings.current.defaultResources.cpus,
      defaultMemoryMiB: this.settings.current.defaultResources.memoryMiB,
      ...(this.settings.current.launchWorkspaceRoot
        ? { workspaceRoot: this.settings.current.launchWorkspaceRoot }
        : {}),
    });
    this.launcher = new Launcher({
      hosts: this.hosts,
      forwards: this.forwards,
      settings: () => this.settings.current,
      logger: this.logger,
    });
    this.windows = new ZoneWindows({
      model: this.model,
      settings: () => this.settings.current,
      extensionPath: extension.extensionUri.fsPath,
      log: this.logger,
    });
    this.saveSync = this.register(
      new SaveSync({
        model: this.model,
        hosts: this.hosts,
        settings: () => this.settings.current,
        log: this.logger,
      }),
    );
    this.diagnostics = this.register(new DevcontainerDiagnostics(this.logger, planOptions));
    this.register(
      vscode.languages.registerCodeLensProvider(
        {
          scheme: "file",
          pattern:
            "**/{.devcontainer/devcontainer.json,.devcontainer.json,.devcontainer/*/devcontainer.json}",
        },
        new LaunchCodeLens(),
      ),
    );

    this.samplers = this.register(
      new HostSamplers(
        this.model,
        this.hosts,
        this.logger,
        this.settings.current.metricsIntervalSeconds * 1000,
        this.settings.current.metricsPrometheusPort,
      ),
    );
    const panelEnv = { window: vscode.window, extensionUri: extension.extensionUri, logger: this.logger };
    this.dashboards = this.register(
      new DashboardPanels(panelEnv, {
        sampler: (hostId) => this.samplers.sampler(hostId),
        resize: async (hostId, zoneId, cpus, memoryMiB, signal) => {
          const host = await this.hosts.wait(hostId, signal);
          await host.resizeZone(this.model.zone(hostId, zoneId) ?? zoneId, cpus, memoryMiB, { signal });
        },
        hostLabel: (hostId) => this.hosts.label(hostId),
      }),
    );
    this.register(
      vscode.window.registerWebviewPanelSerializer(DashboardPanel.viewType, this.dashboards.serializer),
    );
    this.consoles = this.register(
      new ConsolePanels(panelEnv, {
        open: (target) => openConsoleSource(this.hosts, this.model, this.logger, target),
        clipboard: vscode.env.clipboard,
      }),
    );
    this.register(
      vscode.window.registerWebviewPanelSerializer(ConsolePanel.viewType, this.consoles.serializer),
    );
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
    for (const command of commands) {
      this.register(
        vscode.commands.registerCommand(command.id, (...args: unknown[]) => command.run(this, ...args)),
      );
    }
    this.register(
      this.settings.onDidChange(({ settings, keys }) => {
        if (keys.includes("hosts")) this.connections.sync(settings.hosts.map(parseHostEntry));
        if (keys.includes("metrics.intervalSeconds"))
          this.samplers.setIntervalMs(settings.metricsIntervalSeconds * 1000);
        if (keys.includes("metrics.prometheusPort"))
          this.samplers.setPrometheusPort(settings.metricsPrometheusPort);
        if (keys.includes("sync.onSave")) this.saveSync.refresh();
      }),
    );
    this.connections.sync(this.settings.current.hosts.map(parseHostEntry));
  }
}
