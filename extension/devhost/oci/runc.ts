import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../../core/log";
import type { OciProcess, OciSpec } from "./ociConfig";

/** Where Debian installs runc. */
const candidates = ["/usr/sbin/runc", "/usr/bin/runc", "/sbin/runc", "/bin/runc"];

/** A container as `runc list` reports it. */
export interface RuncContainer {
  id: string;
  pid: number;
  status: string;
  bundle: string;
}

/**
 * The runc command line, with its state under one root folder (`runc --root ROOT list` shows
 * the containers). Processes are started by the caller (they need its PTY and pipe handling):
 * this class builds their argv and does the short administrative calls itself.
 *
 * Foreground `runc run` / `runc exec` are used throughout: runc stays the parent, passes pipes
 * through untouched, and with `--tty` makes a PTY inside the container (the process's
 * controlling terminal) and copies between it and its own terminal — resizes of which it
 * forwards on SIGWINCH — and forwards the signals it gets to the process. Its exit code is
 * the process's (128 + n for a signal).
 */
export class Runc {
  constructor(
    readonly binary: string,
    readonly root: string,
    private readonly log: Logger,
  ) {
    mkdirSync(root, { recursive: true, mode: 0o700 });
  }

  /** The runc binary on this machine, or undefined. */
  static find(): string | undefined {
    return candidates.find((p) => existsSync(p));
  }

  /** Writes an OCI bundle (config.json) into `dir`. */
  static writeBundle(dir: string, spec: OciSpec): void {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(join(dir, "config.json"), `${JSON.stringify(spec, null, 1)}\n`, { mode: 0o600 });
  }

  /** Writes a process.json for `runc exec`. */
  static writeProcess(file: string, p: OciProcess): void {
    writeFileSync(file, JSON.stringify(p), { mode: 0o600 });
  }

  /** Reads the pid runc wrote with --pid-file, once it is there. */
  static readPid(file: string): number | undefined {
    try {
      const pid = Number(readFileSync(file, "utf8").trim());
      return pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  #base(): string[] {
    return [this.binary, "--root", this.root];
  }

  /** Creates and starts container `id` from `bundle` in the foreground. */
  runArgv(id: string, bundle: string, pidFile: string): string[] {
    // --keep: the container (and its memory cgroup, whose oom_kill counter tells an OOM kill)
    // stays until the dev host has read it and runs `delete`.
    return [...this.#base(), "run", "--keep", "--bundle", bundle, "--pid-file", pidFile, id];
  }

  /** Runs a process (process.json) in a running container, in the foreground. */
  execArgv(id: string, processFile: string, tty: boolean): string[] {
    return [...this.#base(), "exec", ...(tty ? ["--tty"] : []), "--process", processFile, id];
  }

  /** Removes a container whatever its state (kills what still runs in it); gone already is fine. */
  async delete(id: string): Promise<void> {
    try {
      await this.#call(["delete", "--force", id]);
    } catch (err) {
      if (!/does not exist|not found/i.test(String((err as Error).message))) throw err;
    }
  }

  /** Signals every process of a container. */
  async kill(id: string, signal: string): Promise<void> {
    try {
      await this.#call(["kill", "--all", id, signal]);
    } catch (err) {
      this.log.debug(`runc kill ${id} ${signal}: ${(err as Error).message}`);
    }
  }

  /** Applies new memory and CPU limits to a running container. */
  async update(
    id: string,
    limits: { memoryBytes?: number | undefined; cpus?: number | undefined },
  ): Promise<void> {
    const args = ["update"];
    if (limits.memoryBytes)
      args.push("--memory", String(limits.memoryBytes), "--memory-swap", String(limits.memoryBytes));
    if (limits.cpus)
      args.push("--cpu-period", "100000", "--cpu-quota", String(Math.round(limits.cpus * 100_000)));
    if (args.length === 1) return;
    await this.#call([...args, id]);
  }

  async list(): Promise<RuncContainer[]> {
    const out = await this.#call(["list", "--format", "json"]);
    const data = JSON.parse(out.trim() || "[]") as RuncContainer[] | null;
    return (data ?? []).map((c) => ({ id: c.id, pid: c.pid, status: c.status, bundle: c.bundle }));
  }

  #call(args: string[]): Promise<string> {
    const [file, ...base] = this.#base();
    return new Promise((resolve, reject) => {
      execFile(
        file!,
        [...base, ...args],
        { timeout: 30_000, env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" } },
        (err, stdout, stderr) => {
          if (err) reject(new Error(`runc ${args[0]}: ${stderr.trim() || err.message}`));
          else resolve(stdout);
        },
      );
    });
  }
}
