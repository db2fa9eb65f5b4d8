import { devcontainerRemoteEnv, resolveExecTarget } from "../../core/launch/targets";
import { runTerminalSession } from "../../core/terminal/terminalSession";
import type { Command } from "../command";
import { openHost } from "../hostTarget";

/**
 * `zonectl exec ZONE[/WORKLOAD] [-t] [-i] [-u USER] [-w DIR] [-e NAME=VALUE]… -- CMD…`: runs
 * CMD as an argv (no shell) in the workload — ZONE alone picks its running workload (for a
 * Compose project the dev service; ZONE/SERVICE names another service), or the zone itself
 * when none runs — and exits with CMD's exit code. A workload `up` made gets its
 * devcontainer's remoteEnv (when its devcontainer.json is on this machine). Piped stdin is streamed and
 * closed at its end; a terminal stdin only with -i or -t. -t allocates a PTY of the local
 * terminal's size that follows it on resize.
 */
export const execCommand: Command = {
  name: "exec",
  summary: "run a command in a zone's workload (exit code passed through)",
  usage: "ZONE[/WORKLOAD|/SERVICE] [-t] [-i] [-u USER] [-w DIR] [-e NAME=VALUE]... -- CMD [ARG...]",
  passThrough: true,
  options: {
    tty: { type: "boolean", short: "t" },
    interactive: { type: "boolean", short: "i" },
    user: { type: "string", short: "u" },
    workdir: { type: "string", short: "w" },
    env: { type: "string", short: "e", multiple: true },
  },
  async run(ctx, { values, positionals }) {
    const [target, ...command] = positionals;
    if (!target || !command.length) {
      ctx.stderr.write(`zonectl exec: name a zone and a command\nusage: zonectl exec ${execCommand.usage}\n`);
      return 2;
    }
    const env: Record<string, string> = {};
    for (const pair of (values["env"] as string[] | undefined) ?? []) {
      const eq = pair.indexOf("=");
      if (eq <= 0) {
        ctx.stderr.write(`zonectl exec: -e takes NAME=VALUE, not '${pair}'\n`);
        return 2;
      }
      env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
    const tty = values["tty"] === true;
    const forwardStdin = tty || values["interactive"] === true || !ctx.stdin.isTTY;
    const host = await openHost(ctx);
    try {
      const t = await resolveExecTarget(host, target, ctx.signal);
      const user = typeof values["user"] === "string" ? values["user"] : t.user;
      const workingDirectory = typeof values["workdir"] === "string" ? values["workdir"] : t.workingDirectory;
      const remoteEnv = await devcontainerRemoteEnv(host, t, ctx.env, ctx.signal);
      return await runTerminalSession(
        host,
        {
          zoneId: t.zone.id,
          ...(t.workload ? { workloadId: t.workload.id } : {}),
          command,
          env: { ...(tty ? { TERM: ctx.env["TERM"] || "xterm-256color" } : {}), ...remoteEnv, ...env },
          ...(workingDirectory ? { workingDirectory } : {}),
          ...(user ? { user } : {}),
        },
        { stdin: ctx.stdin, stdout: ctx.stdout, stderr: ctx.stderr },
        { tty, stdin: forwardStdin, signal: ctx.signal },
      );
    } finally {
      host.close();
    }
  },
};
