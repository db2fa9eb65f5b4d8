// OpenSSH's own client into a zone's workload through `zonectl ssh-config` and the gateway
// (`zonectl ssh-proxy` as ProxyCommand), with the dev host reached over its embedded SSH server.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { spawn } from "node:child_process";
import { cpSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import * as pty from "node-pty";
import { freePort } from "../../harness/sshd";
import { repoRoot, zonectl } from "../launch/cli";
import { runTool, startGatewayEnv } from "./gatewayEnv";
import type { GatewayEnv } from "./gatewayEnv";

let g: GatewayEnv;
/** The busybox workload (built-in SFTP) and the one whose image has sftp-server. */
let alias: string;
let sftpAlias: string;
let sftpZone: string;

before(async () => {
  g = await startGatewayEnv("ssh");
  const second = join(g.work, "with-sftp-server");
  cpSync(join(repoRoot, "test/fixtures/gateway/project"), second, { recursive: true });
  const up = await zonectl(
    ["--json", "up", second],
    { ...g.env, GATEWAY_TEST_IMAGE: g.sftpImage },
    { timeoutMs: 180_000 },
  );
  assert.equal(up.code, 0, up.stderr);
  sftpZone = (JSON.parse(up.stdout.slice(up.stdout.indexOf("{"))) as { zoneName: string }).zoneName;
  const written = await g.zonectl(["ssh-config", "--write"]);
  assert.equal(written.code, 0, written.stderr);
  const aliases = written.stdout.trim().split("\n");
  alias = aliases.find((a) => a.startsWith(`${g.zoneName}.`))!;
  sftpAlias = aliases.find((a) => a.startsWith(`${sftpZone}.`))!;
  assert.ok(alias && sftpAlias, written.stdout);
});

after(async () => {
  await g?.stop();
});

/**
 * An HTTP GET through a SOCKS5 proxy (no authentication, CONNECT by name): the whole reply,
 * headers and body, once the server closes.
 */
function socksGet(proxyPort: number, host: string, port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(proxyPort, "127.0.0.1");
    const chunks: Buffer[] = [];
    let stage: "greeting" | "connect" | "http" = "greeting";
    socket.on("error", reject);
    socket.on("connect", () => socket.write(Buffer.from([5, 1, 0])));
    socket.on("data", (d: Buffer) => {
      if (stage === "http") return void chunks.push(d);
      if (stage === "greeting") {
        if (d[0] !== 5 || d[1] !== 0)
          return reject(new Error(`SOCKS greeting refused: ${d.toString("hex")}`));
        stage = "connect";
        const name = Buffer.from(host);
        const portBytes = Buffer.from([port >> 8, port & 0xff]);
        return void socket.write(Buffer.concat([Buffer.from([5, 1, 0, 3, name.length]), name, portBytes]));
      }
      // The CONNECT reply is one segment here (loopback, 10 bytes for an IPv4 bound address).
      if (d[1] !== 0) return reject(new Error(`SOCKS CONNECT failed with code ${d[1]}`));
      stage = "http";
      socket.write(`GET ${path} HTTP/1.0\r\nHost: ${host}\r\n\r\n`);
    });
    socket.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
  });
}

const sha256 = (b: Buffer): string => createHash("sha256").update(b).digest("hex");

async function zoneSha256(zone: string, path: string): Promise<string> {
  const r = await g.zonectl(["exec", zone, "--", "sha256sum", path]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split(/\s+/)[0]!;
}

describe("ssh through the zone gateway", () => {
  test("a command: exit code, the workload's env and remoteEnv, the remoteUser in the workspace folder", async () => {
    const r = await g.ssh("ssh", [alias, 'echo "$GREETING|$GATEWAY_VAR|$(id -un)|$PWD|$HOME"; exit 7']);
    assert.equal(r.code, 7, r.stderr);
    assert.equal(
      r.stdout,
      "hello from containerEnv|remote+hello from containerEnv|tester|/workspaces/project|/home/tester\n",
    );
    const input = await g.ssh("ssh", [alias, "wc -c; echo err >&2"], { input: "12345\n" });
    assert.equal(input.stdout.trim(), "6", "stdin reached the command, then EOF");
    assert.match(input.stderr, /^err$/m, "stderr stays stderr");
    const sent = await g.ssh("ssh", ["-o", "SetEnv=CLIENT_VAR=from-ssh", alias, 'printf %s "$CLIENT_VAR"']);
    assert.equal(sent.stdout, "from-ssh", "env requests reach the command");
    const root = await g.ssh("ssh", [`root@${alias}`, "id -u"]);
    assert.equal(root.stdout, "0\n", "the ssh user name picks the user in the workload");
  });

  test("-tt: a PTY of the client's size that follows a resize; Ctrl-C reaches the foreground process", async () => {
    const term = pty.spawn("ssh", ["-F", join(g.home, ".ssh/config"), "-tt", alias], {
      name: "xterm-256color",
      cols: 100,
      rows: 30,
      env: { ...(process.env as Record<string, string>), ...g.env, SSH_AUTH_SOCK: "", NODE_OPTIONS: "" },
    });
    let out = "";
    term.onData((d) => {
      out += d;
      if (d.includes("\x1b[6n")) term.write("\x1b[1;1R"); // busybox ash asks where the cursor is
    });
    const exited = new Promise<number>((resolve) => term.onExit((e) => resolve(e.exitCode)));
    const waitFor = async (re: RegExp, from: number): Promise<number> => {
      for (let i = 0; i < 600; i++) {
        const m = re.exec(out.slice(from));
        if (m) return from + m.index + m[0].length;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`no ${re} in ${JSON.stringify(out.slice(-1500))}`);
    };
    try {
      let at = await waitFor(/\/workspaces\/project \$ /, 0);
      term.write("stty size; echo $TERM\r");
      at = await waitFor(/30 100\r?\nxterm-256color/, at);
      term.resize(120, 40);
      await new Promise((r) => setTimeout(r, 500));
      term.write("stty size\r");
      at = await waitFor(/40 120/, at);
      term.write("sleep 100\r");
      await new Promise((r) => setTimeout(r, 500));
      term.write("\x03");
      await waitFor(/\$ /, at);
      term.write("exit 3\r");
      assert.equal(await exited, 3);
    } finally {
      term.kill();
    }
  });

  test("-L: a web server in the zone, reached from here", async () => {
    const port = await freePort();
    const done = new AbortController();
    const forward = runTool(
      "ssh",
      [
        "-F",
        join(g.home, ".ssh/config"),
        "-N",
        "-o",
        "ExitOnForwardFailure=yes",
        "-L",
        `${port}:localhost:8080`,
        alias,
      ],
      { env: g.env, timeoutMs: 60_000, signal: done.signal },
    );
    try {
      let body = "";
      for (let i = 0; i < 100 && !body; i++) {
        body = await fetch(`http://127.0.0.1:${port}/index.html`).then(
          (r) => r.text(),
          () => "",
        );
        if (!body) await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(body, "<h1>through the gateway</h1>\n");
    } finally {
      done.abort();
      await forward;
    }
  });

  test("-D: a SOCKS proxy whose CONNECT to localhost reaches the zone", async () => {
    const port = await freePort();
    const done = new AbortController();
    const proxy = runTool(
      "ssh",
      [
        "-F",
        join(g.home, ".ssh/config"),
        "-N",
        "-o",
        "ExitOnForwardFailure=yes",
        "-D",
        `127.0.0.1:${port}`,
        alias,
      ],
      { env: g.env, timeoutMs: 60_000, signal: done.signal },
    );
    try {
      let reply = "";
      for (let i = 0; i < 100 && !reply; i++) {
        reply = await socksGet(port, "localhost", 8080, "/index.html").catch(() => "");
        if (!reply) await new Promise((r) => setTimeout(r, 200));
      }
      assert.match(reply, /^HTTP\/1\.[01] 200/);
      assert.ok(reply.endsWith("\r\n\r\n<h1>through the gateway</h1>\n"), reply);
    } finally {
      done.abort();
      await proxy;
    }
  });

  for (const which of ["busybox (built-in SFTP)", "an image with sftp-server"] as const) {
    test(`scp both ways of a 10 MiB file, intact, on ${which}`, async () => {
      const target = which.startsWith("busybox") ? alias : sftpAlias;
      const zone = which.startsWith("busybox") ? g.zoneName : sftpZone;
      const data = randomBytes(10 * 1024 * 1024);
      const local = join(g.work, `up-${sha256(data).slice(0, 8)}.bin`);
      writeFileSync(local, data);
      const upload = await g.ssh("scp", ["-s", local, `${target}:/tmp/big.bin`], { timeoutMs: 120_000 });
      assert.equal(upload.code, 0, upload.stderr);
      assert.equal(await zoneSha256(zone, "/tmp/big.bin"), sha256(data), "the zone has the same bytes");
      const back = join(g.work, "down.bin");
      const download = await g.ssh("scp", ["-s", `${target}:/tmp/big.bin`, back], { timeoutMs: 120_000 });
      assert.equal(download.code, 0, download.stderr);
      assert.equal(sha256(readFileSync(back)), sha256(data), "the same bytes came back");
      // Relative paths start in the workspace folder, as the shell does.
      const rel = await g.ssh("scp", ["-s", `${target}:hello.txt`, join(g.work, "hello.txt")]);
      assert.equal(rel.code, 0, rel.stderr);
      assert.equal(readFileSync(join(g.work, "hello.txt"), "utf8"), "hello from the workspace\n");
      // sftp's df needs OpenSSH's statvfs extension: only the image's own sftp-server has it.
      const df = await g.ssh("sftp", ["-b", "-", target], { input: "df /tmp\n" });
      if (which.startsWith("busybox")) assert.notEqual(df.code, 0);
      else assert.equal(df.code, 0, `the image's sftp-server answered: ${df.stderr}`);
    });
  }

  test("sftp on busybox: mkdir, put, ls, rename, chmod, symlink, rm", async () => {
    writeFileSync(join(g.work, "small.txt"), "small\n");
    const r = await g.ssh("sftp", ["-b", "-", alias], {
      input: [
        "mkdir /tmp/sd",
        `put ${join(g.work, "small.txt")} /tmp/sd/a.txt`,
        "rename /tmp/sd/a.txt /tmp/sd/b.txt",
        "chmod 600 /tmp/sd/b.txt",
        "symlink /tmp/sd/b.txt /tmp/sd/link",
        "ls -l /tmp/sd",
        "rm /tmp/sd/link",
        "",
      ].join("\n"),
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /-rw------- .* b\.txt/);
    assert.match(r.stdout, /l[rwx-]{9} .* link/);
    const check = await g.zonectl(["exec", g.zoneName, "--", "sh", "-c", "cat /tmp/sd/b.txt; ls /tmp/sd"]);
    assert.equal(check.stdout, "small\nb.txt\n");
    const missing = await g.ssh("sftp", ["-b", "-", alias], { input: "get /tmp/sd/none.txt\n" });
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /not found|No such file/i);
  });

  test("20 concurrent sessions through one gateway", async () => {
    const control = join(g.work, "cm.sock");
    const common = ["-F", join(g.home, ".ssh/config"), "-o", `ControlPath=${control}`];
    const master = runTool("ssh", [...common, "-o", "ControlMaster=yes", "-N", alias], {
      env: g.env,
      timeoutMs: 120_000,
    });
    try {
      for (let i = 0; i < 100; i++) {
        const check = await runTool("ssh", [...common, "-O", "check", alias], {
          env: g.env,
          timeoutMs: 10_000,
        });
        if (check.code === 0) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      const runs = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          runTool("ssh", [...common, alias, `sleep 1; echo session ${i}; exit ${i}`], {
            env: g.env,
            timeoutMs: 60_000,
          }),
        ),
      );
      runs.forEach((r, i) => {
        assert.equal(r.code, i, r.stderr);
        assert.equal(r.stdout, `session ${i}\n`);
      });
    } finally {
      await runTool("ssh", [...common, "-O", "exit", alias], { env: g.env, timeoutMs: 10_000 });
      await master;
    }
  });

  test("refused: remote forwarding, agent forwarding and X11, each with the reason on stderr", async () => {
    // OpenSSH asks to forward the agent only when one answers on SSH_AUTH_SOCK: start a real one.
    const agentSocket = join(g.work, "agent.sock");
    const agent = spawn("ssh-agent", ["-D", "-a", agentSocket], { stdio: "ignore" });
    try {
      for (let i = 0; i < 200 && !existsSync(agentSocket); i++) await new Promise((r) => setTimeout(r, 50));
      assert.ok(existsSync(agentSocket), "ssh-agent is listening");
      const r = await g.ssh(
        "ssh",
        ["-R", "9999:localhost:22", "-o", "ForwardAgent=yes", "-X", alias, "echo ran"],
        // Without xauth OpenSSH still asks for X11, with made-up authentication data.
        { env: { SSH_AUTH_SOCK: agentSocket, DISPLAY: ":55" } },
      );
      assert.equal(r.stdout, "ran\n", "the session itself still runs");
      assert.match(r.stderr, /remote forwarding \(ssh -R, port 9999\) is not supported/);
      assert.match(r.stderr, /agent forwarding is not supported by the zone gateway/);
      assert.match(r.stderr, /X11 forwarding is not supported by the zone gateway/);
    } finally {
      agent.kill();
    }
  });

  test("a dropped host connection ends the session with a message, not a hang", async () => {
    const written = await zonectl(["ssh-config", g.zoneName], g.faulty.env);
    assert.equal(written.code, 0, written.stderr);
    const faultyConfig = join(g.work, "faulty_config");
    writeFileSync(faultyConfig, written.stdout);
    const faultyAlias = /^Host (\S+)/m.exec(written.stdout)![1]!;
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const session = runTool("ssh", ["-F", faultyConfig, faultyAlias, "echo started; sleep 600"], {
      env: g.faulty.env,
      timeoutMs: 90_000,
      onStdout: (out) => out.includes("started") && started(),
    });
    await Promise.race([running, session]);
    assert.ok(g.faulty.proxy.drop() >= 1, "the gateway's host connection went through the proxy");
    const r = await session;
    assert.doesNotMatch(r.stderr, /killed after/, "ssh ended by itself");
    assert.equal(r.stdout, "started\n");
    assert.equal(r.code, 255);
    assert.match(r.stderr, /zonectl ssh-proxy: lost the connection to devhost-faulty/);
  });

  test("ssh-config --write again: an alias keeps its pinned key; a zone that is gone loses its alias", async () => {
    const dir = join(g.home, ".ssh/styrolite-zones");
    const pinned = (a: string): string | undefined =>
      readFileSync(join(dir, "known_hosts"), "utf8")
        .split("\n")
        .find((l) => l.startsWith(`${a} `));
    const before = pinned(alias);
    assert.ok(before && pinned(sftpAlias), "both aliases pinned");
    const rm = await g.zonectl(["rm", "--wait", sftpZone]);
    assert.equal(rm.code, 0, rm.stderr);
    const again = await g.zonectl(["ssh-config", "--write"]);
    assert.equal(again.code, 0, again.stderr);
    assert.ok(again.stderr.includes(`removed (zone gone): ${sftpAlias}`), again.stderr);
    assert.equal(pinned(alias), before, "the gateway key of a zone stays the same");
    assert.equal(pinned(sftpAlias), undefined, "the gone zone's key is unpinned");
    const config = readFileSync(join(dir, "config"), "utf8");
    assert.match(config, new RegExp(`^Host ${alias.replace(/\./g, "\\.")}$`, "m"));
    assert.doesNotMatch(config, new RegExp(`^Host ${sftpAlias.replace(/\./g, "\\.")}$`, "m"));
    const still = await g.ssh("ssh", [alias, "echo still here"]);
    assert.equal(still.stdout, "still here\n", still.stderr);
  });
});
