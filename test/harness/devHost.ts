// Starts the dev host as a real separate process (node + tsx on extension/devhost/main.ts),
// waits until its socket answers GetHostStatus, and stops it with SIGTERM, verifying it exits.
// Its stdout/stderr go to <stateDir>/devhost.log for post-mortems.
import { spawn } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { connectUnix } from "../integration/devhost/client";

const root = resolve(import.meta.dirname, "../..");

export interface StartedDevHost {
  socketPath: string;
  stateDir: string;
  pid: number;
  stop(): Promise<void>;
}

export async function startDevHost(
  options: { stateDir?: string; socketPath?: string; args?: string[] } = {},
): Promise<StartedDevHost> {
  const ownStateDir = options.stateDir === undefined;
  const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), "devhost-"));
  const socketPath = options.socketPath ?? join(stateDir, "daemon.socket");
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const logFile = join(stateDir, "devhost.log");
  const logFd = openSync(logFile, "a");
  const child = spawn(
    process.execPath,
    [
      ...(process.env.ZONES_DEVHOST_PROF
        ? ["--cpu-prof", `--cpu-prof-dir=${process.env.ZONES_DEVHOST_PROF}`]
        : []),
      "--import",
      "tsx",
      join(root, "extension/devhost/main.ts"),
      "--socket",
      socketPath,
      "--state",
      stateDir,
      ...(options.args ?? []),
    ],
    { cwd: root, stdio: ["ignore", logFd, logFd], env: { ...process.env, NODE_OPTIONS: "" } },
  );
  closeSync(logFd);
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<void>((done) =>
    child.on("exit", (code, signal) => {
      exit = { code, signal };
      done();
    }),
  );
  const tail = (): string => {
    try {
      return readFileSync(logFile, "utf8").split("\n").slice(-30).join("\n");
    } catch {
      return "(no log)";
    }
  };

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exit)
      throw new Error(
        `dev host exited during startup (code ${exit.code}, signal ${exit.signal}):\n${tail()}`,
      );
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      await exited;
      throw new Error(`dev host did not answer on ${socketPath} within 30s:\n${tail()}`);
    }
    const probe = connectUnix(socketPath);
    try {
      await probe.client.getHostStatus({}, { timeoutMs: 1000 });
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      probe.close();
    }
  }

  let stopping: Promise<void> | undefined;
  return {
    socketPath,
    stateDir,
    pid: child.pid!,
    stop: () =>
      (stopping ??= (async () => {
        if (!exit) {
          child.kill("SIGTERM");
          let timer: NodeJS.Timeout | undefined;
          const inTime = await Promise.race([
            exited.then(() => true),
            new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 30_000))),
          ]);
          clearTimeout(timer);
          if (!inTime) {
            child.kill("SIGKILL");
            await exited;
            throw new Error(`dev host did not exit within 30s of SIGTERM:\n${tail()}`);
          }
        }
        if (exit && exit.code !== 0)
          throw new Error(`dev host exited with code ${exit.code} (signal ${exit.signal}):\n${tail()}`);
        if (ownStateDir) rmSync(stateDir, { recursive: true, force: true });
      })()),
  };
}
