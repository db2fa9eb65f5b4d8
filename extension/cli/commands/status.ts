import { formatBytes } from "../../core/format";
import { hostStatusView, zoneView } from "../../core/protect/views";
import type { Command } from "../command";
import { openHost } from "../hostTarget";

/**
 * `zonectl status`: what the daemon says about its host, how we reach it, and a zone count.
 * With --json: `{ target, route, hostUuid, hostDomid, protectVersion, hostIpv4, hostIpv6,
 * hostMac, hypervisorFreeMemory, zones: { total, byState: { ready: n, … } } }`.
 */
export const statusCommand: Command = {
  name: "status",
  summary: "show the host's Protect status and how zonectl reaches it",
  usage: "[--json]",
  async run(ctx, { positionals }) {
    if (positionals.length) {
      ctx.stderr.write(`zonectl status: takes no arguments\nusage: zonectl status ${statusCommand.usage}\n`);
      return 2;
    }
    const host = await openHost(ctx);
    try {
      const status = hostStatusView(await host.status({ signal: ctx.signal }));
      const zones = (await host.listZones({ signal: ctx.signal })).map(zoneView);
      const byState: Record<string, number> = {};
      for (const z of zones) byState[z.state] = (byState[z.state] ?? 0) + 1;
      const route = host.route ?? null;
      if (ctx.globals.json) {
        ctx.stdout.write(
          `${JSON.stringify({ target: host.name, route, ...status, zones: { total: zones.length, byState } }, null, 2)}\n`,
        );
        return 0;
      }
      const lines: [string, string][] = [
        ["host", `${host.name}${route ? ` (via ${route})` : ""}`],
        ["protect", status.protectVersion || "-"],
        ["host uuid", status.hostUuid || "-"],
        ["host ipv4", status.hostIpv4 || "-"],
        ["host ipv6", status.hostIpv6 || "-"],
        [
          "free memory",
          status.hypervisorFreeMemory === null ? "-" : formatBytes(status.hypervisorFreeMemory),
        ],
        [
          "zones",
          zones.length
            ? `${zones.length} (${Object.entries(byState)
                .map(([s, n]) => `${n} ${s}`)
                .join(", ")})`
            : "0",
        ],
      ];
      const width = Math.max(...lines.map(([k]) => k.length));
      ctx.stdout.write(lines.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n") + "\n");
      return 0;
    } finally {
      host.close();
    }
  },
};
