import { parseArgs } from "node:util";
import { loggerFrom } from "../core/log";
import type { Command, CliContext, GlobalOptions } from "./command";
import { describeCliError } from "./errorReport";
import { devHostCommand } from "./commands/devHost";
import { planCommand } from "./commands/plan";
import { initCommand } from "./commands/init";
import { lsCommand } from "./commands/ls";
import { rmCommand } from "./commands/rm";
import { statusCommand } from "./commands/status";
import { upCommand } from "./commands/up";
import { execCommand } from "./commands/exec";
import { shellCommand } from "./commands/shell";
import { attachCommand } from "./commands/attach";
import { logsCommand } from "./commands/logs";
import { topCommand } from "./commands/top";
import { forwardCommand } from "./commands/forward";
import { resizeCommand } from "./commands/resize";
import { stopCommand } from "./commands/stop";
import { downCommand } from "./commands/down";
import { syncCommand } from "./commands/sync";
import { sshConfigCommand } from "./commands/sshConfig";
import { sshProxyCommand } from "./commands/sshProxy";
import { versionCommand, versionLine } from "./commands/version";
import { completionCommand } from "./commands/completion";

// Every command, in the order `zonectl help` lists them. Add a command: one file under
// commands/, one line here.
const commands: Command[] = [
  statusCommand,
  lsCommand,
  rmCommand,
  devHostCommand,
  planCommand,
  initCommand,
  upCommand,
  execCommand,
  shellCommand,
  attachCommand,
  logsCommand,
  topCommand,
  forwardCommand,
  resizeCommand,
  stopCommand,
  downCommand,
  syncCommand,
  sshConfigCommand,
  sshProxyCommand,
  versionCommand,
  completionCommand(
    () => commands,
    () => globalOptions,
  ),
];

const globalOptions = {
  host: { type: "string", short: "H" },
  json: { type: "boolean" },
  verbose: { type: "boolean", short: "v" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "V" },
} as const;

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length), 4);
  return [
    "usage: zonectl [--host DEST] [--json] [-v] <command> [args]",
    "",
    "DEST is an ssh destination (alias from ~/.ssh/config, user@host:port, ssh://user@host:port)",
    "or unix:///path/to/daemon.socket. Default: $ZONECTL_HOST, else the local daemon socket.",
    "",
    "commands:",
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "zonectl help <command> (or zonectl <command> --help) shows a command's arguments.",
    "zonectl --version prints the version; zonectl completion bash|zsh a shell completion script.",
  ].join("\n");
}

function commandHelp(command: Command): string {
  return `usage: zonectl ${command.name} ${command.usage}\n\n${command.summary}\n`;
}

export async function main(argv: string[]): Promise<number> {
  // Global flags come before the command name; everything after it belongs to the command.
  const commandIndex = argv.findIndex((arg, i) => !arg.startsWith("-") && !isOptionValue(argv, i));
  const head = commandIndex < 0 ? argv : argv.slice(0, commandIndex);
  const name = commandIndex < 0 ? undefined : argv[commandIndex];
  const rest = commandIndex < 0 ? [] : argv.slice(commandIndex + 1);

  let globalsParsed;
  try {
    globalsParsed = parseArgs({ args: head, options: globalOptions, strict: true, allowPositionals: false });
  } catch (err) {
    process.stderr.write(`zonectl: ${(err as Error).message}\n${usage()}\n`);
    return 2;
  }
  if (globalsParsed.values.version && name === undefined) {
    process.stdout.write(`${versionLine()}\n`);
    return 0;
  }
  if (name === "help" && rest.length) {
    // `zonectl help VERB`: the same text as `zonectl VERB --help`.
    const about = commands.find((c) => c.name === rest[0]);
    if (!about || rest.length > 1) {
      process.stderr.write(
        `zonectl help: ${about ? "takes one command" : `unknown command '${rest[0]}'`}\n${usage()}\n`,
      );
      return 2;
    }
    process.stdout.write(commandHelp(about));
    return 0;
  }
  if (name === undefined || name === "help" || globalsParsed.values.help) {
    process.stdout.write(`${usage()}\n`);
    return name === undefined && !globalsParsed.values.help ? 2 : 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`zonectl: unknown command '${name}'\n${usage()}\n`);
    return 2;
  }

  const dashDash = rest.indexOf("--");
  const own = command.passThrough && dashDash >= 0 ? rest.slice(0, dashDash) : rest;
  const passed = command.passThrough && dashDash >= 0 ? rest.slice(dashDash + 1) : [];
  let parsed;
  try {
    parsed = parseArgs({
      args: own,
      options: { ...globalOptions, ...command.options },
      strict: true,
      allowPositionals: true,
    });
  } catch (err) {
    process.stderr.write(
      `zonectl ${command.name}: ${(err as Error).message}\nusage: zonectl ${command.name} ${command.usage}\n`,
    );
    return 2;
  }
  if (parsed.values.help) {
    process.stdout.write(commandHelp(command));
    return 0;
  }

  const verbose = Boolean(globalsParsed.values.verbose ?? parsed.values.verbose);
  const globals: GlobalOptions = {
    host: parsed.values.host ?? globalsParsed.values.host ?? process.env["ZONECTL_HOST"],
    json: Boolean(globalsParsed.values.json ?? parsed.values.json),
    verbose,
  };
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) process.exit(130); // second Ctrl-C: give up at once
    controller.abort(new Error(`interrupted (${signal})`));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  const ctx: CliContext = {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    log: loggerFrom((level, line) => process.stderr.write(`${level}: ${line}\n`), verbose ? "debug" : "warn"),
    globals,
    signal: controller.signal,
  };
  try {
    return await command.run(ctx, {
      values: parsed.values,
      positionals: [...parsed.positionals, ...passed],
    });
  } catch (err) {
    const report = describeCliError(err);
    process.stderr.write(`zonectl ${command.name}: ${report.message}\n`);
    if (verbose && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    return report.exitCode;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

function isOptionValue(argv: string[], i: number): boolean {
  const prev = argv[i - 1];
  return prev === "--host" || prev === "-H";
}

void main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`zonectl: ${String(err)}\n`);
    process.exitCode = 1;
  },
);
