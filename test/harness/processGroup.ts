/**
 * Child processes that must leave nothing behind. Each one starts as the leader of its own
 * session and process group (setsid via `detached`), so stopping it signals the whole group:
 * code-server and Chromium leave helpers (file watcher, renderers, agent runtime) that outlive
 * their parent otherwise. Groups still alive when the test process exits — on failure, Ctrl-C or
 * an uncaught error — are killed synchronously from an exit hook.
 */
import { spawn } from "node:child_process";
import type { ChildProcess, SpawnOptions } from "node:child_process";
import { createWriteStream } from "node:fs";

const live = new Set<number>();
let hooked = false;

function killAllNow(): void {
  for (const pgid of live) {
    try {
      process.kill(-pgid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  live.clear();
}

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on("exit", killAllNow);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      killAllNow();
      // A program with its own handler (npm start, the e2e runner) stops the rest and exits itself.
      if (process.listenerCount(signal) === 0)
        process.exit(128 + (signal === "SIGINT" ? 2 : signal === "SIGTERM" ? 15 : 1));
    });
  }
}

/** True while any process of the group exists (signal 0 probes without signalling). */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** A running process group; `stop()` ends every member and resolves once none is left. */
export class ProcessGroup {
  readonly exited: Promise<number | null>;
  #stopping: Promise<void> | undefined;

  constructor(
    readonly child: ChildProcess,
    readonly label: string,
  ) {
    this.exited = new Promise((resolve) =>
      child.once("exit", (code, signal) => resolve(code ?? (signal ? null : 0))),
    );
  }

  get pid(): number {
    return this.child.pid!;
  }

  stop(graceMs = 3000): Promise<void> {
    this.#stopping ??= this.#stop(graceMs);
    return this.#stopping;
  }

  async #stop(graceMs: number): Promise<void> {
    const pgid = this.pid;
    const signal = (sig: NodeJS.Signals): void => {
      try {
        process.kill(-pgid, sig);
      } catch {
        // the group is already empty
      }
    };
    signal("SIGTERM");
    const deadline = Date.now() + graceMs;
    while (groupAlive(pgid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (groupAlive(pgid)) signal("SIGKILL");
    while (groupAlive(pgid)) await new Promise((r) => setTimeout(r, 20));
    live.delete(pgid);
  }
}

/**
 * Starts `command` as a new process group. Output goes to `logFile` (and, line by line, to
 * `onLine` when given) so a failing run can be read afterwards.
 */
export function spawnGroup(
  command: string,
  args: readonly string[],
  options: SpawnOptions & { label: string; logFile?: string; onLine?: (line: string) => void },
): ProcessGroup {
  hookExit();
  const { label, logFile, onLine, ...spawnOptions } = options;
  const child = spawn(command, args, { ...spawnOptions, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  if (child.pid === undefined) throw new Error(`${label}: could not start ${command}`);
  live.add(child.pid);
  const sink = logFile ? createWriteStream(logFile, { flags: "a" }) : undefined;
  let partial = "";
  const onData = (chunk: Buffer): void => {
    sink?.write(chunk);
    if (!onLine) return;
    const lines = (partial + chunk.toString("utf8")).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) onLine(line);
  };
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);
  child.once("exit", () => sink?.end());
  return new ProcessGroup(child, label);
}
