import { delay } from "../../core/abort";
import { zoneSampleFromTree } from "../../core/metrics/metricTree";
import { limitsFromZone } from "../../core/metrics/zoneEvents";
import { formatBytes } from "../../core/format";
import { messageOf } from "../../core/errors";
import type { ProtectHost } from "../../core/protect/host";
import { ZoneState } from "../../proto/gen/protect/control/v1/common_pb";
import type { Zone } from "../../proto/gen/protect/control/v1/common_pb";
import type { Command } from "../command";
import { openHost } from "../hostTarget";

/** One row of `zonectl top`; also its --json shape. */
export interface TopRow {
  readonly id: string;
  readonly name: string;
  /** 0–100 % of the zone's vCPUs together; null when the host reports no CPU figure (yet). */
  readonly cpuPercent: number | null;
  readonly vcpus: number | null;
  readonly memoryUsedBytes: number | null;
  /** The zone's memory limit (target), else what the guest reports as its total. */
  readonly memoryLimitBytes: number | null;
  readonly processes: number;
  readonly error: string | null;
}

async function readRow(host: ProtectHost, zone: Zone, signal: AbortSignal): Promise<TopRow> {
  const limits = limitsFromZone(zone);
  const base = { id: zone.id, name: zone.spec?.name ?? "", vcpus: limits?.targetCpus ?? null };
  try {
    const root = await host.readZoneMetrics(zone.id, { signal });
    const sample = zoneSampleFromTree(root, Date.now());
    return {
      ...base,
      cpuPercent: sample.cpuPercent,
      memoryUsedBytes: sample.memoryUsed,
      memoryLimitBytes: limits?.targetMemoryBytes ?? sample.memoryTotal,
      processes: sample.processes.length,
      error: null,
    };
  } catch (err) {
    if (signal.aborted) throw err;
    return {
      ...base,
      cpuPercent: null,
      memoryUsedBytes: null,
      memoryLimitBytes: limits?.targetMemoryBytes ?? null,
      processes: 0,
      error: messageOf(err),
    };
  }
}

async function readRows(host: ProtectHost, only: Zone | undefined, signal: AbortSignal): Promise<TopRow[]> {
  const zones = only
    ? [await host.getZone(only.id, { signal })]
    : (await host.listZones({ signal })).filter((z) => z.status?.state === ZoneState.READY);
  const rows = await Promise.all(zones.map((z) => readRow(host, z, signal)));
  return rows.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
}

/** The table; "No running zones." when empty. */
export function topTable(rows: readonly TopRow[]): string {
  if (!rows.length) return "No running zones.\n";
  const table = [
    ["NAME", "ID", "CPU %", "VCPUS", "MEMORY USED / LIMIT", "PROCS"],
    ...rows.map((r) => [
      r.name || "-",
      r.id,
      r.error ? "error" : r.cpuPercent === null ? "-" : r.cpuPercent.toFixed(1),
      r.vcpus === null ? "-" : String(r.vcpus),
      r.error
        ? r.error.slice(0, 60)
        : `${r.memoryUsedBytes === null ? "-" : formatBytes(r.memoryUsedBytes)} / ${r.memoryLimitBytes === null ? "-" : formatBytes(r.memoryLimitBytes)}`,
      String(r.processes),
    ]),
  ];
  const widths = table[0]!.map((_, c) => Math.max(...table.map((row) => row[c]!.length)));
  return (
    table
      .map((row) => row.map((cell, c) => (c === row.length - 1 ? cell : cell.padEnd(widths[c]!))).join("  "))
      .join("\n") + "\n"
  );
}

/**
 * `zonectl top [ZONE]`: CPU % and memory used/limit per running zone from ReadZoneMetrics
 * (the metric tree is walked, not indexed by path). On a terminal it refreshes in place every
 * --interval seconds until Ctrl-C; otherwise, and with --json, it prints one snapshot.
 */
export const topCommand: Command = {
  name: "top",
  summary: "live CPU and memory of zones (one snapshot with --json or when not on a terminal)",
  usage: "[ZONE] [--interval SECONDS] [--json]",
  options: {
    interval: { type: "string" },
  },
  async run(ctx, { values, positionals }) {
    if (positionals.length > 1) {
      ctx.stderr.write(`zonectl top: at most one ZONE\nusage: zonectl top ${topCommand.usage}\n`);
      return 2;
    }
    const interval = Number(typeof values["interval"] === "string" ? values["interval"] : "2");
    if (!(interval >= 0.2)) {
      ctx.stderr.write("zonectl top: --interval takes seconds (at least 0.2)\n");
      return 2;
    }
    const host = await openHost(ctx);
    try {
      const zone = positionals[0]
        ? await host.resolveZone(positionals[0], { signal: ctx.signal })
        : undefined;
      const live = ctx.stdout.isTTY === true && !ctx.globals.json;
      if (!live) {
        // CPU % is a rate: a host that computes it between reads has none on the first one.
        let rows = await readRows(host, zone, ctx.signal);
        if (rows.some((r) => r.cpuPercent === null && !r.error)) {
          await delay(500, ctx.signal);
          rows = await readRows(host, zone, ctx.signal);
        }
        ctx.stdout.write(ctx.globals.json ? `${JSON.stringify(rows, null, 2)}\n` : topTable(rows));
        return 0;
      }
      try {
        for (;;) {
          const rows = await readRows(host, zone, ctx.signal);
          // Home, clear to the end: redraw in place without scrolling the terminal.
          ctx.stdout.write(
            `\x1b[H\x1b[J${host.name}  ${new Date().toLocaleTimeString()}  (every ${interval} s, Ctrl-C quits)\n\n${topTable(rows)}`,
          );
          await delay(interval * 1000, ctx.signal);
        }
      } catch (err) {
        if (ctx.signal.aborted) return 0;
        throw err;
      }
    } finally {
      host.close();
    }
  },
};
