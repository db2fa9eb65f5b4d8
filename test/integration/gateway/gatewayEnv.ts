// The gateway suites' world: the real dev host reached over its embedded SSH server (as a
// remote Styrolite host would be), a loopback registry holding the busybox test image and the
// same image with Debian's sftp-server added, a project launched with `zonectl up`, a HOME of
// its own (so ~/.ssh is the test's), and OpenSSH's own ssh/scp/sftp run against the aliases
// `zonectl ssh-config --write` made.
import { execFile, spawn } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { ProtectHost } from "../../../extension/core/protect/host";
import type { Zone } from "../../../extension/proto/gen/protect/control/v1/common_pb";
import { startDevHost } from "../../harness/devHost";
import type { StartedDevHost } from "../../harness/devHost";
import { startFaultProxy } from "../../harness/faultProxy";
import type { FaultProxy } from "../../harness/faultProxy";
import { addHostFilesLayer } from "../../harness/hostFilesImage";
import { startRegistry } from "../../harness/registry";
import type { TestRegistry } from "../../harness/registry";
import { freePort } from "../../harness/sshd";
import { buildTestImage } from "../../harness/testImage";
import { repoRoot, zonectl } from "../launch/cli";
import type { CliResult } from "../launch/cli";

export const sftpServerPath = "/usr/lib/openssh/sftp-server";

export interface GatewayEnv {
  readonly work: string;
  /** The test's HOME: ~/.ssh/config and ~/.ssh/styrolite-zones live here. */
  readonly home: string;
  readonly devHost: StartedDevHost;
  readonly api: ProtectHost;
  /** Environment for zonectl: the host over the embedded SSH server, HOME, workspace root. */
  readonly env: Record<string, string>;
  /** The same host through a fault proxy (alias `devhost-faulty`). */
  readonly faulty: { readonly proxy: FaultProxy; readonly env: Record<string, string> };
  readonly project: string;
  readonly zoneName: string;
  /** Reference of the image that has sftp-server. */
  readonly sftpImage: string;
  /** zonectl with the suite's environment. */
  zonectl(args: string[], options?: { stdin?: string | Buffer; timeoutMs?: number }): Promise<CliResult>;
  /** OpenSSH's ssh (or scp, sftp) with the test's ~/.ssh/config. */
  ssh(
    tool: "ssh" | "scp" | "sftp",
    args: string[],
    options?: { input?: string | Buffer; env?: Record<string, string>; timeoutMs?: number },
  ): Promise<{ code: number | null; stdout: string; stderr: string }>;
  stop(): Promise<void>;
}

export async function startGatewayEnv(name: string): Promise<GatewayEnv> {
  const work = mkdtempSync(join(tmpdir(), `gateway-${name}-`));
  const home = join(work, "home");
  mkdirSync(join(home, ".ssh"), { recursive: true, mode: 0o700 });
  let registry: TestRegistry | undefined;
  let devHost: StartedDevHost | undefined;
  let api: ProtectHost | undefined;
  let proxy: FaultProxy | undefined;
  const stop = async (): Promise<void> => {
    try {
      for (const z of (await api?.listZones().catch(() => [] as Zone[])) ?? [])
        await api!.destroyZone(z.id).catch(() => undefined);
    } finally {
      api?.close();
      await proxy?.close();
      await devHost?.stop();
      await registry?.stop();
      rmSync(work, { recursive: true, force: true });
    }
  };
  try {
    const image = await buildTestImage(join(work, "image"));
    await addHostFilesLayer(image.layoutDir, image.tag, "sftp", [sftpServerPath], { note: "sftp-server" });
    registry = await startRegistry();
    const busybox = await registry.push(image.layoutDir, "test/busybox", "1", { from: image.tag });
    const sftpImage = await registry.push(image.layoutDir, "test/busybox-sftp", "1", { from: "sftp" });

    const port = await freePort();
    const noKeys = join(work, "authorized_keys");
    writeFileSync(noKeys, "");
    devHost = await startDevHost({ args: ["--ssh", `127.0.0.1:${port}`, "--authorized-keys", noKeys] });
    api = await ProtectHost.open(`unix://${devHost.socketPath}`);
    proxy = await startFaultProxy({ port });

    // The host as an ssh alias, strictly pinned to the dev host's key; a second alias goes
    // through the fault proxy so one test can drop the connection.
    const hostKey = readFileSync(join(devHost.stateDir, "ssh", "ssh_host_ed25519_key.pub"), "utf8").trim();
    const knownHosts = join(work, "host_known_hosts");
    writeFileSync(knownHosts, `[127.0.0.1]:${port} ${hostKey}\n[127.0.0.1]:${proxy.port} ${hostKey}\n`);
    const hostConfig = join(work, "host_ssh_config");
    const clientKey = join(devHost.stateDir, "ssh", "client_ed25519_key");
    const block = (alias: string, p: number): string =>
      [
        `Host ${alias}`,
        "  HostName 127.0.0.1",
        `  Port ${p}`,
        `  User ${userInfo().username}`,
        `  IdentityFile ${clientKey}`,
        "  IdentitiesOnly yes",
        `  UserKnownHostsFile ${knownHosts}`,
        "  StrictHostKeyChecking yes",
        "",
      ].join("\n");
    writeFileSync(hostConfig, block("devhost", port) + block("devhost-faulty", proxy.port));

    const env: Record<string, string> = {
      HOME: home,
      ZONECTL_HOST: "devhost",
      ZONECTL_SSH_CONFIG: hostConfig,
      ZONECTL_SOCKET: devHost.socketPath,
      ZONECTL_WORKSPACE_ROOT: join(work, "host-workspaces"),
      GATEWAY_TEST_IMAGE: busybox,
    };
    const project = join(work, "project");
    cpSync(join(repoRoot, "test/fixtures/gateway/project"), project, { recursive: true });
    const up = await zonectl(["--json", "up", project], env, { timeoutMs: 180_000 });
    if (up.code !== 0) throw new Error(`zonectl up failed (${up.code}):\n${up.stderr}`);
    const zoneName = (JSON.parse(up.stdout.slice(up.stdout.indexOf("{"))) as { zoneName: string }).zoneName;

    const sshConfig = join(home, ".ssh", "config");
    const started = { registry, devHost, api, proxy };
    return {
      work,
      home,
      devHost: started.devHost,
      api: started.api,
      env,
      faulty: { proxy: started.proxy, env: { ...env, ZONECTL_HOST: "devhost-faulty" } },
      project,
      zoneName,
      sftpImage,
      zonectl: (args, options = {}) => zonectl(args, env, options),
      ssh: (tool, args, options = {}) =>
        runTool(
          tool,
          [
            "-F",
            sshConfig,
            ...(tool === "ssh" ? ["-o", "BatchMode=yes"] : tool === "scp" ? ["-B"] : []),
            ...args,
          ],
          {
            env: { ...env, ...options.env },
            ...(options.input !== undefined ? { input: options.input } : {}),
            timeoutMs: options.timeoutMs ?? 60_000,
          },
        ),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Runs an OpenSSH tool to its end; kills it after `timeoutMs` (a hang fails the test, it does not stall it). */
export function runTool(
  tool: string,
  args: string[],
  options: {
    env: Record<string, string>;
    input?: string | Buffer;
    timeoutMs: number;
    /** Called with all stdout so far, each time more arrives. */
    onStdout?: (stdout: string) => void;
    /** Ends the tool (SIGTERM), e.g. a forward the test is done with. */
    signal?: AbortSignal;
  },
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(tool, args, {
      env: { ...process.env, SSH_AUTH_SOCK: "", NODE_OPTIONS: "", ...options.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
      options.onStdout?.(stdout);
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      stderr += `\n[killed after ${options.timeoutMs} ms]`;
      child.kill("SIGKILL");
    }, options.timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    options.signal?.addEventListener("abort", () => child.kill("SIGTERM"), { once: true });
    child.stdin.on("error", () => undefined);
    child.stdin.end(options.input ?? "");
  });
}

/** `execFile` as a promise, for small helpers. */
export function run(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(file, args, (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
    ),
  );
}
