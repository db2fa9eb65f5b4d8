/**
 * The second step of the composition root: everything below the tree — terminals, port
 * forwards, launches, panels, metrics, save sync, devcontainer.json diagnostics — and the
 * commands' code. Ctx loads this module right after activation (the bundler makes it a chunk
 * of its own), so activation and the tree's first paint do not pay for evaluating it.
 */
import * as vscode from "vscode";
import type { DisposableLike } from "../core/lifecycle";
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
import type { Ctx } from "./ctx";
import { DevcontainerDiagnostics } from "./devcontainer/devcontainerDiagnostics";
import { LaunchCodeLens } from "./devcontainer/launchCodeLens";
import { ZoneForwards } from "./forwards";
import { Launcher } from "./launch/launcher";
import { PlanDocuments } from "./launch/planDocuments";
import { HostSamplers } from "./metrics/hostSamplers";
import { ConsolePanel, ConsolePanels } from "./panels/consolePanel";
import { openConsoleSource } from "./panels/consoleSources";
import { DashboardPanel, DashboardPanels } from "./panels/dashboardPanel";
import { ZoneWindows } from "./remote/zoneWindows";
import { SaveSync } from "./sync/saveSync";
import { ZoneTerminals } from "./terminal/zoneTerminals";

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

/** What services.ts builds; Ctx exposes each part once it exists. */
export interface Services {
  readonly terminals: ZoneTerminals;
  readonly forwards: ZoneForwards;
  readonly launcher: Launcher;
  readonly launchOutput: vscode.OutputChannel;
  readonly plans: PlanDocuments;
  readonly samplers: HostSamplers;
  readonly dashboards: DashboardPanels;
  readonly consoles: ConsolePanels;
  readonly diagnostics: DevcontainerDiagnostics;
  readonly windows: ZoneWindows;
  readonly saveSync: SaveSync;
  /** Every command's code by id (Ctx registered the ids at activation). */
  readonly commands: ReadonlyMap<string, ZonesCommand>;
}

/**
 * Builds the services on top of Ctx's first step; `register` ties each to the extension's
 * lifetime. Long, on purpose: it is the wiring list, one part after the other.
 */
export function startServices(ctx: Ctx, register: <T extends DisposableLike>(d: T) => T): Services {
  const settings = () => ctx.settings.current;
  const terminals = register(new ZoneTerminals(ctx.hosts, ctx.logger));
  const forwards = register(new ZoneForwards(ctx.model, ctx.hosts, ctx.logger));
  const launchOutput = register(vscode.window.createOutputChannel("Styrolite Zones: Launch"));
  const plans = register(new PlanDocuments());
  const planOptions = () => ({
    defaultCpus: settings().defaultResources.cpus,
    defaultMemoryMiB: settings().defaultResources.memoryMiB,
    ...(settings().launchWorkspaceRoot ? { workspaceRoot: settings().launchWorkspaceRoot } : {}),
  });
  const launcher = new Launcher({ hosts: ctx.hosts, forwards, settings, logger: ctx.logger });
  const windows = new ZoneWindows({
    model: ctx.model,
    settings,
    extensionPath: ctx.extension.extensionUri.fsPath,
    log: ctx.logger,
  });
  const saveSync = register(new SaveSync({ model: ctx.model, hosts: ctx.hosts, settings, log: ctx.logger }));
  const diagnostics = register(new DevcontainerDiagnostics(ctx.logger, planOptions));
  register(
    vscode.languages.registerCodeLensProvider(
      {
        scheme: "file",
        pattern: "**/{.devcontainer/devcontainer.json,.devcontainer.json,.devcontainer/*/devcontainer.json}",
      },
      new LaunchCodeLens(),
    ),
  );
  const samplers = register(
    new HostSamplers(
      ctx.model,
      ctx.hosts,
      ctx.logger,
      settings().metricsIntervalSeconds * 1000,
      settings().metricsPrometheusPort,
    ),
  );
  const panelEnv = { window: vscode.window, extensionUri: ctx.extension.extensionUri, logger: ctx.logger };
  const dashboards = register(
    new DashboardPanels(panelEnv, {
      sampler: (hostId) => samplers.sampler(hostId),
      resize: async (hostId, zoneId, cpus, memoryMiB, signal) => {
        const host = await ctx.hosts.wait(hostId, signal);
        await host.resizeZone(ctx.model.zone(hostId, zoneId) ?? zoneId, cpus, memoryMiB, { signal });
      },
      hostLabel: (hostId) => ctx.hosts.label(hostId),
    }),
  );
  register(vscode.window.registerWebviewPanelSerializer(DashboardPanel.viewType, dashboards.serializer));
  const consoles = register(
    new ConsolePanels(panelEnv, {
      open: (target) => openConsoleSource(ctx.hosts, ctx.model, ctx.logger, target),
      clipboard: vscode.env.clipboard,
    }),
  );
  register(vscode.window.registerWebviewPanelSerializer(ConsolePanel.viewType, consoles.serializer));
  register(
    ctx.settings.onDidChange(({ settings: current, keys }) => {
      if (keys.includes("metrics.intervalSeconds"))
        samplers.setIntervalMs(current.metricsIntervalSeconds * 1000);
      if (keys.includes("metrics.prometheusPort")) samplers.setPrometheusPort(current.metricsPrometheusPort);
      if (keys.includes("sync.onSave")) saveSync.refresh();
    }),
  );
  return {
    terminals,
    forwards,
    launcher,
    launchOutput,
    plans,
    samplers,
    dashboards,
    consoles,
    diagnostics,
    windows,
    saveSync,
    commands: new Map(commands.map((c) => [c.id, c])),
  };
}
