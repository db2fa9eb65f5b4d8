import type { ProtectHost } from "../../core/protect/host";
import { formatMiB } from "../../core/format";
import { formatAge, zoneView } from "../../core/protect/views";
import type { ZoneView } from "../../core/protect/views";
import type { Command } from "../command";
import { openHost } from "../hostTarget";

/**
 * `zonectl ls`: the zones of a host as a table, or with --json as a JSON array of zone objects:
 * `{ id, name, state, ipv4, ipv6, vcpus, memoryMiB, createdAt, readyAt, error, exitCode, domid }`
 * — camelCase, states as words ("creating", "ready", "failed", …), null for what is unknown.
 * That shape is stable (extension/core/protect/views.ts, ZoneView): fields may be added, not changed.
 */
export const lsCommand: Command = {
  name: "ls",
  summary: "list the zones of a host",
  usage: "[--json]\n\nColumns: NAME ID STATE IP VCPUS MEMORY AGE. --json prints an array of zone objects.",
  async run(ctx, { positionals }) {
    if (positionals.length) {
      ctx.stderr.write(`zonectl ls: takes no arguments\nusage: zonectl ls ${lsCommand.usage}\n`);
      return 2;
    }
    const host = await openHost(ctx);
    try {
      const zones = await listViews(host, ctx.signal);
      if (ctx.globals.json) ctx.stdout.write(`${JSON.stringify(zones, null, 2)}\n`);
      else ctx.stdout.write(zoneTable(zones));
      return 0;
    } finally {
      host.close();
    }
  },
};

async function listViews(host: ProtectHost, signal: AbortSignal): Promise<ZoneView[]> {
  const zones = (await host.listZones({ signal })).map(zoneView);
  return zones.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
}

/** The `zonectl ls` table; "No zones." when there are none. */
export function zoneTable(zones: readonly ZoneView[], now: Date = new Date()): string {
  if (!zones.length) return "No zones.\n";
  const rows = [
    ["NAME", "ID", "STATE", "IP", "VCPUS", "MEMORY", "AGE"],
    ...zones.map((z) => [
      z.name || "-",
      z.id,
      z.error ? `${z.state} (${oneLine(z.error)})` : z.state,
      z.ipv4 ?? z.ipv6 ?? "-",
      z.vcpus === null ? "-" : String(z.vcpus),
      z.memoryMiB === null ? "-" : formatMiB(z.memoryMiB).replace(" ", ""), // one word per column
      formatAge(z.createdAt, now),
    ]),
  ];
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => r[col]!.length)));
  return (
    rows
      .map((r) => r.map((cell, col) => (col === r.length - 1 ? cell : cell.padEnd(widths[col]!))).join("  "))
      .join("\n") + "\n"
  );
}

function oneLine(text: string): string {
  const line = text.split("\n")[0] ?? "";
  return line.length > 60 ? `${line.slice(0, 57)}...` : line;
}
