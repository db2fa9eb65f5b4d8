import { messageOf } from "../../core/errors";
import type { WorkspaceSync } from "../../core/devcontainer/plan";
import { watchFolder } from "../../core/launch/folderWatcher";
import { WorkspacePushQueue } from "../../core/launch/pushQueue";
import type { PushEvent } from "../../core/launch/pushQueue";
import type { ProtectHost } from "../../core/protect/host";
import type { CliContext } from "../command";
import { formatBytes } from "../../core/format";
import { formatMs } from "../../core/launch/progressText";
import { pullWorkspace, pushWorkspace } from "../../core/launch/workspaceSync";
import type { Command } from "../command";
import { openHost } from "../hostTarget";
import { loadPlan, planOptions } from "../project";

/**
 * `zonectl sync [PATH] [--pull] [--force]`: copies the workspace again without a full `up`,
 * or with --pull copies the host's copy back into the project (never automatic). Pull never
 * deletes local files and never writes through a local symlink; a local file that changed
 * after the host's copy is left alone unless --force. Conflicts are listed. With --watch it then
 * keeps pushing every change (save, create, rename, delete) as it happens, until Ctrl-C.
 */
export const syncCommand: Command = {
  name: "sync",
  summary: "copy the workspace to the host again, or with --pull copy the host's copy back",
  usage: "[PATH] [--watch | --pull [--include-config]] [--force] [--config FILE] [--workspace-root DIR]",
  options: {
    ...planOptions,
    pull: { type: "boolean" },
    watch: { type: "boolean" },
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
    if (pull && values["watch"] === true) {
      ctx.stderr.write("zonectl sync: --watch pushes; it does not go with --pull\n");
      return 2;
    }
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
        if (values["watch"] === true) await watchAndPush(ctx, host, plan.sync);
        return 0;
      } finally {
        files.close();
      }
    } finally {
      host.close();
    }
  },
};

const marks: Record<PushEvent["action"], string> = {
  uploaded: "↑",
  removed: "✕",
  linked: "↪",
  created: "+",
  unchanged: "=",
  conflict: "!",
};

/** `--watch`: every change under the project, pushed as it happens, one line each, until Ctrl-C. */
async function watchAndPush(
  ctx: CliContext,
  host: ProtectHost,
  sync: Pick<WorkspaceSync, "localFolder" | "hostPath" | "exclude" | "respectGitignore">,
): Promise<void> {
  const queue = new WorkspacePushQueue({ files: () => host.openFiles(), sync });
  queue.onDidPush((e) => {
    if (e.action === "unchanged") return;
    if (ctx.globals.json) ctx.stdout.write(`${JSON.stringify(e)}\n`);
    else if (e.action === "conflict")
      ctx.stderr.write(`! ${e.path}: changed on the host after this machine's copy; left alone\n`);
    else ctx.stdout.write(`${marks[e.action]} ${e.path} (${e.ms} ms)\n`);
  });
  queue.onDidFail((f) => ctx.stderr.write(`✗ ${f.path}: ${f.error.message}\n`));
  const watcher = watchFolder(
    sync.localFolder,
    (path) => queue.notify(path),
    (err) => ctx.stderr.write(`zonectl sync: watching ${sync.localFolder} failed: ${messageOf(err)}\n`),
  );
  ctx.stderr.write(`watching ${sync.localFolder}; Ctrl-C to stop\n`);
  try {
    await new Promise<void>((resolve) => {
      if (ctx.signal.aborted) resolve();
      ctx.signal.addEventListener("abort", () => resolve(), { once: true });
    });
    await queue.idle();
  } finally {
    watcher.dispose();
    queue.dispose();
  }
}
