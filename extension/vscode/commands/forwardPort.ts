import * as vscode from "vscode";
import { messageOf } from "../../core/errors";
import { parseForwardArg } from "../../core/forward/errors";
import type { ZoneForward } from "../forwards";
import type { ZonesCommand } from "./command";
import { resolveZoneOrWorkload } from "./pick";

/** `http://127.0.0.1:PORT` as the user's browser can reach it (code-server maps it to its proxy). */
export async function openForwardInBrowser(forward: ZoneForward): Promise<boolean> {
  const host =
    forward.info.localAddress === "0.0.0.0" || forward.info.localAddress === "::"
      ? "127.0.0.1"
      : forward.info.localAddress;
  const local = vscode.Uri.parse(
    `http://${host.includes(":") ? `[${host}]` : host}:${forward.info.localPort}/`,
  );
  return vscode.env.openExternal(await vscode.env.asExternalUri(local));
}

/** "127.0.0.1:8080 → web:80". */
export function forwardLabel(f: ZoneForward): string {
  return `${f.info.localAddress}:${f.info.localPort} → ${f.zoneName}:${f.zonePort}`;
}

/** Tells where a new forward listens, with Open in Browser. */
export async function announceForward(forward: ZoneForward): Promise<void> {
  const open = "Open in Browser";
  const choice = await vscode.window.showInformationMessage(
    `Zones: forwarding ${forwardLabel(forward)}`,
    open,
    "Show Forwards",
  );
  if (choice === open) await openForwardInBrowser(forward);
  else if (choice === "Show Forwards") await vscode.commands.executeCommand("zones.forward.list");
}

/**
 * Forward Port…: a port inside a zone (or its workload, which shares the zone's network) to a
 * local port, through the daemon (DialNetworkSocket). `PORT` or `PORT:LOCAL`; a taken local
 * port falls back to a free one. Returns the forward.
 */
export const forwardPortCommand: ZonesCommand = {
  id: "zones.forward.add",
  async run(ctx, arg, portArg) {
    const where = await resolveZoneOrWorkload(ctx, arg, "Forward a port of…", { workloads: false });
    if (!where) return undefined;
    const zoneName = ctx.model.zone(where.hostId, where.zoneId)?.spec?.name || where.zoneId;
    const text =
      typeof portArg === "string" || typeof portArg === "number"
        ? String(portArg)
        : await vscode.window.showInputBox({
            title: `Forward a port of ${zoneName}`,
            prompt: "The port inside the zone, optionally :LOCAL for the local port (0 picks a free one)",
            placeHolder: "8080 or 8080:18080",
            validateInput: (value) => {
              try {
                parseForwardArg(value);
                return undefined;
              } catch (err) {
                return messageOf(err);
              }
            },
          });
    if (!text) return undefined;
    try {
      const { zonePort, localPort } = parseForwardArg(text);
      const forward = await ctx.forwards.open({
        hostId: where.hostId,
        zoneId: where.zoneId,
        zonePort,
        localPort,
      });
      void announceForward(forward); // a notification; nothing waits for it
      return forward;
    } catch (err) {
      void vscode.window.showErrorMessage(
        `Zones: could not forward ${text} of ${zoneName}: ${messageOf(err)}`,
      ); // informational
      return undefined;
    }
  },
};
