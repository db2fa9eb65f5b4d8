// The spine end to end: zonectl → real OpenSSH sshd → the real dev host, over direct-streamlocal
// and over the exec bridge; host-key handling as a user sees it; ProxyJump; typed failures.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer, connect as netConnect } from "node:net";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ProtectHost } from "../../../extension/core/protect/host";
import { ZoneState } from "../../../extension/proto/gen/protect/control/v1/common_pb";
import { exitCodes } from "../../../extension/cli/errorReport";
import { startDevHost } from "../../harness/devHost";
import type { StartedDevHost } from "../../harness/devHost";
import { startSshd } from "../../harness/sshd";
import type { Sshd } from "../../harness/sshd";
import { repoRoot, zonectl, zonectlArgs } from "./zonectl";

let devHost: StartedDevHost;
let api: ProtectHost;
let zoneId: string;

before(async () => {
  devHost = await startDevHost();
  api = await ProtectHost.open(`unix://${devHost.socketPath}`);
  zoneId = await api.createZone({ name: "spine-ls" });
  await api.waitForZone(zoneId, (z) => z?.status?.state === ZoneState.READY, { timeoutMs: 60_000 });
});

after(async () => {
  try {
    await api.destroyZone(zoneId);
    await api.waitForZone(zoneId, (z) => z === undefined, { timeoutMs: 60_000 });
  } finally {
    api.close();
    await devHost.stop();
  }
});

const envFor = (sshd: Sshd, extra: Record<string, string> = {}): Record<string, string> => ({
  ZONECTL_SSH_CONFIG: sshd.sshConfigPath,
  ZONECTL_SOCKET: devHost.socketPath,
  ...extra,
});

describe("zonectl ls through a real sshd", () => {
  test("over direct-streamlocal: table and --json show the zone created through the API", async () => {
    const sshd = await startSshd();
    try {
      const table = await zonectl(["--host", sshd.alias, "ls"], envFor(sshd));
      assert.equal(table.code, 0, table.stderr);
      const header = table.stdout.split("\n")[0]!;
      assert.match(header, /^NAME\s+ID\s+STATE\s+IP\s+VCPUS\s+MEMORY\s+AGE$/);
      const row = table.stdout.split("\n").find((l) => l.includes(zoneId));
      assert.ok(row, table.stdout);
      assert.match(row, /^spine-ls\s+\S+\s+ready\s/);

      const json = await zonectl(["--host", sshd.alias, "--json", "ls"], envFor(sshd));
      assert.equal(json.code, 0, json.stderr);
      const zones = JSON.parse(json.stdout) as {
        id: string;
        name: string;
        state: string;
        vcpus: number | null;
        createdAt: string | null;
      }[];
      const zone = zones.find((z) => z.id === zoneId);
      assert.ok(zone);
      assert.equal(zone.name, "spine-ls");
      assert.equal(zone.state, "ready");
      assert.equal(typeof zone.vcpus, "number");
      assert.ok(zone.createdAt && !Number.isNaN(Date.parse(zone.createdAt)));
      assert.ok(!json.stdout.includes("$typeName"), "protobuf internals leaked into --json");

      const status = await zonectl(["--host", sshd.alias, "--json", "status"], envFor(sshd));
      assert.equal(status.code, 0, status.stderr);
      assert.equal((JSON.parse(status.stdout) as { route: string }).route, "streamlocal");
    } finally {
      await sshd.stop();
    }
  });

  test("over the exec bridge when sshd forbids forwarding (AllowTcpForwarding no)", async () => {
    const sshd = await startSshd({ config: { AllowTcpForwarding: "no", LogLevel: "DEBUG1" } });
    try {
      const status = await zonectl(["--host", sshd.alias, "--json", "status"], envFor(sshd));
      assert.equal(status.code, 0, status.stderr);
      const parsed = JSON.parse(status.stdout) as {
        route: string;
        protectVersion: string;
        zones: { total: number };
      };
      assert.equal(parsed.route, "bridge");
      assert.ok(parsed.zones.total >= 1);

      const ls = await zonectl(["--host", sshd.alias, "ls"], envFor(sshd));
      assert.equal(ls.code, 0, ls.stderr);
      assert.match(ls.stdout, new RegExp(`spine-ls\\s+${zoneId}\\s+ready`));
      // sshd refused the streamlocal channel, then ran our exec bridge.
      assert.match(sshd.logs(), /server_input_channel_open: failure direct-streamlocal@openssh\.com/);
      assert.match(sshd.logs(), /session_input_channel_req: session \d+ req exec/);
    } finally {
      await sshd.stop();
    }
  });

  test("a socket path full of quotes, spaces and $(…) works over streamlocal and over the bridge, running nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "odd-"));
    chmodSync(dir, 0o755);
    // A relay at the odd path in front of the dev host: the path is what is tested. Canaries
    // are relative to the login shell's directory (the SSH user's home) and to the relay's.
    const odd = join(dir, `s p'a"c$(touch c1)\`touch c2\`;x:y,z!!w`);
    const relay = createServer((c) => {
      const up = netConnect(devHost.socketPath);
      c.pipe(up).pipe(c);
      c.on("error", () => up.destroy());
      up.on("error", () => c.destroy());
    });
    await new Promise<void>((r) => relay.listen(odd, r));
    const plain = await startSshd();
    const bridged = await startSshd({ config: { AllowTcpForwarding: "no" } });
    try {
      for (const [sshd, route] of [
        [plain, "streamlocal"],
        [bridged, "bridge"],
      ] as const) {
        const status = await zonectl(
          ["--host", sshd.alias, "--json", "status"],
          envFor(sshd, { ZONECTL_SOCKET: odd }),
        );
        assert.equal(status.code, 0, status.stderr);
        assert.equal((JSON.parse(status.stdout) as { route: string }).route, route);
        assert.deepEqual(
          [dir, homedir(), sshd.dir].flatMap((d) => readdirSync(d).filter((n) => /^c\d$/.test(n))),
          [],
          "the socket path was evaluated by a shell",
        );
      }
    } finally {
      await plain.stop();
      await bridged.stop();
      await new Promise<void>((r) => relay.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("through a ProxyJump host", async () => {
    const jump = await startSshd({ alias: "spine-jump", config: { LogLevel: "DEBUG1" } });
    const target = await startSshd({ alias: "spine-behind", clientConfig: ["ProxyJump spine-jump"] });
    try {
      const config = join(target.dir, "combined");
      writeFileSync(config, `Include ${target.sshConfigPath}\nInclude ${jump.sshConfigPath}\n`);
      const ls = await zonectl(["--host", "spine-behind", "ls"], {
        ZONECTL_SSH_CONFIG: config,
        ZONECTL_SOCKET: devHost.socketPath,
      });
      assert.equal(ls.code, 0, ls.stderr);
      assert.match(ls.stdout, /spine-ls/);
      assert.match(jump.logs(), new RegExp(`127\\.0\\.0\\.1 port ${target.port}`));
    } finally {
      await target.stop();
      await jump.stop();
    }
  });
});

describe("host keys as zonectl reports them", () => {
  test("unknown key, no terminal: refused with the fingerprint, exit hostKeyUnknown", async () => {
    const sshd = await startSshd({ trustHostKey: false, strictHostKeyChecking: "ask" });
    try {
      const r = await zonectl(["--host", sshd.alias, "ls"], envFor(sshd));
      assert.equal(r.code, exitCodes.hostKeyUnknown, r.stderr);
      assert.ok(r.stderr.includes(sshd.hostFingerprint()), r.stderr);
      assert.equal(r.stderr.trim().split("\n").length, 1, `expected one line, got:\n${r.stderr}`);
      // The connection marks why it refused (nobody to ask); the CLI adds the remedy from that mark.
      assert.match(r.stderr, /Run zonectl on a terminal/);
      assert.equal(readFileSync(sshd.knownHostsPath, "utf8"), "");
    } finally {
      await sshd.stop();
    }
  });

  test("unknown key on a terminal: the prompt shows the fingerprint; 'yes' records it and ls runs", async () => {
    const sshd = await startSshd({ trustHostKey: false, strictHostKeyChecking: "ask" });
    try {
      const { spawn: ptySpawn } = await import("node-pty");
      const pty = ptySpawn(process.execPath, [...zonectlArgs, "--host", sshd.alias, "ls"], {
        cwd: repoRoot,
        cols: 200,
        rows: 40,
        env: { ...process.env, SSH_AUTH_SOCK: "", ...envFor(sshd) },
      });
      let screen = "";
      const exited = new Promise<number>((resolve) => pty.onExit(({ exitCode }) => resolve(exitCode)));
      let answered = false;
      pty.onData((d) => {
        screen += d;
        if (!answered && screen.includes("(yes/no/[fingerprint])?")) {
          answered = true;
          pty.write("yes\r");
        }
      });
      const timer = setTimeout(() => pty.kill(), 30_000);
      const code = await exited;
      clearTimeout(timer);
      assert.ok(screen.includes(`ED25519 key fingerprint is ${sshd.hostFingerprint()}`), screen);
      assert.equal(code, 0, screen);
      assert.match(screen, /spine-ls/);
      assert.equal(
        readFileSync(sshd.knownHostsPath, "utf8"),
        `${sshd.knownHostsName} ${sshd.hostPublicKey()}\n`,
      );
    } finally {
      await sshd.stop();
    }
  });

  test("changed key: refused naming known_hosts file:line and both fingerprints, exit hostKeyChanged", async () => {
    const sshd = await startSshd();
    try {
      const old = sshd.hostFingerprint();
      await sshd.rotateHostKey();
      const r = await zonectl(["--host", sshd.alias, "ls"], envFor(sshd));
      assert.equal(r.code, exitCodes.hostKeyChanged, r.stderr);
      assert.ok(r.stderr.includes(`${sshd.knownHostsPath}:1`), r.stderr);
      assert.ok(r.stderr.includes(old) && r.stderr.includes(sshd.hostFingerprint()), r.stderr);
    } finally {
      await sshd.stop();
    }
  });
});

describe("typed failures", () => {
  test("daemon socket missing: exit socketMissing, over SSH and locally", async () => {
    const sshd = await startSshd();
    try {
      const viaSsh = await zonectl(
        ["--host", sshd.alias, "ls"],
        envFor(sshd, { ZONECTL_SOCKET: "/run/no-such-daemon.socket" }),
      );
      assert.equal(viaSsh.code, exitCodes.socketMissing, viaSsh.stderr);
      assert.match(viaSsh.stderr, /\/run\/no-such-daemon\.socket does not exist/);
      const local = await zonectl(["--host", "unix:///run/no-such-daemon.socket", "ls"]);
      assert.equal(local.code, exitCodes.socketMissing, local.stderr);
    } finally {
      await sshd.stop();
    }
  });

  test("settings no route can use are refused at once, in one line, with no connection left open", async () => {
    const sshd = await startSshd();
    const bridged = await startSshd({ config: { AllowTcpForwarding: "no" } });
    const dir = mkdtempSync(join(tmpdir(), "nl-"));
    // A real socket, so the host's probe finds it and the bridge becomes the route.
    const twoLines = join(dir, "two\nlines.socket");
    const listener = createServer((c) => c.destroy());
    await new Promise<void>((r) => listener.listen(twoLines, r));
    try {
      const cases: [Sshd, Record<string, string>, RegExp][] = [
        [sshd, { ZONECTL_SOCKET: "run/daemon.socket" }, /absolute path/],
        [sshd, { ZONECTL_BRIDGE: "socat - UNIX-CONNECT:/fixed" }, /no \{socket\} placeholder/],
        // Refused only once the bridge is the route (this sshd refuses streamlocal).
        [bridged, { ZONECTL_SOCKET: twoLines }, /line break/],
      ];
      for (const [server, extra, message] of cases) {
        // A connection left open would keep zonectl running until the helper's bound, which then
        // fails the test; how fast it gives up is not asserted (a loaded machine stretches
        // zonectl's own start to several seconds).
        const r = await zonectl(["--host", server.alias, "ls"], envFor(server, extra));
        assert.equal(r.code, exitCodes.rejected, r.stderr);
        assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
        assert.match(r.stderr, message);
      }
    } finally {
      await sshd.stop();
      await bridged.stop();
      await new Promise<void>((r) => listener.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a socket nobody listens on: exit daemonNotRunning", async () => {
    const sshd = await startSshd();
    const dir = mkdtempSync(join(tmpdir(), "stale-"));
    try {
      // A socket file left behind by a daemon that died (SIGKILL skips the unlink).
      const stale = join(dir, "daemon.socket");
      const child = spawn(process.execPath, [
        "-e",
        `require("net").createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, "SIGKILL"))`,
      ]);
      await new Promise((r) => child.on("exit", r));
      const viaSsh = await zonectl(["--host", sshd.alias, "ls"], envFor(sshd, { ZONECTL_SOCKET: stale }));
      assert.equal(viaSsh.code, exitCodes.daemonNotRunning, viaSsh.stderr);
      assert.match(viaSsh.stderr, /not running/);
      const local = await zonectl(["--host", `unix://${stale}`, "ls"]);
      assert.equal(local.code, exitCodes.daemonNotRunning, local.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await sshd.stop();
    }
  });

  test("root-only socket (0600) as a non-root SSH user without sudo rights: exit permissionDenied", async () => {
    const user = `zt${process.pid % 100000}`;
    const added = spawnSync("useradd", ["--create-home", "--shell", "/bin/sh", user], { encoding: "utf8" });
    assert.equal(added.status, 0, `useradd failed: ${added.stderr}`);
    // A new account's password is "!" (locked), and sshd refuses locked accounts even for keys.
    spawnSync("usermod", ["--password", "*", user]);
    const dir = mkdtempSync(join(tmpdir(), "perm-"));
    chmodSync(dir, 0o755);
    const host = await startDevHost({ socketPath: join(dir, "daemon.socket") });
    const sshd = await startSshd({ user });
    try {
      const r = await zonectl(["--host", sshd.alias, "ls"], {
        ZONECTL_SSH_CONFIG: sshd.sshConfigPath,
        ZONECTL_SOCKET: host.socketPath,
      });
      assert.equal(r.code, exitCodes.permissionDenied, r.stderr);
      assert.match(r.stderr, /sudo/);
    } finally {
      await sshd.stop();
      await host.stop();
      rmSync(dir, { recursive: true, force: true });
      spawnSync("userdel", ["--remove", user]);
    }
  });

  test("rm: an unknown zone is notFound; a real one is destroyed and gone from ls", async () => {
    const sshd = await startSshd();
    try {
      const id = await api.createZone({ name: "spine-rm" });
      await api.waitForZone(id, (z) => z?.status?.state === ZoneState.READY, { timeoutMs: 60_000 });
      const missing = await zonectl(["--host", sshd.alias, "rm", "no-such-zone"], envFor(sshd));
      assert.equal(missing.code, exitCodes.notFound, missing.stderr);
      const rm = await zonectl(["--host", sshd.alias, "rm", "--wait", "spine-rm"], envFor(sshd));
      assert.equal(rm.code, 0, rm.stderr);
      assert.equal(rm.stdout, `destroyed spine-rm (${id})\n`);
      const ls = await zonectl(["--host", sshd.alias, "--json", "ls"], envFor(sshd));
      assert.ok(!(JSON.parse(ls.stdout) as { id: string }[]).some((z) => z.id === id));
    } finally {
      await sshd.stop();
    }
  });
});
