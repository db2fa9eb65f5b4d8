/**
 * What the extension under test talks to in the e2e tier, and how it is told about it: the dev
 * host (a real separate process serving protect.control.v1 on a unix socket) behind a real
 * OpenSSH sshd on loopback, a workspace folder (a copy of the sample project), user settings
 * for code-server, and environment variables for the extension-host suites.
 */
import { cp, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ProtectHost } from "../../extension/core/protect/host";
import { OciImageFormat } from "../../extension/proto/gen/protect/control/v1/common_pb";
import { startDevHost } from "../harness/devHost";
import type { StartedDevHost } from "../harness/devHost";
import { freePort, startSshd } from "../harness/sshd";
import type { Sshd } from "../harness/sshd";
import { buildTestImage } from "../harness/testImage";

/** The image the sample project names; the dev host gets a busybox built here under that name (no registry is reachable). */
export const sampleImage = "busybox:latest";

/**
 * Imports a busybox image built from Debian's busybox-static into the dev host's image store as
 * `name`, so PullImage of that reference is served locally. Returns the digest.
 */
export async function seedImage(socketPath: string, dir: string, name = sampleImage): Promise<string> {
  const image = await buildTestImage(dir);
  const bytes = await readFile(image.dockerArchive);
  const host = await ProtectHost.open(`unix://${socketPath}`);
  try {
    async function* chunks() {
      const size = 256 * 1024;
      for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
    }
    const upload = { name, format: OciImageFormat.UNKNOWN, size: bytes.length, chunks: chunks() };
    return (await host.importImage(upload, () => {})).digest;
  } finally {
    host.close();
  }
}

/** A started e2e environment; `stop()` ends everything it started. */
export interface E2eEnvironment {
  /** The folder the workbench opens. */
  workspace: string;
  /** VS Code user settings (e.g. `zones.hosts`). */
  settings: Record<string, unknown>;
  /** Environment for code-server itself (and so for its extension hosts). */
  env: Record<string, string>;
  /** Extra environment only the extension-host test run sees. */
  extensionHostEnv: Record<string, string>;
  /** The `zones.hosts` entry of the dev host: the sshd's ssh config alias (or its socket, see below). */
  hostId: string;
  devHost: StartedDevHost;
  sshd: Sshd;
  /** A second sshd whose host key nobody trusts yet (the unknown-key prompt). */
  untrustedSshd: Sshd;
  /** The dev host's Prometheus text is at 127.0.0.1:this/metrics/resource (`zones.metrics.prometheusPort`). */
  prometheusPort: number;
  /** Digest of the busybox image the dev host serves as {@link sampleImage}. */
  imageDigest: string;
  /** Host folder launched workspaces are copied to (the dev host is this machine). */
  workspaceRoot: string;
  /** A third sshd whose client key is encrypted with {@link lockedPassphrase} (the passphrase prompt). */
  lockedSshd: Sshd;
  lockedPassphrase: string;
  stop(): Promise<void>;
}

export const sampleProject = join(import.meta.dirname, "sampleProject");

export async function startEnvironment(dir: string): Promise<E2eEnvironment> {
  await mkdir(dir, { recursive: true });
  const workspace = join(dir, "workspace");
  await cp(sampleProject, workspace, { recursive: true });
  await mkdir(join(dir, "devhost"), { recursive: true });
  // Prometheus text on loopback, as protect-daemon serves it on :3035: the host dashboard reads it through sshd.
  const prometheusPort = await freePort();
  const devHost = await startDevHost({
    stateDir: join(dir, "devhost"),
    args: ["--prometheus", `127.0.0.1:${prometheusPort}`],
  });
  let imageDigest: string;
  try {
    imageDigest = await seedImage(devHost.socketPath, join(dir, "image"));
  } catch (err) {
    await devHost.stop();
    throw err;
  }
  const workspaceRoot = join(dir, "host-workspaces");
  let sshd: Sshd | undefined;
  let untrustedSshd: Sshd | undefined;
  let lockedSshd: Sshd;
  const lockedPassphrase = "correct horse battery staple";
  try {
    sshd = await startSshd({ alias: "zones-e2e" });
    untrustedSshd = await startSshd({ alias: "zones-untrusted", trustHostKey: false });
    lockedSshd = await startSshd({ alias: "zones-locked", clientKeyPassphrase: lockedPassphrase });
  } catch (err) {
    await untrustedSshd?.stop();
    await sshd?.stop();
    await devHost.stop();
    throw err;
  }
  // One ssh config for the extension, as a user's ~/.ssh/config would hold several hosts.
  const sshConfig = join(dir, "ssh_config");
  await writeFile(
    sshConfig,
    (await readFile(sshd.sshConfigPath, "utf8")) + "\n" + (await readFile(lockedSshd.sshConfigPath, "utf8")),
  );
  // ZONES_E2E_TRANSPORT=unix points the extension at the dev host's socket directly instead of
  // through sshd: a diagnostic for telling SSH-transport trouble from everything else.
  const direct = process.env.ZONES_E2E_TRANSPORT === "unix";
  const hostId = direct ? `unix://${devHost.socketPath}` : sshd.alias;
  return {
    workspace,
    settings: {
      "zones.hosts": [hostId],
      "zones.ssh.configFile": sshConfig,
      "zones.daemonSocket": devHost.socketPath,
      "zones.launch.workspaceRoot": workspaceRoot,
      "zones.metrics.prometheusPort": prometheusPort,
      // Terminals draw with the DOM renderer, so specs can read the screen as text.
      "terminal.integrated.gpuAcceleration": "off",
      // Every window opens the same folder: one whose terminal panel was open would start a local
      // shell in the next, and a revived one can end up in front of the zone terminal a spec reads.
      "terminal.integrated.hideOnStartup": "always",
      "terminal.integrated.enablePersistentSessions": false,
    },
    env: {},
    extensionHostEnv: {
      ZONES_TEST_HOST_ID: hostId,
      ZONES_TEST_DEVHOST_SOCKET: devHost.socketPath,
      ZONES_TEST_MISSING_SOCKET: join(dir, "no-daemon.socket"),
      ZONES_TEST_IMAGE_DIGEST: imageDigest,
    },
    hostId,
    devHost,
    prometheusPort,
    imageDigest,
    workspaceRoot,
    sshd,
    untrustedSshd,
    lockedSshd,
    lockedPassphrase,
    stop: async () => {
      await lockedSshd.stop().catch(() => undefined);
      await untrustedSshd.stop().catch(() => undefined);
      await sshd.stop().catch(() => undefined);
      await devHost.stop();
    },
  };
}
