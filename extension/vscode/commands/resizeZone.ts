import * as vscode from "vscode";
import { messageOf } from "../../core/errors";
import { formatMiB } from "../../core/format";
import { parseMemoryMiB, resourcesInForce } from "../../core/protect/zoneFacts";
import type { ZonesCommand } from "./command";
import { resolveZone } from "./pick";

/**
 * Resize Resources…: asks for vCPUs and memory with the zone's current target and maximum
 * shown, then sets the new target (UpdateZoneResources). The tree and dashboards follow from
 * the host's events.
 */
export const resizeZoneCommand: ZonesCommand = {
  id: "zones.zone.resize",
  async run(ctx, arg) {
    const target = await resolveZone(ctx, arg, "Select a zone to resize");
    if (!target) return false;
    const zone = ctx.model.zone(target.hostId, target.zoneId);
    if (!zone) return false;
    const name = zone.spec?.name || zone.id;
    const r = resourcesInForce(zone);
    const cpuText = await vscode.window.showInputBox({
      title: `Resize ${name} (1/2): vCPUs`,
      prompt: r
        ? `Target vCPUs — now ${r.targetCpus}${r.maxCpus ? `, max ${r.maxCpus}` : ""}. The maximum grows if you go beyond it.`
        : "Target vCPUs",
      value: String(r?.targetCpus ?? 1),
      validateInput: (v) =>
        /^\d+$/.test(v.trim()) && Number(v) >= 1 && Number(v) <= 4096
          ? undefined
          : "A whole number of vCPUs, at least 1",
    });
    if (cpuText === undefined) return false;
    const memoryText = await vscode.window.showInputBox({
      title: `Resize ${name} (2/2): memory`,
      prompt: r
        ? `Target memory in MiB (or 2g, 512m) — now ${formatMiB(r.targetMemory)}${r.maxMemory > 0n ? `, max ${formatMiB(r.maxMemory)}` : ""}.`
        : "Target memory in MiB (or 2g, 512m)",
      value: String(r?.targetMemory ?? 1024n),
      validateInput: (v) =>
        parseMemoryMiB(v) !== undefined ? undefined : "A size like 512, 512m or 2g (at least 16 MiB)",
    });
    if (memoryText === undefined) return false;
    const cpus = Number(cpuText.trim());
    const memory = parseMemoryMiB(memoryText)!;
    try {
      await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Resizing ${name}` },
        async () => {
          ctx.logger.info(`[${target.hostId}] resizing zone ${name} to ${cpus} vCPU, ${memory} MiB`);
          const host = await ctx.hosts.wait(target.hostId);
          await host.resizeZone(ctx.model.zone(target.hostId, target.zoneId) ?? target.zoneId, cpus, memory);
        },
      );
      vscode.window.setStatusBarMessage(
        `Zones: ${name} resized to ${cpus} vCPU, ${formatMiB(BigInt(memory))}`,
        5000,
      );
      return true;
    } catch (err) {
      ctx.logger.warn(`[${target.hostId}] resizing ${name} failed: ${messageOf(err)}`);
      void vscode.window.showErrorMessage(`Zones: could not resize ${name}: ${messageOf(err)}`); // informational
      return false;
    }
  },
};
