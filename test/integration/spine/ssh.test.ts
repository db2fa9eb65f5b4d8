// core/ssh against a real OpenSSH sshd on loopback: exec, host keys, auth, ProxyJump, ProxyCommand, loss.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { spawn } from "node:child_process";
import { SshConnection } from "../../../extension/core/ssh/connection";
import { ManagedSshConnection } from "../../../extension/core/ssh/managed";
import type { SshConnectionState } from "../../../extension/core/ssh/managed";
import type { SshConnectOptions } from "../../../extension/core/ssh/connection";
import { SshError } from "../../../extension/core/ssh/errors";
import { freePort, startSshd } from "../../harness/sshd";
import type { Sshd } from "../../harness/sshd";

const isolated = (sshd: Sshd, extra: Partial<SshConnectOptions> = {}): SshConnectOptions => ({
  configFile: sshd.sshConfigPath,
  env: {}, // no agent from the test runner's environment
  homedir: sshd.dir,
  ...extra,
});

async function rejectsWith(p: Promise<unknown>, reason: string): Promise<SshError> {
  try {
    await p;
  } catch (err) {
    assert.ok(SshError.is(err), `expected SshError, got ${String(err)}`);
    assert.equal(err.reason, reason, err.message);
    return err;
  }
  assert.fail(`expected SshError ${reason}, but it succeeded`);
}

describe("ssh connection to a real sshd", () => {
  let sshd: Sshd;
  before(async () => {
    sshd = await startSshd();
  });
  after(async () => {
    await sshd.stop();
  });

  test("exec reports output, exit codes and signals", async () => {
    const conn = await SshConnection.connect(sshd.alias, isolated(sshd));
    try {
      assert.equal(conn.key, sshd.destination);
      const ok = await conn.run("echo out; echo err >&2; exit 3");
      assert.deepEqual(ok, { code: 3, signal: undefined, stdout: "out\n", stderr: "err\n" });
      const killed = await conn.run("kill -TERM $$");
      assert.equal(killed.signal, "SIGTERM");
      assert.equal(killed.code, undefined);
      const stdin = await conn.run("tr a-z A-Z", { stdin: "hello" });
      assert.equal(stdin.stdout, "HELLO");
    } finally {
      conn.close();
    }
  });

  test("PTY shell, SFTP and a TCP forward share the one connection", async () => {
    const conn = await SshConnection.connect(sshd.alias, isolated(sshd));
    const server = createServer((sock) => sock.end("hello from the far side\n"));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const shell = await conn.shell({ rows: 33, cols: 101, term: "xterm" });
      let screen = "";
      shell.on("data", (d: Buffer) => (screen += d.toString()));
      shell.write("stty size; exit\n");
      await new Promise((r) => shell.on("close", r));
      assert.match(screen, /33 101/);

      const sftp = await conn.sftp();
      const remote = join(sshd.dir, "sftp-file");
      await new Promise<void>((res, rej) => sftp.writeFile(remote, "via sftp", (e) => (e ? rej(e) : res())));
      assert.equal(readFileSync(remote, "utf8"), "via sftp");
      sftp.end();

      const port = (server.address() as AddressInfo).port;
      const channel = await conn.forwardOut("127.0.0.1", port);
      let got = "";
      channel.on("data", (d: Buffer) => (got += d.toString()));
      // The far side ends its half; the channel closes once ours ends too.
      await new Promise((r) => channel.on("end", r));
      channel.end();
      assert.equal(got, "hello from the far side\n");
    } finally {
      server.close();
      conn.close();
    }
  });

  test("a key file that cannot be parsed is skipped with a log line; the next one is used", async () => {
    const garbage = join(sshd.dir, "garbage_key");
    writeFileSync(
      garbage,
      "-----BEGIN OPENSSH PRIVATE KEY-----\nbm90IGEga2V5\n-----END OPENSSH PRIVATE KEY-----\n",
    );
    const config = writeConfig(
      sshd,
      `HostName 127.0.0.1\nPort ${sshd.port}\nUser ${sshd.user}\nIdentityFile ${garbage}\nIdentityFile ${sshd.clientKeyPath}\nUserKnownHostsFile ${sshd.knownHostsPath}\n`,
      "two-keys",
    );
    const lines: string[] = [];
    const log = (m: string): void => void lines.push(m);
    const conn = await SshConnection.connect(
      "two-keys",
      isolated(sshd, {
        configFile: config,
        logger: { trace: log, debug: log, info: log, warn: log, error: log },
      }),
    );
    conn.close();
    assert.ok(
      lines.some((l) => l.includes(garbage) && /cannot be parsed/.test(l)),
      lines.join("\n"),
    );
  });

  test("user@host:port destinations work without an alias", async () => {
    const conn = await SshConnection.connect(
      sshd.destination,
      isolated(sshd, {
        configFile: writeConfig(
          sshd,
          `IdentityFile ${sshd.clientKeyPath}\nUserKnownHostsFile ${sshd.knownHostsPath}\n`,
        ),
      }),
    );
    try {
      assert.equal((await conn.run("echo $USER")).code, 0);
    } finally {
      conn.close();
    }
  });

  test("a refused TCP connection is connectFailed with the errno", async () => {
    const port = await freePort();
    const err = await rejectsWith(
      SshConnection.connect(`root@127.0.0.1:${port}`, isolated(sshd)),
      "connectFailed",
    );
    assert.equal(err.details.errno, "ECONNREFUSED");
  });

  test("a key the server does not accept is authFailed", async () => {
    const other = join(sshd.dir, "stranger_key");
    spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", other]);
    const config = writeConfig(
      sshd,
      `HostName 127.0.0.1\nPort ${sshd.port}\nUser ${sshd.user}\nIdentityFile ${other}\nUserKnownHostsFile ${sshd.knownHostsPath}\n`,
      "stranger",
    );
    await rejectsWith(
      SshConnection.connect("stranger", isolated(sshd, { configFile: config })),
      "authFailed",
    );
  });

  test("a lost connection fires onDidClose with 'lost'", async () => {
    const conn = await SshConnection.connect(
      sshd.alias,
      isolated(sshd, { keepaliveIntervalMs: 500, keepaliveCountMax: 2 }),
    );
    const closed = new Promise<SshError | undefined>((resolve) => conn.onDidClose(resolve));
    assert.ok((await sshd.killSessions()) > 0);
    const err = await closed;
    assert.ok(SshError.is(err, "lost"), String(err));
    assert.equal(conn.isConnected, false);
    await rejectsWith(conn.run("true"), "lost");
  });
});

describe("host keys", () => {
  test("unknown key: the callback sees the fingerprint; yes records it, no refuses", async () => {
    const sshd = await startSshd({ trustHostKey: false, strictHostKeyChecking: "ask" });
    try {
      const asked: { fingerprint: string; port: number; keyType: string }[] = [];
      await rejectsWith(
        SshConnection.connect(
          sshd.alias,
          isolated(sshd, { callbacks: { confirmHostKey: async (q) => (asked.push(q), false) } }),
        ),
        "hostKeyUnknown",
      );
      assert.equal(asked.length, 1);
      assert.equal(asked[0]!.fingerprint, sshd.hostFingerprint());
      assert.equal(asked[0]!.port, sshd.port);
      assert.equal(asked[0]!.keyType, "ssh-ed25519");
      assert.equal(readFileSync(sshd.knownHostsPath, "utf8"), "");

      const conn = await SshConnection.connect(
        sshd.alias,
        isolated(sshd, { callbacks: { confirmHostKey: async () => true } }),
      );
      conn.close();
      assert.equal(
        readFileSync(sshd.knownHostsPath, "utf8"),
        `${sshd.knownHostsName} ${sshd.hostPublicKey()}\n`,
      );
      // Recorded: the next connection does not ask.
      const again = await SshConnection.connect(
        sshd.alias,
        isolated(sshd, { callbacks: { confirmHostKey: async () => assert.fail("asked again") } }),
      );
      again.close();
      // OpenSSH agrees with what we wrote.
      const ssh = spawnSync(
        "ssh",
        [
          "-F",
          sshd.sshConfigPath,
          "-o",
          "BatchMode=yes",
          "-o",
          "StrictHostKeyChecking=yes",
          sshd.alias,
          "true",
        ],
        { encoding: "utf8" },
      );
      assert.equal(ssh.status, 0, ssh.stderr);
    } finally {
      await sshd.stop();
    }
  });

  test("StrictHostKeyChecking yes refuses an unknown key without asking", async () => {
    const sshd = await startSshd({ trustHostKey: false, strictHostKeyChecking: "yes" });
    try {
      const err = await rejectsWith(
        SshConnection.connect(
          sshd.alias,
          isolated(sshd, { callbacks: { confirmHostKey: async () => assert.fail("must not ask") } }),
        ),
        "hostKeyUnknown",
      );
      assert.equal(err.details.fingerprint, sshd.hostFingerprint());
      assert.match(err.message, new RegExp(sshd.hostFingerprint().replace(/[+/]/g, "\\$&")));
    } finally {
      await sshd.stop();
    }
  });

  test("a changed key is refused naming known_hosts file:line and both fingerprints, whatever the settings", async () => {
    const sshd = await startSshd({ strictHostKeyChecking: "no" });
    try {
      appendFileSync(
        sshd.knownHostsPath,
        "# another entry\nother.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBYKZWz+Ja1RA7oUu0rHEqKLnhj4u6M8RVjGKxGpGsPc\n",
      );
      // Move the real entry to line 3 so the line number means something.
      const lines = readFileSync(sshd.knownHostsPath, "utf8").split("\n");
      writeFileSync(sshd.knownHostsPath, [lines[1], lines[2], lines[0], ""].join("\n"));
      const old = sshd.hostFingerprint();
      await sshd.rotateHostKey();
      const err = await rejectsWith(
        SshConnection.connect(
          sshd.alias,
          isolated(sshd, { callbacks: { confirmHostKey: async () => true } }),
        ),
        "hostKeyChanged",
      );
      assert.equal(err.details.knownHostsFile, sshd.knownHostsPath);
      assert.equal(err.details.knownHostsLine, 3);
      assert.equal(err.details.oldFingerprint, old);
      assert.equal(err.details.fingerprint, sshd.hostFingerprint());
      assert.notEqual(old, sshd.hostFingerprint());
      assert.ok(err.message.includes(`${sshd.knownHostsPath}:3`), err.message);
      // Nothing was written.
      assert.ok(!readFileSync(sshd.knownHostsPath, "utf8").includes(sshd.hostPublicKey()));
    } finally {
      await sshd.stop();
    }
  });

  test("a @revoked key is refused", async () => {
    const sshd = await startSshd();
    try {
      appendFileSync(sshd.knownHostsPath, `@revoked * ${sshd.hostPublicKey()}\n`);
      await rejectsWith(SshConnection.connect(sshd.alias, isolated(sshd)), "hostKeyRevoked");
    } finally {
      await sshd.stop();
    }
  });
});

describe("authentication", () => {
  test("an encrypted key asks for its passphrase again after a wrong one", async () => {
    const sshd = await startSshd({ clientKeyPassphrase: "correct horse" });
    try {
      const answers = ["wrong", "correct horse"];
      const asked: number[] = [];
      const lines: string[] = [];
      const conn = await SshConnection.connect(
        sshd.alias,
        isolated(sshd, {
          callbacks: { passphrase: async (r) => (asked.push(r.attempt), answers.shift()) },
          logger: {
            trace: () => {},
            debug: (m) => lines.push(m),
            info: (m) => lines.push(m),
            warn: (m) => lines.push(m),
            error: (m) => lines.push(m),
          },
        }),
      );
      conn.close();
      assert.deepEqual(asked, [1, 2]);
      assert.ok(!lines.join("\n").includes("correct horse"), "a passphrase reached the log");
      assert.ok(lines.some((l) => /wrong passphrase/.test(l)));
    } finally {
      await sshd.stop();
    }
  });
});

describe("password authentication", () => {
  test("the password callback is asked again after a wrong password; the password never reaches the log", async () => {
    const user = `zp${process.pid % 100000}`;
    assert.equal(spawnSync("useradd", ["--create-home", "--shell", "/bin/sh", user]).status, 0);
    spawnSync("chpasswd", [], { input: `${user}:s3cret-pass\n` });
    const sshd = await startSshd({
      user,
      config: { PasswordAuthentication: "yes", PubkeyAuthentication: "no" },
    });
    try {
      const answers = ["wrong-pass", "s3cret-pass"];
      const asked: number[] = [];
      const lines: string[] = [];
      const log = (m: string): void => void lines.push(m);
      const conn = await SshConnection.connect(
        sshd.alias,
        isolated(sshd, {
          callbacks: { password: async (r) => (asked.push(r.attempt), answers.shift()) },
          logger: { trace: log, debug: log, info: log, warn: log, error: log },
        }),
      );
      try {
        assert.equal((await conn.run("id -un")).stdout.trim(), user);
      } finally {
        conn.close();
      }
      assert.deepEqual(asked, [1, 2]);
      assert.ok(
        !lines.join("\n").includes("s3cret-pass") && !lines.join("\n").includes("wrong-pass"),
        "a password reached the log",
      );
      // Giving up (undefined) ends with authFailed, not a hang.
      await rejectsWith(
        SshConnection.connect(sshd.alias, isolated(sshd, { callbacks: { password: async () => undefined } })),
        "authFailed",
      );
    } finally {
      await sshd.stop();
      spawnSync("userdel", ["--remove", user]);
    }
  });
});

describe("agent", () => {
  test("keys from a real ssh-agent are tried first; IdentitiesOnly limits them to IdentityFile", async () => {
    const sshd = await startSshd();
    const agentSocket = join(sshd.dir, "agent.sock");
    const agent = spawn("ssh-agent", ["-D", "-a", agentSocket], { stdio: "ignore" });
    try {
      await waitFor(() => spawnSync("test", ["-S", agentSocket]).status === 0);
      const added = spawnSync("ssh-add", [sshd.clientKeyPath], {
        env: { ...process.env, SSH_AUTH_SOCK: agentSocket },
        encoding: "utf8",
      });
      assert.equal(added.status, 0, added.stderr);
      // No usable identity file: only the agent can authenticate.
      const agentOnly = writeConfig(
        sshd,
        `HostName 127.0.0.1\nPort ${sshd.port}\nUser ${sshd.user}\nIdentityFile ${join(sshd.dir, "absent_key")}\nUserKnownHostsFile ${sshd.knownHostsPath}\n`,
        "via-agent",
      );
      const conn = await SshConnection.connect("via-agent", {
        configFile: agentOnly,
        env: { SSH_AUTH_SOCK: agentSocket },
        homedir: sshd.dir,
      });
      conn.close();

      // IdentitiesOnly with an IdentityFile the agent does not hold: the agent's key is not offered.
      const other = join(sshd.dir, "other_key");
      spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", other]);
      const only = writeConfig(
        sshd,
        `HostName 127.0.0.1\nPort ${sshd.port}\nUser ${sshd.user}\nIdentityFile ${other}\nIdentitiesOnly yes\nUserKnownHostsFile ${sshd.knownHostsPath}\n`,
        "only-other",
      );
      await rejectsWith(
        SshConnection.connect("only-other", {
          configFile: only,
          env: { SSH_AUTH_SOCK: agentSocket },
          homedir: sshd.dir,
        }),
        "authFailed",
      );
    } finally {
      agent.kill();
      await sshd.stop();
    }
  });
});

describe("keepalive and reconnect", () => {
  test("a half-dead link (server frozen, TCP open) is noticed by keepalive", async () => {
    const sshd = await startSshd();
    const conn = await SshConnection.connect(
      sshd.alias,
      isolated(sshd, { keepaliveIntervalMs: 500, keepaliveCountMax: 2 }),
    );
    const pids = sshd.sessionPids();
    try {
      const closed = new Promise<SshError | undefined>((resolve) => conn.onDidClose(resolve));
      const started = Date.now();
      for (const pid of pids) {
        try {
          process.kill(pid, "SIGSTOP");
        } catch {
          // a short-lived child (the no-delay exec) already exited
        }
      }
      const err = await closed;
      assert.ok(SshError.is(err, "lost"), String(err));
      assert.match(err.message, /keepalive/);
      assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);
    } finally {
      for (const pid of pids) {
        try {
          process.kill(pid, "SIGCONT");
        } catch {
          // gone
        }
      }
      conn.close();
      await sshd.stop();
    }
  });

  test("a reconnect that meets a changed host key stops at 'failed' and never accepts it", async () => {
    const sshd = await startSshd();
    const managed = new ManagedSshConnection(sshd.alias, {
      ...isolated(sshd),
      reconnect: { initialDelayMs: 100, maxAttempts: 5 },
      callbacks: { confirmHostKey: async () => true },
    });
    const states: SshConnectionState[] = [];
    managed.onDidChangeState((s) => states.push(s));
    try {
      await managed.connection();
      await sshd.rotateHostKey();
      await waitFor(() => managed.state.state === "failed", 15_000);
      const failed = managed.state;
      assert.ok(
        failed.state === "failed" && SshError.is(failed.error, "hostKeyChanged"),
        JSON.stringify(failed),
      );
      // While sshd restarts an attempt may meet a closed port first (retried); the changed key is not.
      assert.match(
        states.map((s) => s.state).join(" "),
        /^connecting connected lost (reconnecting )+failed$/,
      );
      await rejectsWith(managed.connection(), "hostKeyChanged");
    } finally {
      managed.dispose();
      await sshd.stop();
    }
  });
});

describe("ProxyJump", () => {
  test("reaches a host through a jump host, and loses it when the jump dies", async () => {
    const jump = await startSshd({ alias: "jump-host", config: { LogLevel: "DEBUG1" } });
    const target = await startSshd({ alias: "behind-jump", clientConfig: ["ProxyJump jump-host"] });
    try {
      // One config that includes both harness configs: Include is resolved by us.
      const config = join(target.dir, "combined_config");
      writeFileSync(config, `Include ${target.sshConfigPath}\nInclude ${jump.sshConfigPath}\n`);
      const conn = await SshConnection.connect("behind-jump", {
        configFile: config,
        env: {},
        homedir: target.dir,
      });
      try {
        assert.equal((await conn.run("echo through")).stdout, "through\n");
        // The jump sshd saw the direct-tcpip request for the target's port.
        assert.match(
          jump.logs(),
          new RegExp(
            `direct-tcpip.*127\\.0\\.0\\.1 port ${target.port}|target 127\\.0\\.0\\.1 port ${target.port}`,
          ),
        );
        const closed = new Promise<SshError | undefined>((resolve) => conn.onDidClose(resolve));
        await jump.killSessions();
        assert.ok(SshError.is(await closed, "lost"));
      } finally {
        conn.close();
      }
    } finally {
      await target.stop();
      await jump.stop();
    }
  });
});

describe("ProxyJump failures", () => {
  test("a jump host that cannot reach the target reports connectFailed naming the jump host", async () => {
    const jump = await startSshd({ alias: "jump-only" });
    try {
      const deadPort = await freePort();
      const config = join(jump.dir, "dead_target");
      // The Include comes first: after a Host line it would belong to that block (as in OpenSSH).
      writeFileSync(
        config,
        `Include ${jump.sshConfigPath}\nHost dead-target\n  HostName 127.0.0.1\n  Port ${deadPort}\n  ProxyJump jump-only\n`,
      );
      const err = await rejectsWith(
        SshConnection.connect("dead-target", { configFile: config, env: {}, homedir: jump.dir }),
        "connectFailed",
      );
      assert.ok(err.message.includes(jump.destination), err.message);
    } finally {
      await jump.stop();
    }
  });
});

describe("ProxyCommand", () => {
  test("connects over the command's stdio with %h %p expanded, and ends the command with the connection", async () => {
    const dir = mkdtempSync(join(tmpdir(), "zones-proxycommand-"));
    const marker = join(dir, "pid");
    // `exec` keeps the pid: the marker names the socat that carries the connection.
    const target = await startSshd({
      alias: "behind-command",
      clientConfig: [`ProxyCommand sh -c 'echo $$ > ${marker}; exec socat - TCP:"$0":"$1"' %h %p`],
    });
    try {
      const conn = await SshConnection.connect("behind-command", isolated(target));
      let pid: number;
      try {
        assert.equal((await conn.run("echo through")).stdout, "through\n");
        pid = Number(readFileSync(marker, "utf8").trim());
        assert.ok(pid > 0 && existsSync(`/proc/${pid}`), "the ProxyCommand is running while connected");
      } finally {
        conn.close();
      }
      await waitFor(
        () => !existsSync(`/proc/${pid}`) || readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z "),
      );
    } finally {
      await target.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a ProxyCommand that fails is connectFailed with its exit status and what it printed", async () => {
    const target = await startSshd({
      alias: "bad-command",
      clientConfig: ["ProxyCommand sh -c 'echo no route to the bastion >&2; exit 3'"],
    });
    try {
      const err = await rejectsWith(SshConnection.connect("bad-command", isolated(target)), "connectFailed");
      assert.match(err.message, /ProxyCommand \(sh\) exited with status 3: no route to the bastion/);
    } finally {
      await target.stop();
    }
  });
});

describe("channels", () => {
  test("streamlocal denied by AllowTcpForwarding no is channelRefused, and the connection lives on", async () => {
    const sshd = await startSshd({ config: { AllowTcpForwarding: "no" } });
    try {
      const conn = await SshConnection.connect(sshd.alias, isolated(sshd));
      try {
        const err = await rejectsWith(conn.openStreamLocal("/run/nothing.sock"), "channelRefused");
        // OpenSSH answers "open failed" (SSH_OPEN_CONNECT_FAILED), the same as for a missing socket.
        assert.equal(err.details.channelFailureCode, 2);
        // The connection survives a refused channel.
        assert.equal((await conn.run("echo still")).stdout, "still\n");
      } finally {
        conn.close();
      }
    } finally {
      await sshd.stop();
    }
  });
});

async function waitFor(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}

function writeConfig(sshd: Sshd, body: string, alias = "*"): string {
  const path = join(sshd.dir, `config_${alias.replace(/\W/g, "_")}`);
  writeFileSync(
    path,
    `Host ${alias}\n${body
      .split("\n")
      .map((l) => `  ${l}`)
      .join("\n")}\n`,
  );
  return path;
}
