import * as vscode from "vscode";
import { messageOf } from "../../core/errors";
import type { Ctx } from "../ctx";
import type { ZonesCommand } from "./command";
import { zoneDescription } from "../tree/presentation";
import { zoneStateName } from "../../core/protect/zoneFacts";

interface Target {
  hostId: string;
  zoneId: string;
  name: string;
}

/** Zones among the clicked node and the selection (tree nodes are recognised by kind). */
function targetsFrom(ctx: Ctx, clicked: unknown, selection: unknown): Target[] {
  const nodes = Array.isArray(selection) && selection.length ? selection : clicked ? [clicked] : [];
  const out: Target[] = [];
  for (const node of nodes as { kind?: unknown; hostId?: unknown; zoneId?: unknown }[]) {
    if (node?.kind !== "zone" || typeof node.hostId !== "string" || typeof node.zoneId !== "string") continue;
    const zone = ctx.model.zone(node.hostId, node.zoneId);
    out.push({ hostId: node.hostId, zoneId: node.zoneId, name: zone?.spec?.name || node.zoneId });
  }
  return out;
}

async function pickZones(ctx: Ctx): Promise<Target[]> {
  const items = ctx.model.hosts().flatMap((h) =>
    ctx.model.zones(h.entry.id).map((z) => ({
      label: z.spec?.name || z.id,
      description: `${zoneStateName(z.status?.state)} · ${h.entry.label}`,
      detail: zoneDescription(z),
      target: { hostId: h.entry.id, zoneId: z.id, name: z.spec?.name || z.id },
    })),
  );
  if (!items.length) {
    void vscode.window.showInformationMessage("Zones: there are no zones on connected hosts."); // informational
    return [];
  }
  const picked = await vscode.window.showQuickPick(items, {
    placeHolder: "Select zones to destroy",
    canPickMany: true,
    matchOnDescription: true,
  });
  return picked?.map((p) => p.target) ?? [];
}

/**
 * Destroys zones (multi-select in the tree, or a multi-pick from the palette) after one modal
 * confirmation. The tree follows from the host's events; failures say what the host said.
 */
export const destroyZoneCommand: ZonesCommand = {
  id: "zones.zone.destroy",
  async run(ctx, clicked, selection) {
    const targets = clicked === undefined ? await pickZones(ctx) : targetsFrom(ctx, clicked, selection);
    if (!targets.length) return;
    const names = targets.map((t) => t.name);
    const destroy = "Destroy";
    const answer = await vscode.window.showWarningMessage(
      targets.length === 1 ? `Destroy zone ${names[0]}?` : `Destroy ${targets.length} zones?`,
      {
        modal: true,
        detail: `${targets.length > 1 ? `${names.join(", ")}\n\n` : ""}Its workloads are stopped and everything inside the zone is lost.`,
      },
      destroy,
    );
    if (answer !== destroy) return;
    await vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: `Destroying ${targets.length === 1 ? names[0] : `${targets.length} zones`}`,
      },
      async () => {
        await Promise.all(
          targets.map(async (t) => {
            const host = ctx.connections.session(t.hostId)?.protect;
            try {
              if (!host)
                throw new Error(`${ctx.model.host(t.hostId)?.entry.label ?? t.hostId} is not connected`);
              ctx.logger.info(`[${t.hostId}] destroying zone ${t.name} (${t.zoneId})`);
              await host.destroyZone(t.zoneId);
            } catch (err) {
              ctx.logger.error(`[${t.hostId}] destroying zone ${t.name} failed: ${messageOf(err)}`);
              void vscode.window.showErrorMessage(`Zones: could not destroy ${t.name}: ${messageOf(err)}`); // reported, not awaited
            }
          }),
        );
      },
    );
  },
};
