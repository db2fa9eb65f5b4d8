import { loggerFrom } from "../../core/log";
import { runDevHost } from "../../devhost/runDevHost";
import type { Command } from "../command";

/** `zonectl dev-host`: a local Protect-compatible host with real sandboxes, until Ctrl-C. */
export const devHostCommand: Command = {
  name: "dev-host",
  summary: "Run a local Protect-compatible host (real Linux sandboxes sharing this kernel) until Ctrl-C",
  usage:
    "[--socket PATH] [--state DIR] [--ssh 127.0.0.1:PORT] [--prometheus 127.0.0.1:PORT] [--authorized-keys FILE]… [--mount-root DIR]… [--sandbox auto|namespaces|process]",
  options: {
    socket: { type: "string" },
    state: { type: "string" },
    ssh: { type: "string" },
    prometheus: { type: "string" },
    "authorized-keys": { type: "string", multiple: true },
    "mount-root": { type: "string", multiple: true },
    sandbox: { type: "string" },
  },
  async run(ctx, { values }) {
    const str = (key: string): string | undefined =>
      typeof values[key] === "string" ? values[key] : undefined;
    const sandbox = str("sandbox");
    if (sandbox !== undefined && sandbox !== "auto" && sandbox !== "namespaces" && sandbox !== "process") {
      ctx.stderr.write("zonectl dev-host: --sandbox must be auto, namespaces or process\n");
      return 2;
    }
    const keys = values["authorized-keys"];
    await runDevHost({
      socketPath: str("socket"),
      stateDir: str("state"),
      ssh: str("ssh"),
      prometheus: str("prometheus"),
      authorizedKeys: Array.isArray(keys) ? keys.map(String) : undefined,
      mountRoots: Array.isArray(values["mount-root"]) ? values["mount-root"].map(String) : undefined,
      sandbox,
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
