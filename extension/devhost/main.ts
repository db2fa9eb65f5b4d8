// The dev host alone (dist/devhost.js): the same runDevHost as `zonectl dev-host`, for scripts
// and test harnesses that start it directly.
import { parseArgs } from "node:util";
import { loggerFrom } from "../core/log";
import { messageOf } from "../core/errors";
import { devHostFlags, devHostOptionsFrom, devHostUsage, runDevHost } from "./runDevHost";

const usage = `usage: devhost ${devHostUsage} [-v]`;

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        ...devHostFlags,
        verbose: { type: "boolean", short: "v" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    process.stderr.write(`devhost: ${messageOf(err)}\n${usage}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const options = devHostOptionsFrom(values);
  if ("error" in options) {
    process.stderr.write(`devhost: ${options.error}\n`);
    return 2;
  }
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) return; // shutdown already under way; it must finish to leave nothing behind
    controller.abort(new Error(signal));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    await runDevHost({
      ...options,
      log: loggerFrom(
        (level, line) => process.stderr.write(`${new Date().toISOString()} ${level}: ${line}\n`),
        values.verbose ? "debug" : "info",
      ),
      out: (line) => process.stdout.write(`${line}\n`),
      signal: controller.signal,
    });
    return 0;
  } catch (err) {
    process.stderr.write(`devhost: ${messageOf(err)}\n`);
    return 1;
  }
}

void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
  // Everything is stopped by now; a stray handle must not keep a stopped dev host alive.
  setTimeout(() => process.exit(code), 2000).unref();
});
