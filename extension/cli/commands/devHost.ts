import { loggerFrom } from "../../core/log";
import { acceleratorChoices, choiceOf, runDevHost, sandboxChoices } from "../../devhost/runDevHost";
import type { Command } from "../command";

/** `zonectl dev-host`: a local Protect-compatible host with real sandboxes, until Ctrl-C. */
export const devHostCommand: Command = {
  name: "dev-host",
  summary:
    "Run a local Protect-compatible host until Ctrl-C: zones are Linux sandboxes sharing this kernel, or QEMU VMs (--sandbox vm)",
  usage:
    "[--socket PATH] [--state DIR] [--ssh 127.0.0.1:PORT] [--prometheus 127.0.0.1:PORT] [--authorized-keys FILE]… [--mount-root DIR]… [--sandbox auto|namespaces|process|vm] [--vm-accel auto|kvm|tcg]",
  options: {
    socket: { type: "string" },
    state: { type: "string" },
    ssh: { type: "string" },
    prometheus: { type: "string" },
    "authorized-keys": { type: "string", multiple: true },
    "mount-root": { type: "string", multiple: true },
    sandbox: { type: "string" },
    "vm-accel": { type: "string" },
  },
  async run(ctx, { values }) {
    const str = (key: string): string | undefined =>
      typeof values[key] === "string" ? values[key] : undefined;
    const sandbox = choiceOf(sandboxChoices, str("sandbox"));
    if (str("sandbox") !== undefined && !sandbox) {
      ctx.stderr.write(`zonectl dev-host: --sandbox must be ${sandboxChoices.join(", ")}\n`);
      return 2;
    }
    const vmAccelerator = choiceOf(acceleratorChoices, str("vm-accel"));
    if (str("vm-accel") !== undefined && !vmAccelerator) {
      ctx.stderr.write(`zonectl dev-host: --vm-accel must be ${acceleratorChoices.join(", ")}\n`);
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
      vmAccelerator,
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
