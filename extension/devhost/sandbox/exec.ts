import { execFile, spawn } from "node:child_process";
import { DevHostError } from "../errors";

/**
 * Runs a host tool (ip, nsenter, mount…) with argv only — never through a shell — and returns
 * its stdout. A failure carries the tool's stderr, which is what an operator needs to see.
 */
export function run(
  file: string,
  args: string[],
  options: { input?: string; timeoutMs?: number } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { timeout: options.timeoutMs ?? 15_000, maxBuffer: 16 * 1024 * 1024, env: toolEnv() },
      (err, stdout, stderr) => {
        if (err) {
          const detail = stderr.trim() || err.message;
          reject(
            new DevHostError("internal", `${file} ${args.slice(0, 3).join(" ")}… failed: ${detail}`, {
              cause: err,
            }),
          );
        } else {
          resolve(stdout);
        }
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

/** Whether a tool runs at all (for capability probes). */
export function succeeds(file: string, args: string[]): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: "ignore", env: toolEnv() });
    child.on("error", () => resolve(false));
    child.on("exit", (code) => resolve(code === 0));
  });
}

/** A fixed environment for host tools: no user values, a predictable PATH. */
export function toolEnv(): NodeJS.ProcessEnv {
  return { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C" };
}
