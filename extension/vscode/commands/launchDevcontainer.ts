import * as vscode from "vscode";
import { messageOf } from "../../core/errors";
import { formatDiagnostic } from "../../core/devcontainer/diagnostics";
import { DevcontainerError } from "../../core/devcontainer/errors";
import { findConfigFiles } from "../../core/devcontainer/locate";
import { annotationKeys } from "../../core/devcontainer/plan";
import { displayCommand } from "../../core/devcontainer/hooks";
import type { LaunchPlan } from "../../core/devcontainer/plan";
import { LaunchError } from "../../core/launch/errors";
import { launchSteps } from "../../core/launch/events";
import type { LaunchEvent, LaunchStep } from "../../core/launch/events";
import { formatMs, LaunchProgressText } from "../../core/launch/progressText";
import { signalFromToken } from "../cancellation";
import type { Ctx } from "../ctx";
import type { LaunchOutcome } from "../launch/launcher";
import { propertyCounts } from "../launch/planMarkdown";
import { terminalTargetFor } from "../terminal/targets";
import type { ZonesCommand } from "./command";
import { openInNewWindow } from "./openInNewWindow";
import { resolveHost } from "./pick";

const stepText: Record<LaunchStep, string> = {
  initializeCommand: "running initializeCommand",
  findExisting: "looking for this project's zone",
  destroyExisting: "replacing the old zone",
  resolveImage: "resolving features and the base image",
  buildImage: "building the image on this machine",
  exportImage: "exporting the built image",
  importImage: "sending the image to the host",
  pullImage: "pulling the image",
  pullKernel: "pulling the kernel",
  createZone: "creating the zone",
  waitZoneReady: "waiting for the zone to boot",
  syncWorkspace: "copying the workspace",
  startServices: "starting the Compose services",
  createWorkload: "creating the workload",
  waitWorkloadRunning: "starting the workload",
  resolveRemoteEnv: "reading the workload's environment",
  onCreateCommand: "running onCreateCommand",
  updateContentCommand: "running updateContentCommand",
  postCreateCommand: "running postCreateCommand",
  postStartCommand: "running postStartCommand",
  postAttachCommand: "running postAttachCommand",
  forwardPorts: "forwarding ports",
};

/** devcontainer.json files of the workspace folders, in the reference tools' order per folder. */
async function workspaceConfigs(): Promise<string[]> {
  const folders = vscode.workspace.workspaceFolders ?? [];
  const found = await Promise.all(
    folders.filter((f) => f.uri.scheme === "file").map((f) => findConfigFiles(f.uri.fsPath)),
  );
  return found.flat();
}

/** The config to launch: the given file or folder, else one found in the workspace (picked when several). */
async function resolveConfig(arg: unknown): Promise<string | undefined> {
  if (arg instanceof vscode.Uri && arg.scheme === "file") return arg.fsPath;
  if (typeof arg === "string" && arg.startsWith("/")) return arg;
  const configs = await workspaceConfigs();
  if (!configs.length) {
    void vscode.window.showInformationMessage(
      "Zones: no devcontainer.json in this workspace (looked for .devcontainer/devcontainer.json, .devcontainer.json and .devcontainer/*/devcontainer.json).",
    ); // informational
    return undefined;
  }
  if (configs.length === 1) return configs[0];
  const picked = await vscode.window.showQuickPick(
    configs.map((c) => ({ label: vscode.workspace.asRelativePath(c), config: c })),
    { placeHolder: "Which devcontainer.json?" },
  );
  return picked?.config;
}

/** The plan, or undefined after telling the user why there is none (the Problems panel has the details). */
async function planFor(ctx: Ctx, config: string): Promise<LaunchPlan | undefined> {
  try {
    return await ctx.launcher.plan(config);
  } catch (err) {
    const first = DevcontainerError.is(err) ? err.diagnostics.find((d) => d.severity === "error") : undefined;
    const open = "Open devcontainer.json";
    const choice = await vscode.window.showErrorMessage(
      `Zones: cannot launch ${vscode.workspace.asRelativePath(config)}: ${first ? formatDiagnostic(first) : messageOf(err)}`,
      open,
    );
    if (choice === open) {
      const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(first?.file ?? config));
      const at = first ? new vscode.Position(first.line - 1, first.column - 1) : new vscode.Position(0, 0);
      await vscode.window.showTextDocument(doc, { selection: new vscode.Range(at, at) });
    }
    return undefined;
  }
}

/** Runs the launch under a cancellable progress notification, streaming lines into the launch output. */
async function runWithProgress(
  ctx: Ctx,
  plan: LaunchPlan,
  hostId: string,
): Promise<LaunchOutcome | undefined> {
  const output = ctx.launchOutput;
  const hostLabel = ctx.hosts.label(hostId);
  output.appendLine(`── ${new Date().toLocaleString()}: launching ${plan.configFile} on ${hostLabel}`);
  output.show(true);
  const printer = new LaunchProgressText((line) => output.appendLine(line));
  const title = `Launching ${plan.displayName ?? plan.zoneName} on ${hostLabel}`;
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title, cancellable: true },
    async (progress, token) => {
      const cancel = signalFromToken(token);
      const share = 100 / launchSteps.length;
      const onEvent = (event: LaunchEvent): void => {
        printer.handle(event);
        if (event.type === "stepStarted") progress.report({ message: stepText[event.step] });
        else if (event.type === "stepFinished") progress.report({ increment: share });
        else if (event.type === "imageImport" && event.phase === "sending" && event.totalBytes)
          progress.report({
            message: `sending the image to the host: ${Math.round((event.sentBytes / event.totalBytes) * 100)} %`,
          });
        else if (event.type === "imagePull" && event.isBytes && event.total)
          progress.report({
            message: `pulling ${event.reference}: ${Math.round(((event.current ?? 0) / event.total) * 100)} %`,
          });
      };
      try {
        return await ctx.launcher.launch(plan, hostId, { signal: cancel.signal, onEvent });
      } catch (err) {
        if (LaunchError.is(err, "cancelled")) {
          output.appendLine("launch cancelled; what it had created was removed");
          void vscode.window.showInformationMessage(
            `Zones: launch of ${plan.displayName ?? plan.zoneName} cancelled; what it had created was removed.`,
          ); // informational
          return undefined;
        }
        output.appendLine(`launch failed: ${messageOf(err)}`);
        const show = "Show Output";
        void vscode.window
          .showErrorMessage(
            `Zones: launch of ${plan.displayName ?? plan.zoneName} failed: ${messageOf(err)}`,
            show,
          )
          .then((c) => c === show && output.show()); // reported, not awaited
        return undefined;
      } finally {
        cancel.dispose();
      }
    },
  );
}

/**
 * Launch from devcontainer.json: finds the project's config, shows its LaunchPlan (what each
 * property becomes) beside the editor, asks once, then creates — or reuses — the project's
 * zone and workload on a connected host with a cancellable progress notification (cancel rolls
 * back), hook output in the "Styrolite Zones: Launch" output, and offers a terminal when done.
 * Returns the outcome (undefined when cancelled or failed).
 */
export const launchDevcontainerCommand: ZonesCommand = {
  id: "zones.devcontainer.launch",
  async run(ctx, arg) {
    const config = await resolveConfig(arg);
    if (!config) return undefined;
    const plan = await planFor(ctx, config);
    if (!plan) return undefined;
    const host = await resolveHost(
      ctx,
      undefined,
      (h) => h.connection.kind === "connected",
      `Launch ${plan.displayName ?? plan.zoneName} on which host?`,
    );
    await ctx.plans.show(plan, host?.entry.label);
    if (!plan.launchable) {
      void vscode.window.showErrorMessage(
        `Zones: ${vscode.workspace.asRelativePath(plan.configFile)} cannot be launched: ${plan.refusals.join("; ")}`,
      ); // informational
      return undefined;
    }
    if (!host) return undefined;
    if (ctx.launcher.isRunning(plan)) {
      void vscode.window.showInformationMessage(
        `Zones: ${plan.displayName ?? plan.zoneName} is already being launched.`,
      ); // informational
      return undefined;
    }
    const counts = propertyCounts(plan);
    const existing = ctx.model
      .zones(host.entry.id)
      .find((z) =>
        z.spec?.annotations.some(
          (a) => a.key === annotationKeys.devcontainerId && a.value === plan.devcontainerId,
        ),
      );
    const launch = "Launch";
    const answer = await vscode.window.showInformationMessage(
      `Launch ${plan.displayName ?? plan.zoneName} on ${host.entry.label}?`,
      {
        modal: true,
        detail: [
          existing
            ? `Its zone ${existing.spec?.name ?? existing.id} exists and will be reused.`
            : `Creates zone ${plan.zoneName} and workload ${plan.workloadName}.`,
          `${counts.translated} properties translated, ${counts.ignored} ignored (see the plan beside the editor).`,
          ...localCommands(plan),
        ].join("\n"),
      },
      launch,
    );
    if (answer !== launch) return undefined;
    const outcome = await runWithProgress(ctx, plan, host.entry.id);
    if (!outcome) return undefined;
    const { result } = outcome;
    const node = ctx.tree.find(`zone:${host.entry.id}/${result.zoneId}`);
    if (node)
      void ctx.treeView
        .reveal(node, { select: true, focus: false, expand: true })
        .then(undefined, () => undefined); // cosmetic
    const forwards = outcome.forwards
      .map((f) => `${f.zonePort} → ${f.info.localAddress}:${f.info.localPort}`)
      .join(", ");
    const openTerminal = "Open Terminal";
    const openWindow = "Open in New Window";
    const message = `Zones: ${result.zoneName} ${result.reusedZone ? "is up again" : "launched"} in ${formatMs(result.totalMs)}${forwards ? `; forwarding ${forwards}` : ""}.`;
    for (const w of outcome.warnings) void vscode.window.showWarningMessage(`Zones: could not forward ${w}`); // informational
    void vscode.window.showInformationMessage(message, openTerminal, openWindow).then((choice) => {
      if (choice === openWindow) {
        void openInNewWindow(ctx, {
          hostId: host.entry.id,
          zoneId: result.zoneId,
          workloadId: result.workloadId,
        }); // reports its own outcome
        return;
      }
      if (choice !== openTerminal) return;
      const where = { hostId: host.entry.id, zoneId: result.zoneId, workloadId: result.workloadId };
      const shell = ctx.settings.current.terminalShell.trim();
      // The model may not have heard of the workload yet; the launch result says all a terminal needs.
      const target = terminalTargetFor(ctx.model, where, { shell, env: result.remoteEnv }) ?? {
        ...where,
        hostLabel: host.entry.label,
        zoneName: result.zoneName,
        workloadName: result.workloadName,
        env: result.remoteEnv,
        ...(shell ? { shell: shell.split(/\s+/) } : {}),
      };
      ctx.terminals.open({
        ...target,
        workingDirectory: result.workspaceFolder,
        ...(result.remoteUser ? { user: result.remoteUser } : {}),
      });
    });
    return outcome;
  },
};

/** The commands the repository makes this machine run (initializeCommand), named before consent. */
function localCommands(plan: LaunchPlan): string[] {
  const local = plan.hooks
    .filter((h) => h.runsOn === "local")
    .flatMap((h) => h.commands.map((c) => displayCommand(c)));
  return local.length
    ? ["Runs on this machine first (initializeCommand):", ...local.map((d) => `  ${d}`)]
    : [];
}
