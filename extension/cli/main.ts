import { parseArgs } from "node:util";
import { loggerFrom } from "../core/log";
import type { Command, CliContext, GlobalOptions } from "./command";

// Every command, in the order `zonectl help` lists them, each loaded only when it runs: a cold
// `zonectl ls` then evaluates the listing's code alone, not the dev host, the launch code or the
// image builders (the CLI bundle is split into chunks along these imports). Add a command: one
// file under commands/, one line here.
const commandLoaders: Readonly<Record<string, () => Promise<Command>>> = {
  status: async () => (await import("./commands/status")).statusCommand,
  ls: async () => (await import("./commands/ls")).lsCommand,
  rm: async () => (await import("./commands/rm")).rmCommand,
  "dev-host": async () => (await import("./commands/devHost")).devHostCommand,
  plan: async () => (await import("./commands/plan")).planCommand,
  init: async () => (await import("./commands/init")).initCommand,
  up: async () => (await import("./commands/up")).upCommand,
  exec: async () => (await import("./commands/exec")).execCommand,
  shell: async () => (await import("./commands/shell")).shellCommand,
  attach: async () => (await import("./commands/attach")).attachCommand,
  logs: async () => (await import("./commands/logs")).logsCommand,
  top: async () => (await import("./commands/top")).topCommand,
  forward: async () => (await import("./commands/forward")).forwardCommand,
  resize: async () => (await import("./commands/resize")).resizeCommand,
  stop: async () => (await import("./commands/stop")).stopCommand,
  down: async () => (await import("./commands/down")).downCommand,
  sync: async () => (await import("./commands/sync")).syncCommand,
  "ssh-config": async () => (await import("./commands/sshConfig")).sshConfigCommand,
  "ssh-proxy": async () => (await import("./commands/sshProxy")).sshProxyCommand,
  version: async () => (await import("./commands/version")).versionCommand,
  completion: async () => {
    // The completion script is generated from every other command's flags.
    const { completionCommand } = await import("./commands/completion");
    const others = await Promise.all(
      Object.keys(commandLoaders)
        .filter((name) => name !== "completion")
        .map((name) => commandLoaders[name]!()),
    );
    const self: Command = completionCommand(
      () => [...others, self],
      () => globalOptions,
    );
    return self;
  },
};

/** The command named `name`, loaded; undefined when there is none. */
async function loadCommand(name: string): Promise<Command | undefined> {
  return Object.hasOwn(commandLoaders, name) ? commandLoaders[name]!() : undefined;
}

/** Every command in table order (for the usage text, which lists them all). */
function loadAllCommands(): Promise<Command[]> {
  return Promise.all(Object.values(commandLoaders).map((load) => load()));
}

const globalOptions = {
  host: { type: "string", short: "H" },
  json: { type: "boolean" },
  verbose: { type: "boolean", short: "v" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "V" },
} as const;

async function usage(): Promise<string> {
  const commands = await loadAllCommands();
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
    process.stderr.write(`zonectl: ${(err as Error).message}\n${await usage()}\n`);
    return 2;
  }
  if (globalsParsed.values.version && name === undefined) {
    const { versionLine } = await import("./commands/version");
    process.stdout.write(`${versionLine()}\n`);
    return 0;
  }
  if (name === "help" && rest.length) {
    // `zonectl help VERB`: the same text as `zonectl VERB --help`.
    const about = await loadCommand(rest[0]!);
    if (!about || rest.length > 1) {
      process.stderr.write(
        `zonectl help: ${about ? "takes one command" : `unknown command '${rest[0]}'`}\n${await usage()}\n`,
      );
      return 2;
    }
    process.stdout.write(commandHelp(about));
    return 0;
  }
  if (name === undefined || name === "help" || globalsParsed.values.help) {
    process.stdout.write(`${await usage()}\n`);
    return name === undefined && !globalsParsed.values.help ? 2 : 0;
  }
  const command = await loadCommand(name);
  if (!command) {
    process.stderr.write(`zonectl: unknown command '${name}'\n${await usage()}\n`);
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
    const { describeCliError } = await import("./errorReport");
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
