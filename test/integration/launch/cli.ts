// Runs the real zonectl (extension/cli/main.ts through tsx) as a child process: with piped
// stdin, live stdout/stderr, waiting for a line, and signals — or on a real PTY (node-pty).
import { spawn } from "node:child_process";
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { resolve } from "node:path";
import * as pty from "node-pty";

export const repoRoot = resolve(import.meta.dirname, "../../..");
const zonectlArgs = ["--import", "tsx", resolve(repoRoot, "extension/cli/main.ts")];

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A running zonectl. */
export class CliRun {
  readonly child: ChildProcessWithoutNullStreams;
  stdout = "";
  stderr = "";
  readonly done: Promise<CliResult>;
  #waiters: (() => void)[] = [];

  constructor(
    args: string[],
    env: Record<string, string>,
    options: { stdin?: string | Buffer; timeoutMs?: number } = {},
  ) {
    this.child = spawn(process.execPath, [...zonectlArgs, ...args], {
      cwd: repoRoot,
      env: { ...process.env, SSH_AUTH_SOCK: "", ZONECTL_HOST: "", NODE_OPTIONS: "", ...env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.child.stdout.setEncoding("utf8").on("data", (d: string) => {
      this.stdout += d;
      this.#wake();
    });
    this.child.stderr.setEncoding("utf8").on("data", (d: string) => {
      this.stderr += d;
      this.#wake();
    });
    if (options.stdin !== undefined) this.child.stdin.end(options.stdin);
    const timeoutMs = options.timeoutMs ?? 120_000;
    this.done = new Promise((done) => {
      const timer = setTimeout(() => this.child.kill("SIGKILL"), timeoutMs);
      this.child.on("close", (code, signal) => {
        clearTimeout(timer);
        this.#wake();
        done({ code, signal, stdout: this.stdout, stderr: this.stderr });
      });
    });
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  /** Resolves once stdout+stderr (or only stdout) match; rejects if the process ends first or on timeout. */
  async waitFor(pattern: RegExp, timeoutMs = 60_000, only?: "stdout"): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    void this.done.then(() => (exited = true));
    for (;;) {
      const m = (only === "stdout" ? this.stdout : this.stdout + this.stderr).match(pattern);
      if (m) return m;
      if (exited)
        throw new Error(`zonectl ended before ${pattern}:\nstdout: ${this.stdout}\nstderr: ${this.stderr}`);
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${pattern}:\nstdout: ${this.stdout}\nstderr: ${this.stderr}`);
      await new Promise<void>((r) => {
        this.#waiters.push(r);
        setTimeout(r, 200);
      });
    }
  }
}

/** Runs zonectl to completion. */
export function zonectl(
  args: string[],
  env: Record<string, string>,
  options: { stdin?: string | Buffer; timeoutMs?: number } = {},
): Promise<CliResult> {
  return new CliRun(args, env, {
    stdin: options.stdin ?? "",
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
  }).done;
}

/** zonectl on a real PTY of the given size. */
export class PtyRun {
  readonly term: pty.IPty;
  output = "";
  readonly exited: Promise<{ exitCode: number; signal?: number }>;

  constructor(args: string[], env: Record<string, string>, size = { cols: 100, rows: 30 }) {
    this.term = pty.spawn(process.execPath, [...zonectlArgs, ...args], {
      name: "xterm-256color",
      cols: size.cols,
      rows: size.rows,
      cwd: repoRoot,
      env: {
        ...(process.env as Record<string, string>),
        SSH_AUTH_SOCK: "",
        ZONECTL_HOST: "",
        NODE_OPTIONS: "",
        TERM: "xterm-256color",
        ...env,
      },
    });
    this.term.onData((d) => {
      this.output += d;
      // busybox ash asks where the cursor is after each prompt (DSR); answer as a terminal would.
      if (d.includes("\x1b[6n")) this.term.write("\x1b[1;1R");
    });
    this.exited = new Promise((resolve) => this.term.onExit(resolve));
  }

  /** Waits until the output after `from` matches. */
  async waitFor(pattern: RegExp, from = 0, timeoutMs = 60_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const tail = this.output.slice(from);
      const m = pattern.exec(tail);
      if (m) return from + m.index + m[0].length;
      if (Date.now() > deadline)
        throw new Error(
          `timed out waiting for ${pattern}; output:\n${JSON.stringify(this.output.slice(-2000))}`,
        );
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  kill(): void {
    try {
      this.term.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
}
