// Logs never carry secrets. A run that authenticates with an encrypted key (a wrong passphrase
// first, then the right one) and another that logs in with a password, both against a real
// sshd and both logging everything at trace level, must leave no passphrase, password or
// private key material in the captured log — nor in zonectl's verbose stderr.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { loggerFrom } from "../../../extension/core/log";
import { ProtectHost } from "../../../extension/core/protect/host";
import { SshConnection } from "../../../extension/core/ssh/connection";
import { startDevHost } from "../../harness/devHost";
import type { StartedDevHost } from "../../harness/devHost";
import { startSshd } from "../../harness/sshd";
import { repoRoot, zonectlArgs } from "../spine/zonectl";

const passphrase = `pass-${process.pid}-Tr0ub4dor&3 horse`;
const wrongPassphrase = `wrong-${process.pid}-battery staple`;
const password = `pw-${process.pid}-correct H0rse!`;
let devHost: StartedDevHost;

before(async () => {
  devHost = await startDevHost();
});

after(async () => {
  await devHost.stop();
});

/** Everything a logger at trace level wrote, one string. */
function capture(): { logger: ReturnType<typeof loggerFrom>; text: () => string } {
  const lines: string[] = [];
  return {
    logger: loggerFrom((level, line) => lines.push(`${level}: ${line}`), "trace"),
    text: () => lines.join("\n"),
  };
}

/** Fragments of a private key file that must never be printed: its base64 body in 16-character slices. */
function keyFragments(privateKeyFile: string): string[] {
  const body = readFileSync(privateKeyFile, "utf8")
    .split("\n")
    .filter((l) => l && !l.startsWith("-----"))
    .join("");
  const out: string[] = [];
  for (let i = 0; i + 16 <= body.length; i += 16) out.push(body.slice(i, i + 16));
  return out;
}

function assertClean(what: string, log: string, secrets: readonly string[], keyFile?: string): void {
  assert.ok(log.length > 0, `${what}: nothing was logged, so nothing was checked`);
  for (const s of secrets) assert.ok(!log.includes(s), `${what}: a secret reached the log`);
  assert.doesNotMatch(log, /PRIVATE KEY/, `${what}: private key armour in the log`);
  if (keyFile) {
    const leaked = keyFragments(keyFile).filter((f) => log.includes(f));
    assert.deepEqual(leaked, [], `${what}: private key material in the log`);
  }
}

describe("no secret reaches a log", () => {
  test("encrypted key with a passphrase (a wrong one first): the trace log holds neither passphrase nor key", async () => {
    const sshd = await startSshd({ clientKeyPassphrase: passphrase });
    const log = capture();
    const answers = [wrongPassphrase, passphrase];
    try {
      const host = await ProtectHost.open(sshd.alias, {
        configFile: sshd.sshConfigPath,
        env: {},
        socketPath: devHost.socketPath,
        logger: log.logger,
        callbacks: { passphrase: () => Promise.resolve(answers.shift()) },
      });
      try {
        await host.status();
        await host.listZones();
      } finally {
        host.close();
      }
      assert.equal(answers.length, 0, "the passphrase was not asked twice");
      assertClean("passphrase run", log.text(), [passphrase, wrongPassphrase], sshd.clientKeyPath);
      assert.match(log.text(), /rpc ListZones/, "the log is not at the level that would show it");
    } finally {
      await sshd.stop();
    }
  });

  test("password login (a wrong one first): the trace log holds no password", async () => {
    const user = `zp${process.pid % 100000}`;
    const added = spawnSync("useradd", ["--create-home", "--shell", "/bin/sh", user], { encoding: "utf8" });
    assert.equal(added.status, 0, `useradd failed: ${added.stderr}`);
    try {
      const set = spawnSync("chpasswd", [], { input: `${user}:${password}\n`, encoding: "utf8" });
      assert.equal(set.status, 0, `chpasswd failed: ${set.stderr}`);
      const sshd = await startSshd({
        user,
        config: { PasswordAuthentication: "yes", PubkeyAuthentication: "no" },
      });
      const log = capture();
      const answers = [`${password}-nope`, password];
      try {
        const conn = await SshConnection.connect(sshd.alias, {
          configFile: sshd.sshConfigPath,
          env: {},
          logger: log.logger,
          callbacks: { password: () => Promise.resolve(answers.shift()) },
        });
        try {
          const r = await conn.run("id -un");
          assert.equal(r.stdout.trim(), user);
        } finally {
          conn.close();
        }
        assert.equal(answers.length, 0, "the password was not asked twice");
        assertClean("password run", log.text(), [password, `${password}-nope`]);
      } finally {
        await sshd.stop();
      }
    } finally {
      spawnSync("userdel", ["--remove", user]);
    }
  });

  test("zonectl -v on a terminal-less run with an encrypted key: stderr names the key, never its contents", async () => {
    const sshd = await startSshd({ clientKeyPassphrase: passphrase });
    try {
      const child = spawn(process.execPath, [...zonectlArgs, "-v", "--host", sshd.alias, "ls"], {
        cwd: repoRoot,
        env: {
          ...process.env,
          SSH_AUTH_SOCK: "",
          ZONECTL_HOST: "",
          ZONECTL_SSH_CONFIG: sshd.sshConfigPath,
          ZONECTL_SOCKET: devHost.socketPath,
        },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stderr = "";
      child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
      child.stdout.resume();
      const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
      // Without a terminal nobody can type the passphrase: authentication fails, and says so.
      assert.notEqual(code, 0);
      assertClean("zonectl -v", stderr, [passphrase], sshd.clientKeyPath);
    } finally {
      await sshd.stop();
    }
  });
});
