// esbuild keeps only this one field of package.json in the bundle (a named import of JSON).
import { version } from "../../../package.json";
import type { Command } from "../command";

/** The API zonectl speaks to hosts. */
const api = "protect.control.v1";

/** `zonectl --version`'s line. */
export function versionLine(): string {
  return `zonectl ${version}`;
}

/**
 * `zonectl version [--json]`: zonectl's version, the Node running it and the host API it
 * speaks; `--json` prints `{ version, node, api }` (stable: fields may be added, not changed).
 */
export const versionCommand: Command = {
  name: "version",
  summary: "print zonectl's version (also --version)",
  usage: "[--json]\n\n--json prints {version, node, api}.",
  async run(ctx, { positionals }) {
    if (positionals.length) {
      ctx.stderr.write(
        `zonectl version: takes no arguments\nusage: zonectl version ${versionCommand.usage}\n`,
      );
      return 2;
    }
    const node = process.versions.node;
    if (ctx.globals.json) ctx.stdout.write(`${JSON.stringify({ version, node, api }, null, 2)}\n`);
    else ctx.stdout.write(`${versionLine()}\nnode ${node}\napi ${api}\n`);
    return 0;
  },
};
