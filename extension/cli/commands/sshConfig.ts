import { homedir } from "node:os";
import { join } from "node:path";
import { messageOf } from "../../core/errors";
import { gatewayAlias, gatewayDirectory } from "../../core/gateway/gatewayNames";
import { GatewaySshConfig, ensureInclude } from "../../core/gateway/gatewaySshConfig";
import type { GatewayEntry } from "../../core/gateway/gatewaySshConfig";
import { resolveExecTarget } from "../../core/launch/targets";
import { ProtectError } from "../../core/protect/errors";
import type { ProtectHost } from "../../core/protect/host";
import { parseTarget } from "../../core/protect/target";
import type { ProtectTarget } from "../../core/protect/target";
import { WorkloadState, ZoneState } from "../../proto/gen/protect/control/v1/common_pb";
import type { Zone } from "../../proto/gen/protect/control/v1/common_pb";
import type { Command } from "../command";
import { openHost, targetOf } from "../hostTarget";
import { zonectlSelf } from "../zonectlSelf";

/**
 * `zonectl ssh-config [ZONE[/WORKLOAD]…] [--write]`: ssh_config blocks that make each zone an
 * ssh destination through `zonectl ssh-proxy` (all zones of the host when none is named). They
 * pin each zone's gateway key in our own known_hosts. With --write they go to
 * ~/.ssh/styrolite-zones/config, which ~/.ssh/config includes (one line, added once, after a
 * backup); entries of this host whose zones are gone are removed.
 */
export const sshConfigCommand: Command = {
  name: "ssh-config",
  summary: "print (or --write) ssh config entries that make zones ssh destinations",
  usage: "[ZONE[/WORKLOAD]...] [--write]",
  options: { write: { type: "boolean" } },
  async run(ctx, { values, positionals }) {
    const targetText = targetOf(ctx);
    const target = parseTarget(targetText);
    const files = new GatewaySshConfig(gatewayDirectory());
    const zonectl = zonectlSelf(ctx);
    const host = await openHost(ctx);
    try {
      const zones = (await host.listZones({ signal: ctx.signal })).filter(alive);
      const wanted: GatewayEntry[] = [];
      if (positionals.length) {
        for (const text of positionals)
          wanted.push(...(await entriesFor(host, target, targetText, text, ctx.signal)));
      } else {
        for (const zone of zones)
          wanted.push(...(await entriesFor(host, target, targetText, zone.id, ctx.signal)));
      }
      if (values["write"] !== true) {
        ctx.stdout.write(files.prepare(wanted, zonectl));
        return 0;
      }
      const names = new Set(zones.flatMap((z) => (z.spec?.name ? [z.id, z.spec.name] : [z.id])));
      const byAlias = new Map<string, GatewayEntry>();
      for (const e of files.read()) {
        // Other hosts' entries stay; this host's stay while their zone exists (unless all were listed).
        const ours = e.host === targetText;
        if (!ours || (positionals.length && names.has(e.zone.split("/")[0] ?? ""))) byAlias.set(e.alias, e);
      }
      for (const e of wanted) byAlias.set(e.alias, e);
      const removed = files.write([...byAlias.values()], zonectl);
      const userConfig = join(homedir(), ".ssh", "config");
      const include = ensureInclude(userConfig, files.configPath);
      for (const e of wanted) ctx.stdout.write(`${e.alias}\n`);
      ctx.stderr.write(
        `wrote ${byAlias.size} entr${byAlias.size === 1 ? "y" : "ies"} to ${files.configPath}\n`,
      );
      if (removed.length) ctx.stderr.write(`removed (zone gone): ${removed.join(", ")}\n`);
      if (include.changed)
        ctx.stderr.write(
          `added an Include line to ${userConfig}${include.backup ? ` (the old file is ${include.backup})` : ""}\n`,
        );
      return 0;
    } finally {
      host.close();
    }
  },
};

function alive(zone: Zone): boolean {
  const state = zone.status?.state;
  return state !== ZoneState.DESTROYING && state !== ZoneState.DESTROYED;
}

/**
 * The entries for one ZONE[/WORKLOAD]: one, with the devcontainer's remoteUser; for a zone
 * running several workloads and none of them its devcontainer's, one per running workload.
 */
async function entriesFor(
  host: ProtectHost,
  target: ProtectTarget,
  targetText: string,
  text: string,
  signal: AbortSignal,
): Promise<GatewayEntry[]> {
  try {
    const t = await resolveExecTarget(host, text, signal);
    const zone = t.zone.spec?.name || t.zone.id;
    const explicit = text.includes("/");
    const workload = explicit ? t.workload?.spec?.name || t.workload?.id : undefined;
    return [entry(target, targetText, zone, workload, t.user)];
  } catch (err) {
    if (!ProtectError.is(err, "ambiguous") || text.includes("/")) throw err;
    const zone = await host.resolveZone(text, { signal });
    const name = zone.spec?.name || zone.id;
    const running = (await host.listWorkloads({ signal })).filter(
      (w) => w.spec?.zoneId === zone.id && w.status?.state === WorkloadState.RUNNING,
    );
    const out: GatewayEntry[] = [];
    for (const w of running) {
      try {
        const t = await resolveExecTarget(host, `${zone.id}/${w.id}`, signal);
        out.push(entry(target, targetText, name, w.spec?.name || w.id, t.user));
      } catch (inner) {
        throw new Error(`${name}/${w.spec?.name || w.id}: ${messageOf(inner)}`, { cause: inner });
      }
    }
    return out;
  }
}

function entry(
  target: ProtectTarget,
  targetText: string,
  zone: string,
  workload: string | undefined,
  user: string | undefined,
): GatewayEntry {
  return {
    alias: gatewayAlias(target, zone, workload),
    host: targetText,
    zone: workload ? `${zone}/${workload}` : zone,
    ...(user && /^[A-Za-z0-9_][A-Za-z0-9._-]*$/.test(user) ? { user } : {}),
  };
}
