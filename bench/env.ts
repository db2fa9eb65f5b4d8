/**
 * What the benchmarks run against, all real and all on this machine: the dev host (a separate
 * process serving ControlService on a unix socket), OpenSSH's sshd on loopback (one with
 * forwarding, one without so the exec bridge is used), a bundled zonectl, and a bare Connect
 * client for baselines. Everything started is registered for cleanup, which also runs on
 * Ctrl-C.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createClient } from "@connectrpc/connect";
import type { Client } from "@connectrpc/connect";
import { Http2SessionManager, createGrpcTransport } from "@connectrpc/connect-node";
import { build } from "esbuild";
import { ControlService } from "../extension/proto/gen/protect/control/v1/control_pb";
import type { startExtensionModel } from "./extensionModel";
import { startDevHost } from "../test/harness/devHost";
import type { StartedDevHost } from "../test/harness/devHost";
import { startSshd } from "../test/harness/sshd";
import type { Sshd, SshdOptions } from "../test/harness/sshd";

export const repoRoot = resolve(import.meta.dirname, "..");

/** Stops what was started, newest first; safe to call twice. */
export class Cleanup {
  readonly #steps: { label: string; run: () => Promise<void> | void }[] = [];
  #done = false;

  add(label: string, run: () => Promise<void> | void): void {
    this.#steps.push({ label, run });
  }

  async run(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    for (const step of this.#steps.reverse()) {
      try {
        await step.run();
      } catch (err) {
        console.error(`cleanup: ${step.label}: ${(err as Error).message}`);
      }
    }
  }
}

/** A bare ControlService client on a unix socket: no facade, no interceptors — the baseline. */
export interface BareClient {
  readonly client: Client<typeof ControlService>;
  close(): void;
}

export function bareClient(socketPath: string): BareClient {
  const sessionManager = new Http2SessionManager(
    "http://localhost",
    { idleConnectionTimeoutMs: 600_000 },
    { createConnection: () => connect(socketPath) },
  );
  const transport = createGrpcTransport({ baseUrl: "http://localhost", sessionManager });
  return { client: createClient(ControlService, transport), close: () => sessionManager.abort() };
}

/** The shared environment of a bench run. */
export interface BenchEnv {
  readonly work: string;
  readonly devHost: StartedDevHost;
  /** sshd allowing streamlocal (the normal route). */
  readonly sshd: Sshd;
  /** sshd with AllowTcpForwarding no, so the client falls back to the exec bridge. */
  readonly sshdBridge: Sshd;
  /** The bundled CLI (node + this file). */
  readonly zonectlJs: string;
  readonly cleanup: Cleanup;
}

/**
 * Starts the environment. The dev host runs with `--sandbox process`: every zone is a real
 * sandboxed process group, but without its own namespaces, cgroup and veth — the dev host's
 * light mode, which is what makes 1000 real zones affordable on a 2-core machine.
 */
export async function startBenchEnv(
  options: { sandbox?: "process" | "namespaces" | "auto"; sshd?: SshdOptions } = {},
): Promise<BenchEnv> {
  const cleanup = new Cleanup();
  const onSignal = (): void => {
    void cleanup.run().finally(() => process.exit(130)); // Ctrl-C: leave no dev host or sshd behind
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const work = mkdtempSync(join(tmpdir(), "zones-bench-"));
    cleanup.add("work dir", () => rmSync(work, { recursive: true, force: true }));
    // Inside the clone (out/ is git-ignored) so the bundle's external node-pty resolves.
    // The production CLI exactly as build.mjs lays it out (launcher + ES module chunks).
    const zonectlJs = join(repoRoot, "out", "bench", "zonectl.js");
    const built = await runProcess(process.execPath, [
      join(repoRoot, "build.mjs"),
      "--production",
      "--cli-out",
      join(repoRoot, "out", "bench"),
    ]);
    if (built.code !== 0) throw new Error(`building zonectl failed: ${built.stderr}`);
    const devHost = await startDevHost({ args: ["--sandbox", options.sandbox ?? "process"] });
    cleanup.add("dev host", () => devHost.stop());
    const sshd = await startSshd(options.sshd);
    cleanup.add("sshd", () => sshd.stop());
    const sshdBridge = await startSshd({
      ...options.sshd,
      config: { ...options.sshd?.config, AllowTcpForwarding: "no" },
    });
    cleanup.add("sshd (bridge)", () => sshdBridge.stop());
    return { work, devHost, sshd, sshdBridge, zonectlJs, cleanup };
  } catch (err) {
    await cleanup.run();
    throw err;
  }
}

/**
 * Bundles bench/extensionModel.ts with `vscode` resolved to bench/vscodeStub.ts, into out/bench
 * (inside the clone, so node_modules resolve). Returns the bundle's path.
 */
export async function bundleExtensionModel(): Promise<string> {
  const outfile = join(repoRoot, "out", "bench", "extensionModel.cjs");
  await build({
    entryPoints: [join(repoRoot, "bench/extensionModel.ts")],
    outfile,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    logLevel: "warning",
    external: ["cpu-features", "*.node", "node-pty", "esbuild"],
    plugins: [
      {
        name: "vscode-stub",
        setup(b) {
          b.onResolve({ filter: /^vscode$/ }, () => ({ path: join(repoRoot, "bench/vscodeStub.ts") }));
        },
      },
    ],
  });
  return outfile;
}

/** Loads the bundled extension model into this process. */
export async function loadExtensionModel(): Promise<ExtensionModelModule> {
  const path = await bundleExtensionModel();
  return createRequire(import.meta.url)(path) as ExtensionModelModule;
}

/** The bundle's exports (typed from the source; the code comes from the bundle). */
export interface ExtensionModelModule {
  readonly startExtensionModel: typeof startExtensionModel;
}

/** Output of a finished child process. */
export interface ProcessResult {
  readonly code: number | null;
  readonly stdout: Buffer;
  readonly stderr: string;
  readonly ms: number;
}

/** Runs a program to completion (stdin closed unless given), timing it. */
export function runProcess(
  cmd: string,
  args: readonly string[],
  options: { env?: Record<string, string>; input?: string; timeoutMs?: number; cwd?: string } = {},
): Promise<ProcessResult> {
  return new Promise((resolvePromise, reject) => {
    const started = performance.now();
    const child = spawn(cmd, args, {
      cwd: options.cwd ?? repoRoot,
      env: { ...process.env, ...options.env },
      stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    let err = "";
    child.stdout?.on("data", (d: Buffer) => out.push(d));
    child.stderr?.setEncoding("utf8").on("data", (d: string) => (err += d));
    if (options.input !== undefined) child.stdin?.end(options.input);
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(
        new Error(`${cmd} ${args.join(" ")} took longer than ${options.timeoutMs ?? 120_000} ms\n${err}`),
      );
    }, options.timeoutMs ?? 120_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout: Buffer.concat(out), stderr: err, ms: performance.now() - started });
    });
  });
}

/** Environment for zonectl against the bench's sshd and dev host. */
export function zonectlEnv(env: BenchEnv, sshd: Sshd): Record<string, string> {
  return {
    SSH_AUTH_SOCK: "",
    ZONECTL_HOST: "",
    ZONECTL_SSH_CONFIG: sshd.sshConfigPath,
    ZONECTL_SOCKET: env.devHost.socketPath,
  };
}
