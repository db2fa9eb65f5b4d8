import { spawn } from "node:child_process";
import { childEnded } from "../childProcess";

/** Options of one builder invocation. */
export interface ToolRunOptions {
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly cwd?: string;
  readonly signal?: AbortSignal;
  /** Output as it arrives (both streams, decoded as UTF-8). */
  onOutput?(text: string, stream: "stdout" | "stderr"): void;
  /** Keep stdout whole (for JSON answers); otherwise only the last lines are kept. */
  readonly captureStdout?: boolean;
}

/** How a tool ended. */
export interface ToolResult {
  readonly exitCode: number;
  /** stdout when `captureStdout`, else "". */
  readonly stdout: string;
  /** The last lines of both streams together, for error messages. */
  readonly tail: readonly string[];
  /** True when the signal stopped it. */
  readonly cancelled: boolean;
}

const tailLines = 30;

/**
 * Runs a builder CLI without a shell. The child leads its own process group, so a cancel
 * reaches what it started too (buildah's chroot runner, a `docker build` client's children):
 * SIGTERM to the group, SIGKILL 5 s later. Rejects only when the program cannot be started.
 */
export function runTool(
  file: string,
  args: readonly string[],
  options: ToolRunOptions = {},
): Promise<ToolResult> {
  return new Promise<ToolResult>((resolve, reject) => {
    if (options.signal?.aborted) {
      resolve({ exitCode: 130, stdout: "", tail: [], cancelled: true });
      return;
    }
    const child = spawn(file, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let stdout = "";
    const tail: string[] = [];
    const partial = { stdout: "", stderr: "" };
    const take = (stream: "stdout" | "stderr", data: Buffer): void => {
      const text = data.toString("utf8");
      if (stream === "stdout" && options.captureStdout) stdout += text;
      options.onOutput?.(text, stream);
      const lines = (partial[stream] + text).split(/\r?\n/);
      partial[stream] = lines.pop() ?? "";
      for (const line of lines) {
        tail.push(line);
        if (tail.length > tailLines) tail.shift();
      }
    };
    child.stdout.on("data", (d: Buffer) => take("stdout", d));
    child.stderr.on("data", (d: Buffer) => take("stderr", d));
    const signalGroup = (sig: NodeJS.Signals): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, sig);
      } catch {
        child.kill(sig);
      }
    };
    childEnded(child, { signal: options.signal, graceMs: 5000, stop: signalGroup }).then(
      ({ code, signal, cancelled }) => {
        for (const rest of [partial.stdout, partial.stderr]) if (rest) tail.push(rest);
        resolve({
          exitCode: code ?? (signal === "SIGKILL" ? 137 : 143),
          stdout,
          tail: tail.slice(-tailLines),
          cancelled,
        });
      },
      reject,
    );
  });
}
