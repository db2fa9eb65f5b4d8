import { buildLaunchPlan } from "../../core/devcontainer/buildPlan";
import { builderNames } from "../../core/build/builder";
import type { BuilderName } from "../../core/build/builder";
import type { LaunchPlan } from "../../core/devcontainer/plan";
import { LaunchExecutor } from "../../core/launch/executor";
import type { LaunchResult } from "../../core/launch/executor";
import { LaunchError } from "../../core/launch/errors";
import { LaunchProgressText, formatMs, timingTable } from "../../core/launch/progressText";
import type { ProtectHost } from "../../core/protect/host";
import { pickShell, runTerminalSession } from "../../core/terminal/terminalSession";
import type { Command } from "../command";
import { describeLaunchError, launchExitCodes } from "../errorReport";
import { openHost } from "../hostTarget";
import { loadPlan, planOptions } from "../project";

/**
 * `zonectl up [PATH]`: launches the project's devcontainer into a zone — or reuses the zone it
 * launched before — and reports every step with its duration on stderr. Ctrl-C rolls back what
 * this run created. `--forward` keeps running with the forwards open until Ctrl-C; `--shell`
 * opens a terminal in the workload at the end. `--json` prints the result on stdout:
 * `{ zoneId, zoneName, workloadId, workloadName, reusedZone, firstLaunch, hostPath,
 * workspaceFolder, remoteUser, forwards, sync, timings: [{ step, ms, outcome }], totalMs }`.
 */
export const upCommand: Command = {
  name: "up",
  summary: "launch a devcontainer into a zone (or reuse the one launched before)",
  usage:
    "[PATH] [--config FILE] [--recreate] [--keep-on-failure] [--forward] [--shell] [--timeout SECONDS] [--workspace-root DIR] [--forward-via dial|ssh] [--builder auto|buildah|podman|docker] [--push REGISTRY] [--frozen-lockfile]\n\n" +
    "PATH: the project folder (default: current directory) or a devcontainer.json.\n" +
    "--recreate          destroy this project's zone and create a new one\n" +
    "--keep-on-failure   leave what was created in place when the launch fails\n" +
    "--forward           open the configured port forwards and keep running until Ctrl-C\n" +
    "--shell             open an interactive shell in the workload when it is up\n" +
    "--workspace-root    host folder for workspace copies (also $ZONECTL_WORKSPACE_ROOT)\n" +
    "--builder           image builder for features and Dockerfiles (default auto: buildah, podman, docker)\n" +
    "--push REGISTRY     push the built image there and let the host pull it, instead of ImportImage\n" +
    "--frozen-lockfile   refuse to launch when devcontainer-lock.json does not pin exactly what resolves\n" +
    "Exit: 0 up, 3 not launchable, 40 invalid devcontainer.json, 41 initializeCommand failed, 42 a hook failed,\n" +
    "43 zone failed, 44 workload failed, 45 timeout, 46 sync failed, 47 pull failed, 50 build failed, 130 cancelled (rolled back).",
  options: {
    ...planOptions,
    recreate: { type: "boolean" },
    "keep-on-failure": { type: "boolean" },
    forward: { type: "boolean" },
    shell: { type: "boolean" },
    timeout: { type: "string" },
    "forward-via": { type: "string" },
    builder: { type: "string" },
    push: { type: "string" },
    "frozen-lockfile": { type: "boolean" },
  },
  async run(ctx, { values, positionals }) {
    if (positionals.length > 1) {
      ctx.stderr.write(`zonectl up: expected at most one PATH\nusage: zonectl up ${upCommand.usage}\n`);
      return 2;
    }
    const timeoutText = typeof values["timeout"] === "string" ? values["timeout"] : "180";
    const via = typeof values["forward-via"] === "string" ? values["forward-via"] : "dial";
    if (!/^\d+$/.test(timeoutText) || (via !== "dial" && via !== "ssh")) {
      ctx.stderr.write(`zonectl up: --timeout takes whole seconds and --forward-via dial or ssh\n`);
      return 2;
    }
    const builder = typeof values["builder"] === "string" ? values["builder"] : undefined;
    if (builder !== undefined && !["auto", ...builderNames].includes(builder)) {
      ctx.stderr.write(`zonectl up: --builder takes auto, ${builderNames.join(", ")}\n`);
      return 2;
    }
    const push = typeof values["push"] === "string" ? values["push"] : undefined;
    const loaded = await loadPlan(ctx, "up", positionals[0], values);
    if ("exitCode" in loaded) return loaded.exitCode;
    const { plan, input } = loaded;
    if (!plan.launchable) {
      ctx.stderr.write(
        `zonectl up: ${plan.configFile} cannot be launched; nothing was created:\n${plan.refusals.map((r) => `  - ${r}`).join("\n")}\n`,
      );
      return launchExitCodes.notLaunchable;
    }

    const forward = values["forward"] === true;
    const shell = values["shell"] === true;
    const host = await openHost(ctx);
    try {
      const executor = new LaunchExecutor(plan, host, {
        signal: ctx.signal,
        forwardRoute: via,
        recreate: values["recreate"] === true,
        keepOnFailure: values["keep-on-failure"] === true,
        attach: forward || shell,
        forwardPorts: forward,
        zoneTimeoutMs: Number(timeoutText) * 1000,
        localEnv: ctx.env,
        logger: ctx.log,
        build: {
          env: ctx.env,
          ...(builder !== undefined ? { builder: builder as BuilderName | "auto" } : {}),
          ...(push !== undefined ? { push } : {}),
          frozenLockfile: values["frozen-lockfile"] === true,
        },
        replan: (image) => buildLaunchPlan({ ...input, image }),
      });
      const printer = new LaunchProgressText((line) => ctx.stderr.write(`${line}\n`));
      executor.onEvent((e) => printer.handle(e));
      ctx.stderr.write(`launching ${plan.displayName ?? plan.zoneName} on ${host.name}\n`);
      let result: LaunchResult;
      try {
        result = await executor.run();
      } catch (err) {
        const report = describeLaunchError(err);
        ctx.stderr.write(
          `zonectl up: ${report.message}${LaunchError.is(err, "cancelled") ? " (rolled back)" : ""}\n`,
        );
        return report.exitCode;
      }
      ctx.stderr.write(
        `up in ${formatMs(result.totalMs)}:\n${timingTable(result.timings, result.totalMs)}\n`,
      );
      if (ctx.globals.json) ctx.stdout.write(`${JSON.stringify(resultJson(result), null, 2)}\n`);
      else ctx.stdout.write(summary(result, plan, host));
      try {
        if (shell) {
          const command = await pickShell(
            host,
            {
              zoneId: result.zoneId,
              workloadId: result.workloadId,
              ...(result.remoteUser ? { user: result.remoteUser } : {}),
            },
            ctx.signal,
          );
          return await runTerminalSession(
            host,
            {
              zoneId: result.zoneId,
              workloadId: result.workloadId,
              command,
              env: { TERM: ctx.env["TERM"] || "xterm-256color", ...result.remoteEnv },
              workingDirectory: result.workspaceFolder,
              ...(result.remoteUser ? { user: result.remoteUser } : {}),
            },
            { stdin: ctx.stdin, stdout: ctx.stdout, stderr: ctx.stderr },
            { tty: true, stdin: true, signal: ctx.signal },
          );
        }
        if (forward && result.forwards) {
          for (const f of result.forwards.list())
            ctx.stderr.write(
              `forwarding ${f.localAddress}:${f.localPort} → ${f.remote}${f.label ? ` (${f.label})` : ""}\n`,
            );
          ctx.stderr.write("forwards open; Ctrl-C to stop (the zone keeps running)\n");
          await new Promise<void>((resolve) => {
            if (ctx.signal.aborted) resolve();
            else ctx.signal.addEventListener("abort", () => resolve(), { once: true });
          });
        }
        return 0;
      } finally {
        await result.forwards?.closeAll();
      }
    } finally {
      host.close();
    }
  },
};

function resultJson(r: LaunchResult): unknown {
  return {
    zoneId: r.zoneId,
    zoneName: r.zoneName,
    workloadId: r.workloadId,
    workloadName: r.workloadName,
    reusedZone: r.reusedZone,
    firstLaunch: r.firstLaunch,
    hostPath: r.hostPath,
    workspaceFolder: r.workspaceFolder,
    remoteUser: r.remoteUser ?? null,
    forwards:
      r.forwards?.list().map((f) => ({
        localAddress: f.localAddress,
        localPort: f.localPort,
        remote: f.remote,
        label: f.label ?? null,
      })) ?? [],
    sync: r.sync
      ? {
          filesTotal: r.sync.filesTotal,
          filesCopied: r.sync.filesCopied,
          bytesCopied: r.sync.bytesCopied,
          conflicts: r.sync.conflicts,
          ms: r.sync.ms,
        }
      : null,
    timings: r.timings,
    totalMs: r.totalMs,
  };
}

function summary(r: LaunchResult, plan: LaunchPlan, host: ProtectHost): string {
  const target = host.target.kind === "ssh" ? ` --host ${host.name}` : "";
  const lines = [
    `zone      ${r.zoneName} (${r.zoneId})${r.reusedZone ? ", reused" : ""}`,
    `workload  ${r.workloadName} (${r.workloadId})`,
    `workspace ${r.workspaceFolder} (host copy ${r.hostPath})`,
    `shell     zonectl${target} shell ${r.zoneName}`,
  ];
  if (plan.forwards.length && !r.forwards) {
    lines.push(
      ...plan.forwards.map(
        (f) =>
          `forward   zonectl${target} forward ${r.zoneName} ${f.containerPort}${f.localPort !== f.containerPort ? `:${f.localPort}` : ""}`,
      ),
    );
  }
  return `${lines.join("\n")}\n`;
}
