import * as vscode from "vscode";
import type { ZoneForward } from "../forwards";
import type { ZonesCommand } from "./command";
import { forwardLabel, openForwardInBrowser } from "./forwardPort";

interface ForwardItem extends vscode.QuickPickItem {
  forward: ZoneForward;
}

const openButton: vscode.QuickInputButton = {
  iconPath: new vscode.ThemeIcon("globe"),
  tooltip: "Open in Browser",
};
const copyButton: vscode.QuickInputButton = {
  iconPath: new vscode.ThemeIcon("copy"),
  tooltip: "Copy Local Address",
};
const stopButton: vscode.QuickInputButton = {
  iconPath: new vscode.ThemeIcon("debug-stop"),
  tooltip: "Stop Forwarding",
};

/**
 * Show Port Forwards: every active forward with its local address, open connections and host;
 * each row opens in the browser (Enter) or, by its buttons, copies the address or stops.
 */
export const listForwardsCommand: ZonesCommand = {
  id: "zones.forward.list",
  async run(ctx) {
    const items = (): ForwardItem[] =>
      ctx.forwards.list().map((f) => ({
        label: `$(plug) ${forwardLabel(f)}`,
        description: `${f.label ? `${f.label} · ` : ""}${ctx.hosts.label(f.hostId)}`,
        detail: `${f.info.connections} open connection${f.info.connections === 1 ? "" : "s"}, ${f.info.accepted} since it started`,
        buttons: [openButton, copyButton, stopButton],
        forward: f,
      }));
    if (!ctx.forwards.list().length) {
      void vscode.window.showInformationMessage(
        "Zones: no ports are forwarded. Use “Forward Port…” on a zone.",
      ); // informational
      return;
    }
    const pick = vscode.window.createQuickPick<ForwardItem>();
    pick.title = "Port Forwards";
    pick.placeholder = "Enter opens in the browser; the buttons copy the address or stop the forward";
    pick.items = items();
    const refresh = ctx.forwards.onDidChange(() => {
      pick.items = items();
      if (!pick.items.length) pick.hide();
    });
    pick.onDidTriggerItemButton(async ({ item, button }) => {
      if (button === openButton) await openForwardInBrowser(item.forward);
      else if (button === copyButton) {
        await vscode.env.clipboard.writeText(
          `${item.forward.info.localAddress}:${item.forward.info.localPort}`,
        );
        vscode.window.setStatusBarMessage(
          `Copied ${item.forward.info.localAddress}:${item.forward.info.localPort}`,
          3000,
        );
      } else if (button === stopButton) await ctx.forwards.close(item.forward.id);
    });
    pick.onDidAccept(async () => {
      const chosen = pick.selectedItems[0];
      pick.hide();
      if (chosen) await openForwardInBrowser(chosen.forward);
    });
    pick.onDidHide(() => {
      refresh.dispose();
      pick.dispose();
    });
    pick.show();
  },
};
