import { ZoneConsole } from "../../core/terminal/consoleSession";
import type { Command } from "../command";
import { openHost } from "../hostTarget";

/** Without -f: the console is printed until it has been quiet this long. */
const quietMs = 300;

/**
 * `zonectl logs ZONE [-f]`: the zone's kernel console (AttachZoneConsole) with the history
 * the host kept. Without -f it prints what is there and returns once the console is quiet;
 * with -f it follows until Ctrl-C or the zone stops.
 */
export const logsCommand: Command = {
  name: "logs",
  summary: "print a zone's console (with history); -f follows it",
  usage: "ZONE [-f]",
  options: {
    follow: { type: "boolean", short: "f" },
  },
  async run(ctx, { values, positionals }) {
    if (positionals.length !== 1) {
      ctx.stderr.write(`zonectl logs: name one zone\nusage: zonectl logs ${logsCommand.usage}\n`);
      return 2;
    }
    const follow = values["follow"] === true;
    const host = await openHost(ctx);
    try {
      const zone = await host.resolveZone(positionals[0]!, { signal: ctx.signal });
      let timer: NodeJS.Timeout | undefined;
      const quiet = (): void => {
        if (follow) return;
        clearTimeout(timer);
        timer = setTimeout(() => zoneConsole.detach(), quietMs);
      };
      const zoneConsole = new ZoneConsole(host, zone.id, {
        signal: ctx.signal,
        replayHistory: true,
        onStdout: (d) => {
          ctx.stdout.write(d);
          quiet();
        },
      });
      quiet();
      try {
        await zoneConsole.ended;
      } catch (err) {
        if (!ctx.signal.aborted) throw err;
      } finally {
        clearTimeout(timer);
      }
      return 0;
    } finally {
      host.close();
    }
  },
};
