import { workloadStateName } from "../../core/protect/zoneFacts";
import { WorkloadConsole } from "../../core/terminal/consoleSession";
import { LocalTerminal, localTerminalSize } from "../../core/terminal/localTerminal";
import type { Command } from "../command";
import { openHost } from "../hostTarget";

/** Ctrl-] detaches from a raw-mode console, as telnet does. */
const detachByte = 0x1d;

/**
 * `zonectl attach WORKLOAD`: the workload's own console (AttachWorkloadConsole): what its main
 * process printed so far, then live output, and stdin to it. A workload with a TTY gets the
 * terminal in raw mode (Ctrl-] detaches); otherwise Ctrl-C detaches. The workload keeps running.
 */
export const attachCommand: Command = {
  name: "attach",
  summary: "attach to a workload's console (its main process's stdio)",
  usage:
    "WORKLOAD\n\nWORKLOAD: a workload name or id. Ctrl-] (TTY workloads) or Ctrl-C detaches; the workload keeps running.",
  async run(ctx, { positionals }) {
    if (positionals.length !== 1) {
      ctx.stderr.write(`zonectl attach: name one workload\nusage: zonectl attach ${attachCommand.usage}\n`);
      return 2;
    }
    const host = await openHost(ctx);
    try {
      const workload = await host.resolveWorkload(positionals[0]!, { signal: ctx.signal });
      const tty = workload.spec?.process?.tty === true;
      const size = tty ? localTerminalSize(ctx.stdout) : undefined;
      const console = new WorkloadConsole(host, workload.id, {
        signal: ctx.signal,
        ...(size ? { size } : {}),
        onStdout: (d) => ctx.stdout.write(d),
        onStderr: (d) => ctx.stderr.write(d),
      });
      const terminal = new LocalTerminal(
        { stdin: ctx.stdin, stdout: ctx.stdout },
        {
          write: (data) => {
            if (tty && data.includes(detachByte)) console.detach();
            else console.write(data);
          },
          endInput: () => console.endInput(),
          resize: (s) => console.resize(s),
        },
        { raw: tty, forwardInput: workload.spec?.process?.stdin === true, resize: tty },
      );
      try {
        await console.ended;
      } catch (err) {
        if (!ctx.signal.aborted) throw err;
      } finally {
        terminal.dispose();
      }
      if (ctx.signal.aborted) return 0;
      const after = await host.getWorkload(workload.id, { signal: ctx.signal }).catch(() => undefined);
      if (after)
        ctx.stderr.write(
          `workload ${after.spec?.name || after.id} is ${workloadStateName(after.status?.state ?? 0)}${after.status?.exitStatus ? ` (exit ${after.status.exitStatus.code})` : ""}\n`,
        );
      return 0;
    } finally {
      host.close();
    }
  },
};
