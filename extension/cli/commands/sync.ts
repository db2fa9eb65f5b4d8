import { formatBytes, formatMs } from "../../core/launch/progressText";
import { pullWorkspace, pushWorkspace } from "../../core/launch/workspaceSync";
import type { Command } from "../command";
import { openHost } from "../hostTarget";
import { loadPlan, planOptions } from "../project";

/**
 * `zonectl sync [PATH] [--pull] [--force]`: copies the workspace again without a full `up`,
 * or with --pull copies the host's copy back into the project (never automatic). Pull never
 * deletes local files and never writes through a local symlink; a local file that changed
 * after the host's copy is left alone unless --force. Conflicts are listed.
 */
export const syncCommand: Command = {
  name: "sync",
  summary: "copy the workspace to the host again, or with --pull copy the host's copy back",
  usage: "[PATH] [--pull [--include-config]] [--force] [--config FILE] [--workspace-root DIR]",
  options: {
    ...planOptions,
    pull: { type: "boolean" },
    force: { type: "boolean" },
    "include-config": { type: "boolean" },
  },
  async run(ctx, { values, positionals }) {
    if (positionals.length > 1) {
      ctx.stderr.write(`zonectl sync: at most one PATH\nusage: zonectl sync ${syncCommand.usage}\n`);
      return 2;
    }
    const loaded = await loadPlan(ctx, "sync", positionals[0], values);
    if ("exitCode" in loaded) return loaded.exitCode;
    const { plan } = loaded;
    const pull = values["pull"] === true;
    const host = await openHost(ctx);
    try {
      const files = await host.openFiles();
      try {
        const options = {
          files,
          sync: plan.sync,
          signal: ctx.signal,
          force: values["force"] === true,
          includeConfig: values["include-config"] === true,
        };
        const result = pull ? await pullWorkspace(options) : await pushWorkspace(options);
        if (ctx.globals.json) {
          ctx.stdout.write(
            `${JSON.stringify({ direction: pull ? "pull" : "push", filesTotal: result.filesTotal, filesCopied: result.filesCopied, bytesCopied: result.bytesCopied, conflicts: result.conflicts, skipped: result.skipped, withheld: result.withheld, ms: result.ms }, null, 2)}\n`,
          );
        } else {
          const where = `${files.description}:${plan.sync.hostPath}`;
          ctx.stdout.write(
            `${pull ? `${where} → ${plan.sync.localFolder}` : `${plan.sync.localFolder} → ${where}`}: ${result.filesCopied} of ${result.filesTotal} files copied (${formatBytes(result.bytesCopied)}) in ${formatMs(result.ms)}\n`,
          );
          for (const c of result.conflicts)
            ctx.stderr.write(
              `! ${c}: changed on ${pull ? "this machine" : "the host"} after the last copy; left alone${pull ? " (--force overwrites)" : ""}\n`,
            );
          for (const w of result.withheld) ctx.stderr.write(`! ${w.path}: not brought back: ${w.reason}\n`);
        }
        return 0;
      } finally {
        files.close();
      }
    } finally {
      host.close();
    }
  },
};
