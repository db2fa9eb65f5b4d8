import { realpathSync } from "node:fs";
import { createRequire } from "node:module";
import { isAbsolute, join } from "node:path";
import { hostEnvironmentKeys, zonectlCommandWords } from "../core/gateway/protectGateway";
import type { CliContext } from "./command";

/**
 * The command that runs this very zonectl again, for an ssh ProxyCommand: the same Node, the
 * same script (absolute), the loaders it was started with (`--import tsx` from a source
 * checkout, resolved to an absolute path: ssh runs the command from any directory), and the
 * environment knobs that say how the host is reached.
 */
export function zonectlSelf(ctx: CliContext): string[] {
  const script = realpathSync(process.argv[1] ?? "");
  const nodeArgs: string[] = [];
  const resolveFrom = createRequire(join(process.cwd(), "noop.js"));
  const execArgv = process.execArgv;
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i]!;
    const inline = /^--(import|require)=(.*)$/.exec(arg);
    const flag = inline
      ? `--${inline[1]}`
      : arg === "--import" || arg === "--require" || arg === "-r"
        ? arg
        : undefined;
    if (!flag) continue; // inspector and other one-off flags do not belong in a saved command
    const spec = inline ? inline[2]! : execArgv[++i];
    if (spec === undefined) continue;
    nodeArgs.push(flag, isAbsolute(spec) || spec.startsWith("file:") ? spec : resolveFrom.resolve(spec));
  }
  const env: Record<string, string> = {};
  for (const key of hostEnvironmentKeys) {
    const value = ctx.env[key];
    if (value) env[key] = value;
  }
  return zonectlCommandWords({
    node: process.execPath,
    nodeArgs,
    script,
    electron: process.versions["electron"] !== undefined,
    env,
  });
}
