import { ProtectError } from "../../core/protect/errors";
import type { Command } from "../command";
import { describeCliError } from "../errorReport";
import { openHost } from "../hostTarget";

/**
 * `zonectl rm ZONE…`: destroys zones given by name or id. Each is resolved first (an ambiguous
 * name is refused: use the id); one failure does not stop the others. With --wait it returns
 * once every zone is gone. Exit: 0 when all went, else the code of the first failure.
 * --json prints `[{ zone, id, name, result: "destroying" | "destroyed" | "error", error? }]`.
 */
export const rmCommand: Command = {
  name: "rm",
  summary: "destroy zones (by name or id)",
  usage: "[--wait] [--timeout SECONDS] ZONE…",
  options: {
    wait: { type: "boolean", short: "w" },
    timeout: { type: "string" },
  },
  async run(ctx, { values, positionals }) {
    if (!positionals.length) {
      ctx.stderr.write(`zonectl rm: name at least one zone\nusage: zonectl rm ${rmCommand.usage}\n`);
      return 2;
    }
    const timeoutText = typeof values["timeout"] === "string" ? values["timeout"] : "120";
    if (!/^\d+$/.test(timeoutText)) {
      ctx.stderr.write(`zonectl rm: --timeout takes whole seconds, not '${timeoutText}'\n`);
      return 2;
    }
    const wait = values["wait"] === true;
    const host = await openHost(ctx);
    const results: {
      zone: string;
      id: string | null;
      name: string | null;
      result: "destroying" | "destroyed" | "error";
      error?: string;
    }[] = [];
    let exitCode = 0;
    try {
      for (const arg of new Set(positionals)) {
        try {
          const zone = await host.resolveZone(arg, { signal: ctx.signal });
          const name = zone.spec?.name ?? "";
          await host.destroyZone(zone.id, { signal: ctx.signal });
          if (wait) {
            await host.waitForZone(zone.id, (z) => z === undefined, {
              timeoutMs: Number(timeoutText) * 1000,
              signal: ctx.signal,
            });
          }
          results.push({ zone: arg, id: zone.id, name, result: wait ? "destroyed" : "destroying" });
          if (!ctx.globals.json)
            ctx.stdout.write(`${wait ? "destroyed" : "destroying"} ${name || "-"} (${zone.id})\n`);
        } catch (err) {
          if (ctx.signal.aborted) throw err;
          const report = describeCliError(err);
          if (exitCode === 0) exitCode = report.exitCode;
          results.push({ zone: arg, id: null, name: null, result: "error", error: report.message });
          if (!ctx.globals.json) ctx.stderr.write(`zonectl rm: ${arg}: ${report.message}\n`);
          // An SSH or transport failure will fail the rest too: stop instead of repeating it.
          if (
            !ProtectError.is(err) ||
            !["notFound", "ambiguous", "failedPrecondition", "invalidArgument"].includes(err.reason)
          )
            break;
        }
      }
      if (ctx.globals.json) ctx.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
      return exitCode;
    } finally {
      host.close();
    }
  },
};
