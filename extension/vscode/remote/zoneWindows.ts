/**
 * "Open in New Window": a VS Code window inside a zone's workload, through the Remote - SSH
 * extension (or the open-source Open Remote - SSH) and the zone gateway. It writes the
 * workload's ssh alias (`zonectl ssh-config`'s entry, with the zonectl this extension carries
 * as ProxyCommand) and opens `vscode-remote://ssh-remote+<alias>/<workspace folder>`.
 */
import { homedir } from "node:os";
import { join } from "node:path";
import * as vscode from "vscode";
import { gatewayAlias, gatewayDirectory } from "../../core/gateway/gatewayNames";
import { GatewaySshConfig, ensureInclude } from "../../core/gateway/gatewaySshConfig";
import type { GatewayEntry } from "../../core/gateway/gatewaySshConfig";
import { zonectlCommandWords } from "../../core/gateway/protectGateway";
import type { Logger } from "../../core/log";
import { parseTarget } from "../../core/protect/target";
import { defaultBridgeCommand, defaultSocketPath } from "../../core/protect/transport";
import type { ZonesModel } from "../model/zonesModel";
import type { ZonesSettings } from "../settingsSchema";
import { terminalTargetFor } from "../terminal/targets";

/** The extensions that can open an ssh-remote window, preferred first. */
export const remoteSshExtensions = [
  { id: "ms-vscode-remote.remote-ssh", name: "Remote - SSH" },
  { id: "jeanp413.open-remote-ssh", name: "Open Remote - SSH" },
] as const;

/** What opening a window led to. */
export type OpenOutcome =
  | { readonly kind: "opened"; readonly alias: string; readonly uri: string }
  | { readonly kind: "needsExtension"; readonly alias: string; readonly uri: string }
  | { readonly kind: "gone" };

/** Writes the alias of a workload and opens a window in it. */
export class ZoneWindows {
  constructor(
    private readonly deps: {
      readonly model: ZonesModel;
      readonly settings: () => ZonesSettings;
      /** The extension's folder: dist/zonectl.js is the ProxyCommand. */
      readonly extensionPath: string;
      readonly log: Logger;
      /** Where ~ is (tests point it elsewhere). */
      readonly home?: string;
    },
  ) {}

  /**
   * The ssh alias of a zone or workload, written to our ssh config file (included from
   * ~/.ssh/config), with the folder a window should open.
   */
  writeEntry(where: {
    hostId: string;
    zoneId: string;
    workloadId?: string;
  }): { alias: string; folder: string | undefined; includeAdded: string | undefined } | undefined {
    const record = this.deps.model.host(where.hostId);
    const target = terminalTargetFor(this.deps.model, where);
    if (!record || record.entry.kind === "invalid" || !target) return undefined;
    const hostText = record.entry.id;
    const zone = target.zoneName;
    const workload = target.workloadName;
    const entry: GatewayEntry = {
      alias: gatewayAlias(parseTarget(hostText), zone, workload),
      host: hostText,
      zone: workload ? `${zone}/${workload}` : zone,
      ...(target.user && /^[A-Za-z0-9_][A-Za-z0-9._-]*$/.test(target.user) ? { user: target.user } : {}),
    };
    const home = this.deps.home ?? homedir();
    const files = new GatewaySshConfig(gatewayDirectory(home));
    files.add([entry], this.#zonectl());
    const include = ensureInclude(join(home, ".ssh", "config"), files.configPath);
    this.deps.log.info(
      `ssh alias ${entry.alias} → ${entry.zone} on ${hostText} written to ${files.configPath}`,
    );
    return {
      alias: entry.alias,
      folder: target.workingDirectory,
      includeAdded: include.changed ? (include.backup ?? "") : undefined,
    };
  }

  /** Writes the alias and opens the window when an ssh-remote extension is there. */
  async open(where: { hostId: string; zoneId: string; workloadId?: string }): Promise<OpenOutcome> {
    const written = this.writeEntry(where);
    if (!written) return { kind: "gone" };
    if (written.includeAdded !== undefined)
      void vscode.window.showInformationMessage(
        `Zones: ~/.ssh/config now includes ${gatewayDirectory(this.deps.home ?? homedir())}/config (one line at the top${written.includeAdded ? `; the old file is ${written.includeAdded}` : ""}).`,
      ); // informational
    const uri = `vscode-remote://ssh-remote+${written.alias}${written.folder ?? "/"}`;
    if (!remoteSshExtensions.some((e) => vscode.extensions.getExtension(e.id)))
      return { kind: "needsExtension", alias: written.alias, uri };
    await vscode.commands.executeCommand("vscode.openFolder", vscode.Uri.parse(uri), {
      forceNewWindow: true,
    });
    return { kind: "opened", alias: written.alias, uri };
  }

  /** The command ssh runs: this VS Code's Node (Electron as Node) with the bundled zonectl and the host settings. */
  #zonectl(): string[] {
    const s = this.deps.settings();
    return zonectlCommandWords({
      node: process.execPath,
      script: join(this.deps.extensionPath, "dist", "zonectl.js"),
      electron: process.versions["electron"] !== undefined,
      env: {
        ...(s.sshConfigFile ? { ZONECTL_SSH_CONFIG: s.sshConfigFile } : {}),
        ...(s.daemonSocket !== defaultSocketPath ? { ZONECTL_SOCKET: s.daemonSocket } : {}),
        ...(s.bridgeCommand !== defaultBridgeCommand ? { ZONECTL_BRIDGE: s.bridgeCommand } : {}),
      },
    });
  }
}
