import * as vscode from "vscode";
import type { Ctx } from "../ctx";
import type { HostRecord } from "../model/zonesModel";
import { HostNode, WorkloadNode, ZoneNode } from "../tree/nodes";
import { workloadDescription, zoneDescription } from "../tree/presentation";
import { zoneStateName } from "../../core/protect/zoneFacts";

/** The host a command is about: from a node or id argument, else picked by the user. */
export async function resolveHost(
  ctx: Ctx,
  arg: unknown,
  filter: (h: HostRecord) => boolean = () => true,
  placeHolder = "Select a host",
): Promise<HostRecord | undefined> {
  if (arg instanceof HostNode || arg instanceof ZoneNode || arg instanceof WorkloadNode)
    return ctx.model.host(arg.hostId);
  if (typeof arg === "string") return ctx.model.host(arg);
  const hosts = ctx.model.hosts().filter(filter);
  if (!hosts.length) {
    void vscode.window.showInformationMessage("Zones: no host fits. Add one with “Zones: Add Host…”."); // informational
    return undefined;
  }
  if (hosts.length === 1) return hosts[0];
  const picked = await vscode.window.showQuickPick(
    hosts.map((h) => ({ label: h.entry.label, description: h.connection.kind, record: h })),
    { placeHolder },
  );
  return picked?.record;
}

/** A zone on some connected host: from a node argument, else picked by the user. */
export async function resolveZone(
  ctx: Ctx,
  arg: unknown,
  placeHolder = "Select a zone",
): Promise<{ hostId: string; zoneId: string } | undefined> {
  if (arg instanceof ZoneNode) return { hostId: arg.hostId, zoneId: arg.zoneId };
  if (arg instanceof WorkloadNode) return { hostId: arg.hostId, zoneId: arg.parent.zoneId };
  const items = ctx.model.hosts().flatMap((h) =>
    ctx.model.zones(h.entry.id).map((z) => ({
      label: z.spec?.name || z.id,
      description: `${zoneStateName(z.status?.state)} · ${h.entry.label}`,
      detail: zoneDescription(z),
      hostId: h.entry.id,
      zoneId: z.id,
    })),
  );
  if (!items.length) {
    void vscode.window.showInformationMessage("Zones: there are no zones on connected hosts."); // informational
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(items, { placeHolder, matchOnDescription: true });
  return picked ? { hostId: picked.hostId, zoneId: picked.zoneId } : undefined;
}

/** A zone, or a workload in it, on some connected host. */
export interface ZoneOrWorkload {
  readonly hostId: string;
  readonly zoneId: string;
  readonly workloadId?: string;
}

/**
 * A zone or workload: from a tree node, else picked by the user from every running workload and
 * every zone (workloads first: a terminal is usually wanted in the container).
 */
export async function resolveZoneOrWorkload(
  ctx: Ctx,
  arg: unknown,
  placeHolder: string,
  filter: { zones?: boolean; workloads?: boolean } = {},
): Promise<ZoneOrWorkload | undefined> {
  if (arg instanceof WorkloadNode)
    return { hostId: arg.hostId, zoneId: arg.parent.zoneId, workloadId: arg.workloadId };
  if (arg instanceof ZoneNode) return { hostId: arg.hostId, zoneId: arg.zoneId };
  const items: (vscode.QuickPickItem & { target: ZoneOrWorkload })[] = [];
  for (const h of ctx.model.hosts()) {
    for (const z of ctx.model.zones(h.entry.id)) {
      const zoneName = z.spec?.name || z.id;
      if (filter.workloads !== false) {
        for (const w of ctx.model.workloads(h.entry.id, z.id)) {
          items.push({
            label: `$(package) ${w.spec?.name || w.id}`,
            description: `workload in ${zoneName} · ${h.entry.label}`,
            detail: workloadDescription(w),
            target: { hostId: h.entry.id, zoneId: z.id, workloadId: w.id },
          });
        }
      }
      if (filter.zones !== false) {
        items.push({
          label: `$(vm) ${zoneName}`,
          description: `zone · ${zoneStateName(z.status?.state)} · ${h.entry.label}`,
          detail: zoneDescription(z),
          target: { hostId: h.entry.id, zoneId: z.id },
        });
      }
    }
  }
  items.sort((a, b) => Number(b.target.workloadId !== undefined) - Number(a.target.workloadId !== undefined));
  if (!items.length) {
    void vscode.window.showInformationMessage("Zones: there are no zones on connected hosts."); // informational
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(items, { placeHolder, matchOnDescription: true });
  return picked?.target;
}
