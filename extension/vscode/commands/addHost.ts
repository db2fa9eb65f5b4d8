import * as vscode from "vscode";
import type { ZonesCommand } from "./command";
import { parseHostEntry } from "../model/hostEntry";
import { sshConfigAliases } from "../../core/ssh/config";

interface HostPick extends vscode.QuickPickItem {
  value?: string;
  action?: "destination" | "socket";
}

/** Adds a host to `zones.hosts`: an alias from ssh config, a typed destination, or a local socket. */
export const addHostCommand: ZonesCommand = {
  id: "zones.host.add",
  async run(ctx, arg) {
    const current = ctx.settings.current.hosts;
    let value = typeof arg === "string" ? arg : undefined;
    if (value === undefined) {
      const aliases = sshConfigAliases(ctx.settings.current.sshConfigFile || undefined).filter(
        (a) => !current.includes(a),
      );
      const items: HostPick[] = [
        {
          label: "$(edit) Enter an SSH destination…",
          description: "user@host[:port]",
          action: "destination",
        },
        {
          label: "$(plug) Local socket…",
          description: "unix:///path/to/daemon.socket (e.g. the dev host)",
          action: "socket",
        },
        ...(aliases.length
          ? [{ label: "From ssh config", kind: vscode.QuickPickItemKind.Separator } as HostPick]
          : []),
        ...aliases.map((a) => ({ label: `$(server) ${a}`, value: a })),
      ];
      const picked = await vscode.window.showQuickPick(items, { placeHolder: "Add a Styrolite host" });
      if (!picked) return;
      value =
        picked.value ??
        (
          await vscode.window.showInputBox({
            title: "Add Host",
            prompt:
              picked.action === "socket"
                ? "Socket of a local Protect-compatible daemon"
                : "SSH destination or ssh config alias",
            placeHolder: picked.action === "socket" ? "unix:///run/zones/devhost.socket" : "user@host:port",
            value: picked.action === "socket" ? "unix://" : "",
            validateInput: (text) => {
              const entry = parseHostEntry(text.trim());
              return entry.kind === "invalid" ? entry.message : undefined;
            },
          })
        )?.trim();
    }
    if (!value) return;
    if (current.includes(value)) {
      void vscode.window.showInformationMessage(`Zones: ${value} is already in the list.`); // informational
      return;
    }
    await ctx.settings.setHosts([...current, value]);
  },
};
