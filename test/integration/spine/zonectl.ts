// Runs the real zonectl CLI (extension/cli/main.ts through tsx) as a child process.
import { spawn } from "node:child_process";
import { resolve } from "node:path";

export const repoRoot = resolve(import.meta.dirname, "../../..");
export const zonectlArgs = ["--import", "tsx", resolve(repoRoot, "extension/cli/main.ts")];

export interface ZonectlResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `zonectl ARGS` with extra environment, stdin closed (not a terminal). */
export function zonectl(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 60_000,
): Promise<ZonectlResult> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [...zonectlArgs, ...args], {
      cwd: repoRoot,
      env: { ...process.env, SSH_AUTH_SOCK: "", ZONECTL_HOST: "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      fail(
        new Error(
          `zonectl ${args.join(" ")} did not finish within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`,
        ),
      );
    }, timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}
