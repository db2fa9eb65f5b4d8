import { devcontainerRemoteEnv, resolveExecTarget } from "../../core/launch/targets";
import { pickShell, runTerminalSession } from "../../core/terminal/terminalSession";
import type { Command } from "../command";
import { openHost } from "../hostTarget";

/**
 * `zonectl shell ZONE[/WORKLOAD] [-u USER]`: an interactive login shell (bash if the image has
 * it, else sh) on a PTY that follows the local terminal's size, as the devcontainer's
 * remoteUser in its workspace folder with its remoteEnv. Exits with the shell's exit code.
 */
export const shellCommand: Command = {
  name: "shell",
  summary: "open an interactive shell in a zone's workload",
  usage: "ZONE[/WORKLOAD] [-u USER]",
  options: {
    user: { type: "string", short: "u" },
  },
  async run(ctx, { values, positionals }) {
    if (positionals.length !== 1) {
      ctx.stderr.write(`zonectl shell: name one zone\nusage: zonectl shell ${shellCommand.usage}\n`);
      return 2;
    }
    const host = await openHost(ctx);
    try {
      const t = await resolveExecTarget(host, positionals[0]!, ctx.signal);
      const user = typeof values["user"] === "string" ? values["user"] : t.user;
      const target = {
        zoneId: t.zone.id,
        ...(t.workload ? { workloadId: t.workload.id } : {}),
        ...(user ? { user } : {}),
      };
      const command = await pickShell(host, target, ctx.signal);
      const remoteEnv = await devcontainerRemoteEnv(host, t, ctx.env, ctx.signal);
      return await runTerminalSession(
        host,
        {
          ...target,
          command,
          env: { TERM: ctx.env["TERM"] || "xterm-256color", ...remoteEnv },
          ...(t.workingDirectory ? { workingDirectory: t.workingDirectory } : {}),
        },
        { stdin: ctx.stdin, stdout: ctx.stdout, stderr: ctx.stderr },
        { tty: true, stdin: true, signal: ctx.signal },
      );
    } finally {
      host.close();
    }
  },
};
