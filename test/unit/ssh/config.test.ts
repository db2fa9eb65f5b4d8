import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { expandGlob, matchPatternList, resolveSshConfig } from "../../../extension/core/ssh/config";
import type { SshConfigOptions } from "../../../extension/core/ssh/config";
import { parseDestination } from "../../../extension/core/ssh/destination";
import { SshError } from "../../../extension/core/ssh/errors";

const home = join(__dirname, "fixtures", "home");
const base: SshConfigOptions = {
  homedir: home,
  localUser: "dev",
  systemConfigFile: null,
  env: { SSH_AUTH_SOCK: "/run/agent.sock", MY_AGENT: "/run/my-agent" },
};
const resolve = (dest: string, extra: SshConfigOptions = {}) =>
  resolveSshConfig(parseDestination(dest), { ...base, ...extra });

describe("ssh config resolution", () => {
  test("Host block values, ~ expansion, defaults for what is not set", () => {
    const c = resolve("bastion");
    assert.equal(c.hostName, "bastion.example.net");
    assert.equal(c.user, "jump");
    assert.equal(c.port, 2222);
    assert.deepEqual(c.identityFiles, [join(home, ".ssh/id_bastion")]);
    assert.equal(c.identityFilesExplicit, true);
    assert.equal(c.identityAgent, "/run/agent.sock");
    assert.equal(c.connectTimeoutMs, 30_000); // from Host *
    assert.equal(c.serverAliveIntervalMs, 15_000);
    assert.equal(c.serverAliveCountMax, 3);
    assert.equal(c.strictHostKeyChecking, "ask");
    assert.deepEqual(c.userKnownHostsFiles, [
      join(home, ".ssh/known_hosts"),
      join(home, ".ssh/known_hosts2"),
    ]);
  });

  test("wildcards, negation, tokens in IdentityFile, ProxyJump resolved into destinations", () => {
    const c = resolve("styro-a.lab");
    assert.equal(c.user, "zones");
    assert.equal(c.hostName, "styro-a.lab");
    assert.deepEqual(c.identityFiles, [
      join(home, ".ssh/keys/styro-a.lab_zones"),
      join(home, ".ssh/id_ed25519"),
    ]);
    assert.equal(c.identitiesOnly, true);
    assert.deepEqual(c.proxyJump, [{ host: "bastion" }]);
    assert.equal(c.serverAliveIntervalMs, 5_000);
    assert.equal(c.serverAliveCountMax, 2);

    // Negated in the styro-* block, so ProxyCommand from its own block applies, ProxyJump does not.
    const legacy = resolve("styro-legacy.lab");
    assert.equal(legacy.user, "legacy");
    assert.deepEqual(legacy.proxyJump, []);
    assert.equal(legacy.proxyCommand, "ssh -W %h:%p bastion");
  });

  test("ProxyJump chains keep user and port of each hop", () => {
    const c = resolve("double-jump");
    assert.deepEqual(c.proxyJump, [
      { host: "bastion" },
      { host: "inner.example.net", user: "ops", port: 2200 },
    ]);
  });

  test("Include: globs relative to ~/.ssh, sorted, nested, first value wins across files", () => {
    const c = resolve("work");
    assert.equal(c.hostName, "work.example.com");
    assert.equal(c.user, "worker"); // 20-home.conf's User comes later and loses
    assert.equal(c.port, 2201); // only 20-home.conf sets Port; ignored.txt does not match *.conf
    assert.deepEqual(c.identityFiles, [join(home, ".ssh/id_work")]); // from the nested include
    assert.ok(c.files.some((f) => f.endsWith("nested/deeper.conf")));
    assert.ok(!c.files.some((f) => f.endsWith("ignored.txt")));
  });

  test("Include inside a Host block applies only when that block matches", () => {
    const gated = resolve("gated");
    assert.equal(gated.port, 2300);
    assert.equal(gated.user, "gatekeeper");
    assert.deepEqual(gated.identityFiles, [join(home, ".ssh/id_gated")]);

    const other = resolve("somewhere-else");
    assert.equal(other.port, 22);
    assert.equal(other.user, "fallback");
    assert.equal(other.identityFilesExplicit, false);
    assert.deepEqual(other.identityFiles.slice(0, 1), [join(home, ".ssh/id_rsa")]);
  });

  test("the first matching block wins even when a later pattern also matches", () => {
    const c = resolve("first-wins");
    assert.equal(c.user, "first");
    assert.equal(c.port, 2022);
  });

  test("command-line user and port beat the config", () => {
    const c = resolve("me@bastion:2200");
    assert.equal(c.user, "me");
    assert.equal(c.port, 2200);
    assert.equal(c.hostName, "bastion.example.net");
    assert.equal(resolve("ssh://root@work").user, "root");
  });

  test("Match originalhost + user uses the command-line user", () => {
    assert.equal(resolve("deploy@matched-host").port, 4444);
    assert.equal(resolve("other@matched-host").port, 22);
  });

  test("IdentityAgent: none, a path, an environment variable", () => {
    assert.equal(resolve("agent-none").identityAgent, undefined);
    assert.equal(resolve("agent-custom").identityAgent, join(home, ".ssh/agent.sock"));
    assert.equal(resolve("agent-env").identityAgent, "/run/my-agent");
    assert.equal(resolve("bastion", { env: {} }).identityAgent, undefined);
  });

  test("known_hosts files with tokens, StrictHostKeyChecking, HashKnownHosts, ConnectTimeout", () => {
    const c = resolve("knownhosts");
    assert.deepEqual(c.userKnownHostsFiles, [join(home, ".ssh/kh_a"), join(home, ".ssh/kh_knownhosts")]);
    assert.equal(c.strictHostKeyChecking, "accept-new");
    assert.equal(c.hashKnownHosts, true);
    assert.equal(c.connectTimeoutMs, 7_000);
  });

  test("the system file is read after the user file, and skipped with an explicit config file", () => {
    const system = join(__dirname, "fixtures", "etc", "ssh_config");
    const withSystem = resolveSshConfig(parseDestination("bastion"), { ...base, systemConfigFile: system });
    assert.equal(withSystem.hashKnownHosts, true);
    assert.equal(withSystem.strictHostKeyChecking, "yes");
    const explicit = resolveSshConfig(parseDestination("bastion"), {
      ...base,
      systemConfigFile: system,
      configFile: join(home, ".ssh", "config"),
    });
    assert.equal(explicit.hashKnownHosts, false);
    assert.equal(explicit.strictHostKeyChecking, "ask");
  });

  test("Include loops and bad values fail with configInvalid naming the problem", () => {
    assert.throws(
      () => resolveSshConfig(parseDestination("x"), { ...base, configFile: join(home, ".ssh", "loop.conf") }),
      (err: unknown) => SshError.is(err, "configInvalid") && /nested more than 16/.test(err.message),
    );
    assert.throws(
      () =>
        resolveSshConfig(parseDestination("x"), {
          ...base,
          configFile: join(home, ".ssh", "does-not-exist"),
        }),
      (err: unknown) => SshError.is(err, "configInvalid") && /does not exist/.test(err.message),
    );
    const dir = mkdtempSync(join(tmpdir(), "sshcfg-"));
    try {
      writeFileSync(join(dir, "config"), "Host x\n  Port twenty\n  IdentityFile ~/.ssh/%Q\n");
      assert.throws(
        () => resolveSshConfig(parseDestination("x"), { ...base, configFile: join(dir, "config") }),
        (err: unknown) => SshError.is(err, "configInvalid") && /Port 'twenty'/.test(err.message),
      );
      writeFileSync(join(dir, "config"), "Host x\n  IdentityFile ~/.ssh/%Q\n");
      assert.throws(
        () => resolveSshConfig(parseDestination("x"), { ...base, configFile: join(dir, "config") }),
        (err: unknown) => SshError.is(err, "configInvalid") && /%Q/.test(err.message),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("Match exec is never run", () => {
    const dir = mkdtempSync(join(tmpdir(), "sshcfg-"));
    try {
      const marker = join(dir, "ran");
      writeFileSync(join(dir, "config"), `Match exec "touch ${marker}"\n  Port 1234\n`);
      const c = resolveSshConfig(parseDestination("x"), { ...base, configFile: join(dir, "config") });
      assert.equal(c.port, 22);
      assert.equal(expandGlob(marker).length, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("pattern lists", () => {
  test("? is exactly one character, negation vetoes, case-insensitive", () => {
    assert.equal(matchPatternList(["host?"], "host1"), true);
    assert.equal(matchPatternList(["host?"], "host"), false);
    assert.equal(matchPatternList(["*.lab", "!bad.lab"], "bad.lab"), false);
    assert.equal(matchPatternList(["*.lab,!bad.lab"], "good.LAB"), true);
    assert.equal(matchPatternList(["!only-negated"], "anything"), false);
  });
});

describe("destinations", () => {
  test("alias, user@host:port, ssh://, IPv6", () => {
    assert.deepEqual(parseDestination("myhost"), { host: "myhost" });
    assert.deepEqual(parseDestination("me@10.1.2.3:2222"), { host: "10.1.2.3", user: "me", port: 2222 });
    assert.deepEqual(parseDestination("ssh://root@host.example:22/"), {
      host: "host.example",
      user: "root",
      port: 22,
    });
    assert.deepEqual(parseDestination("me@[::1]:2200"), { host: "::1", user: "me", port: 2200 });
    assert.deepEqual(parseDestination("fe80::1"), { host: "fe80::1" });
  });

  test("rejects what cannot be a destination", () => {
    for (const bad of ["", "host:99999", "host:abc", "unix:///x", "-oProxyCommand=x", "a b", "me@", "[::1"]) {
      assert.throws(
        () => parseDestination(bad),
        (err: unknown) => SshError.is(err, "configInvalid"),
        bad,
      );
    }
  });
});
