import { loggerFrom } from "../../core/log";
import { devHostFlags, devHostOptionsFrom, devHostUsage, runDevHost } from "../../devhost/runDevHost";
import type { Command } from "../command";

/** `zonectl dev-host`: a local Protect-compatible host with real sandboxes, until Ctrl-C. */
export const devHostCommand: Command = {
  name: "dev-host",
  summary:
    "Run a local Protect-compatible host until Ctrl-C: zones are Linux sandboxes sharing this kernel, or QEMU VMs (--sandbox vm)",
  usage: devHostUsage,
  options: devHostFlags,
  async run(ctx, { values }) {
    const options = devHostOptionsFrom(values);
    if ("error" in options) {
      ctx.stderr.write(`zonectl dev-host: ${options.error}\n`);
      return 2;
    }
    await runDevHost({
      ...options,
      // A daemon's progress is worth seeing without -v: info and above go to stderr.
      log: loggerFrom(
        (level, line) => ctx.stderr.write(`${new Date().toISOString()} ${level}: ${line}\n`),
        ctx.globals.verbose ? "debug" : "info",
      ),
      out: (line) => ctx.stdout.write(`${line}\n`),
      signal: ctx.signal,
    });
    return 0;
  },
};
