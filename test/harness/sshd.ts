/**
 * A real OpenSSH sshd on a free loopback port, for integration tests.
 *
 * Each instance has its own temp directory with a generated host key, a client key pair, an
 * authorized_keys file, an sshd_config, and — for the client side — an ssh config file with a
 * `Host` alias and a known_hosts file that trusts the host key (unless told otherwise). `stop()`
 * kills sshd and its per-connection children and removes the directory; call it in `after()`
 * (it is safe to call twice).
 *
 *   const sshd = await startSshd({ config: { AllowTcpForwarding: "no" } });
 *   try { … connect to sshd.alias with configFile: sshd.sshConfigPath … } finally { await sshd.stop(); }
 */
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";

/** Options for {@link startSshd}. Every field is optional. */
export interface SshdOptions {
  /**
   * sshd_config keywords set or overridden for this test, e.g. `{ AllowTcpForwarding: "no" }`,
   * `{ MaxSessions: "2" }`, `{ PermitOpen: "none" }`. Values are written as given.
   */
  readonly config?: Readonly<Record<string, string>>;
  /** The login user the client config and authorized_keys are for. Default: the current user. */
  readonly user?: string;
  /** Host key algorithm. Default "ed25519". */
  readonly hostKeyType?: "ed25519" | "ecdsa" | "rsa";
  /** Write the host key into the client's known_hosts file. Default true. */
  readonly trustHostKey?: boolean;
  /** Encrypt the client private key with this passphrase. Default: unencrypted. */
  readonly clientKeyPassphrase?: string;
  /** Extra lines appended inside the client config's `Host` block, e.g. `["ProxyJump other"]`. */
  readonly clientConfig?: readonly string[];
  /** The `Host` alias of the client config. Default `sshd-<port>`. */
  readonly alias?: string;
  /** StrictHostKeyChecking in the client config. Default "yes" (tests should not trust silently). */
  readonly strictHostKeyChecking?: "yes" | "no" | "ask" | "accept-new";
}

/** A running test sshd. */
export interface Sshd {
  readonly host: "127.0.0.1";
  readonly port: number;
  /** Login user. */
  readonly user: string;
  /** `user@127.0.0.1:port`. */
  readonly destination: string;
  /** The `Host` alias written to {@link sshConfigPath}. */
  readonly alias: string;
  /** The temp directory holding everything below; removed by stop(). */
  readonly dir: string;
  /** Client-side ssh config: the alias block with HostName, Port, User, IdentityFile, known_hosts. */
  readonly sshConfigPath: string;
  /** Client-side known_hosts file (trusts the current host key unless trustHostKey was false). */
  readonly knownHostsPath: string;
  readonly clientKeyPath: string;
  /** The known_hosts host field: `[127.0.0.1]:port`. */
  readonly knownHostsName: string;
  /** The current host public key line (`ssh-ed25519 AAAA…`). Changes after rotateHostKey(). */
  hostPublicKey(): string;
  /** The current host key fingerprint as OpenSSH prints it: `SHA256:` + unpadded base64. */
  hostFingerprint(): string;
  /** Stops and starts sshd on the same port with the same host key. Open connections drop. */
  restart(): Promise<void>;
  /** Generates a new host key and restarts sshd with it; known_hosts is left untouched. */
  rotateHostKey(): Promise<void>;
  /** Kills the per-connection sshd processes (dropping every open connection); the listener stays. */
  killSessions(): Promise<number>;
  /** Pids of the per-connection sshd processes and their children (e.g. to SIGSTOP a connection). */
  sessionPids(): number[];
  /** sshd's stderr (-e) so far, for failure messages. */
  logs(): string;
  /** Kills sshd and everything it started, removes the temp directory. Idempotent. */
  stop(): Promise<void>;
}

const sshdPath = "/usr/sbin/sshd";

/** Starts a real sshd. Rejects (and cleans up) if it does not listen within 10 s. */
export async function startSshd(options: SshdOptions = {}): Promise<Sshd> {
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  const dir = mkdtempSync(join(tmpdir(), "zones-sshd-"));
  chmodSync(dir, 0o755); // a non-root login user must be able to read its authorized_keys here
  const user = options.user ?? userInfo().username;
  const hostKeyType = options.hostKeyType ?? "ed25519";
  const hostKeyPath = join(dir, "host_key");
  const clientKeyPath = join(dir, "client_key");
  const authorizedKeys = join(dir, "authorized_keys");
  const knownHostsPath = join(dir, "known_hosts");
  const sshConfigPath = join(dir, "ssh_config");
  const sshdConfigPath = join(dir, "sshd_config");
  const sessionHome = join(dir, "home");
  mkdirSync(sessionHome, { mode: 0o777 });
  chmodSync(sessionHome, 0o777); // any login user, root or not, may write its dotfiles here

  try {
    keygen(hostKeyPath, hostKeyType, "");
    keygen(clientKeyPath, "ed25519", options.clientKeyPassphrase ?? "");
    writeFileSync(authorizedKeys, readFileSync(`${clientKeyPath}.pub`), { mode: 0o644 });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  let port = await freePort();
  const alias = options.alias ?? `sshd-${port}`;
  const knownHostsName = () => `[127.0.0.1]:${port}`;

  const writeConfigs = (): void => {
    const base: Record<string, string> = {
      ListenAddress: `127.0.0.1:${port}`,
      HostKey: hostKeyPath,
      PidFile: join(dir, "sshd.pid"),
      AuthorizedKeysFile: authorizedKeys,
      UsePAM: "no",
      StrictModes: "no",
      PermitRootLogin: "prohibit-password",
      PasswordAuthentication: "no",
      KbdInteractiveAuthentication: "no",
      Subsystem: "sftp internal-sftp",
      AllowTcpForwarding: "yes",
      AllowStreamLocalForwarding: "yes",
      LogLevel: "VERBOSE",
      PrintMotd: "no",
      // Sessions get a HOME of their own, so the login user's real rc files (root's .bashrc
      // here runs pyenv, which leaves a stale lock that hangs every later shell when a test
      // kills a session mid-rehash) never run, and tests do not depend on the machine's dotfiles.
      SetEnv: `HOME=${sessionHome}`,
      ...options.config,
    };
    writeFileSync(
      sshdConfigPath,
      Object.entries(base)
        .map(([k, v]) => `${k} ${v}\n`)
        .join(""),
    );
    writeFileSync(
      sshConfigPath,
      [
        `Host ${alias}`,
        `  HostName 127.0.0.1`,
        `  Port ${port}`,
        `  User ${user}`,
        `  IdentityFile ${clientKeyPath}`,
        `  IdentitiesOnly yes`,
        `  UserKnownHostsFile ${knownHostsPath}`,
        `  StrictHostKeyChecking ${options.strictHostKeyChecking ?? "yes"}`,
        ...(options.clientConfig ?? []).map((l) => `  ${l}`),
        "",
      ].join("\n"),
    );
  };
  writeConfigs();
  writeFileSync(
    knownHostsPath,
    options.trustHostKey === false ? "" : `${knownHostsName()} ${publicKeyLine(hostKeyPath)}\n`,
  );

  let child: ChildProcess | undefined;
  let log = "";
  let stopped = false;

  const launch = async (mayMovePort: boolean): Promise<void> => {
    for (let attempt = 0; ; attempt++) {
      log += `--- starting sshd on port ${port}\n`;
      const proc = spawn(sshdPath, ["-D", "-e", "-f", sshdConfigPath], {
        stdio: ["ignore", "ignore", "pipe"],
      });
      child = proc;
      const listening = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 10_000);
        proc.stderr.setEncoding("utf8");
        proc.stderr.on("data", (chunk: string) => {
          log += chunk;
          if (/Server listening on 127\.0\.0\.1 port/.test(log.slice(log.lastIndexOf("--- starting")))) {
            clearTimeout(timer);
            resolve(true);
          }
        });
        proc.once("exit", () => {
          clearTimeout(timer);
          resolve(false);
        });
      });
      if (listening) return;
      await killChild(proc);
      // Another process may have taken the port between freePort() and bind: pick a new one,
      // unless this is a restart, where the port must stay (clients know it).
      if (!mayMovePort || attempt >= 2 || !/Address already in use/.test(log)) {
        throw new Error(`sshd did not start:\n${log}`);
      }
      port = await freePort();
      writeConfigs();
      writeFileSync(
        knownHostsPath,
        options.trustHostKey === false ? "" : `${knownHostsName()} ${publicKeyLine(hostKeyPath)}\n`,
      );
    }
  };

  const killSessionProcesses = (): number => {
    if (!child?.pid) return 0;
    const kids = childrenOf(child.pid);
    for (const pid of kids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    return kids.length;
  };

  const shutdown = async (): Promise<void> => {
    killSessionProcesses();
    if (child) await killChild(child);
    child = undefined;
  };

  // If the test process exits without stop() (a crash, a forgotten after()), take sshd along.
  const onExit = (): void => {
    killSessionProcesses();
    child?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  process.once("exit", onExit);

  try {
    await launch(true);
  } catch (err) {
    process.off("exit", onExit);
    await shutdown();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  const sshd: Sshd = {
    host: "127.0.0.1",
    get port() {
      return port;
    },
    user,
    get destination() {
      return `${user}@127.0.0.1:${port}`;
    },
    alias,
    dir,
    sshConfigPath,
    knownHostsPath,
    clientKeyPath,
    get knownHostsName() {
      return knownHostsName();
    },
    hostPublicKey: () => publicKeyLine(hostKeyPath),
    hostFingerprint: () => fingerprintOf(publicKeyLine(hostKeyPath)),
    async restart() {
      await shutdown();
      await launch(false);
    },
    async rotateHostKey() {
      await shutdown();
      rmSync(hostKeyPath, { force: true });
      rmSync(`${hostKeyPath}.pub`, { force: true });
      keygen(hostKeyPath, hostKeyType, "");
      await launch(false);
    },
    async killSessions() {
      const n = killSessionProcesses();
      // Give the kernel a moment to deliver the resets before the test looks.
      await new Promise((r) => setTimeout(r, 50));
      return n;
    },
    sessionPids: () => (child?.pid ? childrenOf(child.pid) : []),
    logs: () => log,
    async stop() {
      if (stopped) return;
      stopped = true;
      process.off("exit", onExit);
      await shutdown();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return sshd;
}

/** `SHA256:` + unpadded base64 of the key blob, as `ssh-keygen -l` prints it. */
export function fingerprintOf(publicKeyLine: string): string {
  const blob = Buffer.from(publicKeyLine.trim().split(/\s+/)[1] ?? "", "base64");
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

function keygen(path: string, type: string, passphrase: string): void {
  const args = ["-q", "-t", type, "-N", passphrase, "-C", "zones-test", "-f", path];
  if (type === "rsa") args.push("-b", "2048");
  const r = spawnSync("ssh-keygen", args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
}

function publicKeyLine(privateKeyPath: string): string {
  const [type, blob] = readFileSync(`${privateKeyPath}.pub`, "utf8").trim().split(/\s+/);
  return `${type} ${blob}`;
}

/** A port free on 127.0.0.1 right now (the kernel picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

/** Direct and indirect children of `pid`, read from /proc. */
function childrenOf(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      // The command name may contain spaces and parentheses: parse after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      parentOf.set(Number(name), Number(fields[1]));
    } catch {
      // process exited while we looked
    }
  }
  const out: number[] = [];
  const walk = (parent: number): void => {
    for (const [child, ppid] of parentOf) {
      if (ppid === parent) {
        out.push(child);
        walk(child);
      }
    }
  };
  walk(pid);
  return out;
}

function killChild(proc: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      resolve();
      return;
    }
    const timer = setTimeout(() => proc.kill("SIGKILL"), 2_000);
    proc.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    proc.kill("SIGTERM");
  });
}
