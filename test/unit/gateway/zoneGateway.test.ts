// The gateway's SSH mapping in process: ssh2's client against ZoneGateway, with the workload
// faked by local processes in a scratch folder (the boundary a unit test may fake). The real
// host path is the integration suite's (test/integration/gateway).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, connect } from "node:net";
import type { AddressInfo, Server as NetServer } from "node:net";
import { constants, tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Client, utils } from "ssh2";
import type { ClientChannel, SFTPWrapper } from "ssh2";
import { ZoneGateway } from "../../../extension/core/gateway/zoneGateway";
import type { GatewayTarget } from "../../../extension/core/gateway/zoneGateway";
import type { RunningProcess, ZoneRunner } from "../../../extension/core/gateway/zoneRunner";
import { silentLogger } from "../../../extension/core/log";
import { generateEd25519KeyPair } from "../../../extension/core/ssh/keyPair";

const sftpServer = "/usr/lib/openssh/sftp-server";

/** Local processes standing in for ExecuteZoneCommand (no PTY: that path is the integration tier's). */
function localRunner(): ZoneRunner {
  return {
    description: "local",
    start(command, options = {}): RunningProcess {
      const child = spawn(command[0]!, command.slice(1), {
        cwd: options.workingDirectory,
        env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", ...options.env },
        stdio: "pipe",
      });
      child.stdout.on("data", (d: Buffer) => void options.onStdout?.(d));
      child.stderr.on("data", (d: Buffer) => void options.onStderr?.(d));
      child.stdin.on("error", () => undefined);
      return {
        exited: new Promise((resolve) =>
          child.on("close", (code, signal) =>
            resolve(code ?? 128 + (signal ? constants.signals[signal] : 0)),
          ),
        ),
        write: (d) => void child.stdin.write(d),
        endInput: () => child.stdin.end(),
        resize: () => undefined,
        drained: async () => undefined,
        cancel: () => child.kill("SIGHUP"),
      };
    },
  };
}

let dir: string;
let server: NetServer;
let gateway: ZoneGateway;
/** The same, serving sftp with this machine's OpenSSH sftp-server when it has one. */
let passthrough: NetServer;
let hostKey: string;
const notices: string[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "gateway-unit-"));
  writeFileSync(join(dir, "hello.txt"), "hello\n");
  const pair = generateEd25519KeyPair();
  hostKey = pair.public.split(" ")[1]!;
  const target: GatewayTarget = {
    description: "zone/workload",
    zoneId: "zone-id",
    defaultUser: undefined,
    workingDirectory: dir,
    remoteEnv: { REMOTE_VAR: "from remoteEnv" },
    runner: () => localRunner(),
    dial: async (address, port) => connect(port, address),
  };
  const options = {
    hostKey: pair.private,
    target: Promise.resolve(target),
    notice: (line: string) => void notices.push(line),
    log: silentLogger,
  };
  // The fake workload is this machine, whose sftp-server the probe would find: the built-in
  // server is what the busybox images get, so most tests ask for it.
  gateway = new ZoneGateway({ ...options, sftp: "builtin" });
  server = createServer((socket) => void gateway.serve(socket));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const auto = new ZoneGateway(options);
  passthrough = createServer((socket) => void auto.serve(socket));
  await new Promise<void>((resolve) => passthrough.listen(0, "127.0.0.1", resolve));
});

after(() => {
  server?.close();
  passthrough?.close();
  rmSync(dir, { recursive: true, force: true });
});

function connectClient(to: NetServer = server): Promise<Client> {
  return new Promise((resolve, reject) => {
    const c = new Client();
    c.on("ready", () => resolve(c)).on("error", reject);
    c.connect({
      host: "127.0.0.1",
      port: (to.address() as AddressInfo).port,
      username: "",
      hostVerifier: (key: Buffer) => key.toString("base64") === hostKey,
    });
  });
}

interface ExecResult {
  code: number | undefined;
  signal: string | undefined;
  stdout: string;
  stderr: string;
}

function exec(
  c: Client,
  command: string,
  options: { env?: Record<string, string>; input?: string; onStart?: (ch: ClientChannel) => void } = {},
): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    c.exec(command, options.env ? { env: options.env } : {}, (err, ch) => {
      if (err) return reject(err);
      const out: ExecResult = { code: undefined, signal: undefined, stdout: "", stderr: "" };
      ch.on("data", (d: Buffer) => (out.stdout += d.toString()));
      ch.stderr.on("data", (d: Buffer) => (out.stderr += d.toString()));
      ch.on("exit", (code: number | null, signal?: string) => {
        if (typeof code === "number") out.code = code;
        else out.signal = signal;
      });
      ch.on("close", () => resolve(out));
      // A client that has sent EOF may send no more requests (signal): onStart keeps stdin open.
      if (options.onStart) options.onStart(ch);
      else ch.end(options.input ?? "");
    });
  });
}

function sftpOf(c: Client): Promise<SFTPWrapper> {
  return new Promise((resolve, reject) => c.sftp((err, sftp) => (err ? reject(err) : resolve(sftp))));
}

describe("ZoneGateway", () => {
  test("exec: exit code, stdin to EOF, stdout and stderr apart, env from the client and remoteEnv, in the workspace", async () => {
    const c = await connectClient();
    try {
      const r = await exec(c, 'cat; echo "$REMOTE_VAR|$CLIENT_VAR|$PWD" ; echo oops >&2; exit 9', {
        env: { CLIENT_VAR: "sent" },
        input: "input\n",
      });
      assert.deepEqual(r, {
        code: 9,
        signal: undefined,
        stdout: `input\nfrom remoteEnv|sent|${dir}\n`,
        stderr: "oops\n",
      });
    } finally {
      c.end();
    }
  });

  test("signal: the process gets it, and its death by it comes back as exit-signal", async () => {
    const c = await connectClient();
    try {
      const r = await exec(c, "echo ready; exec sleep 30", {
        onStart: (ch) =>
          ch.once("data", () => {
            ch.signal("TERM");
          }),
      });
      assert.equal(r.signal, "SIGTERM");
      assert.equal(r.code, undefined);
    } finally {
      c.end();
    }
  });

  test("sftp on shell commands: a 3 MiB file both ways, listing, stat, rename, symlink, errors", async () => {
    const c = await connectClient();
    try {
      const sftp = await sftpOf(c);
      const call = <T>(f: (cb: (err: Error | null | undefined, v: T) => void) => void): Promise<T> =>
        new Promise((resolve, reject) => f((err, v) => (err ? reject(err) : resolve(v))));
      const data = randomBytes(3 * 1024 * 1024 + 17);
      const local = join(dir, "..", `${randomBytes(4).toString("hex")}.bin`);
      writeFileSync(local, data);
      await call<void>((cb) => sftp.fastPut(local, "big.bin", (err) => cb(err, undefined)));
      const sha = (b: Buffer): string => createHash("sha256").update(b).digest("hex");
      assert.equal(
        sha(readFileSync(join(dir, "big.bin"))),
        sha(data),
        "uploaded intact, relative to the workspace",
      );
      const back = `${local}.back`;
      await call<void>((cb) => sftp.fastGet(join(dir, "big.bin"), back, (err) => cb(err, undefined)));
      assert.equal(sha(readFileSync(back)), sha(data), "downloaded intact");
      rmSync(local);
      rmSync(back);

      writeFileSync(join(dir, "odd\nname"), "x");
      const names = (await call<{ filename: string }[]>((cb) => sftp.readdir(dir, cb)))
        .map((e) => e.filename)
        .sort();
      assert.deepEqual(names, ["big.bin", "hello.txt", "odd\nname"]);
      const st = await call<{ size: number; isFile(): boolean }>((cb) => sftp.stat("hello.txt", cb));
      assert.equal(st.size, 6);
      assert.ok(st.isFile());

      await assert.rejects(
        call<void>((cb) => sftp.rename("hello.txt", "big.bin", (err) => cb(err, undefined))),
        /already exists/,
        "SFTP v3 rename never replaces",
      );
      await call<void>((cb) => sftp.rename("hello.txt", "greeting.txt", (err) => cb(err, undefined)));
      await call<void>((cb) => sftp.symlink("greeting.txt", join(dir, "link"), (err) => cb(err, undefined)));
      assert.equal(await call<string>((cb) => sftp.readlink(join(dir, "link"), cb)), "greeting.txt");
      await call<void>((cb) => sftp.utimes("greeting.txt", 1000, 2000, (err) => cb(err, undefined)));
      const times = await call<{ mtime: number }>((cb) => sftp.stat("greeting.txt", cb));
      assert.equal(times.mtime, 2000);
      await assert.rejects(
        call((cb) => sftp.stat("missing.txt", cb)),
        (err: { code?: number }) => err.code === utils.sftp.STATUS_CODE.NO_SUCH_FILE,
      );
      await call<void>((cb) => sftp.mkdir("sub", (err) => cb(err, undefined)));
      await call<void>((cb) => sftp.rmdir("sub", (err) => cb(err, undefined)));
      await call<void>((cb) => sftp.unlink("link", (err) => cb(err, undefined)));
      assert.equal(
        readFileSync(join(dir, "greeting.txt"), "utf8"),
        "hello\n",
        "removing the link left its target",
      );
    } finally {
      c.end();
    }
  });

  test(
    "sftp with the workload's own sftp-server: the bytes pass through untouched",
    { skip: !existsSync(sftpServer) },
    async () => {
      const c = await connectClient(passthrough);
      try {
        const sftp = await sftpOf(c);
        const data = randomBytes(1024 * 1024);
        const local = join(dir, "..", `${randomBytes(4).toString("hex")}.bin`);
        writeFileSync(local, data);
        await new Promise<void>((resolve, reject) =>
          sftp.fastPut(local, "via-openssh.bin", (e) => (e ? reject(e) : resolve())),
        );
        rmSync(local);
        assert.ok(readFileSync(join(dir, "via-openssh.bin")).equals(data));
        // Only OpenSSH's server has this extension: the built-in one was not in the way.
        const vfs = await new Promise<{ f_bsize: number }>((resolve, reject) =>
          sftp.ext_openssh_statvfs(dir, (e, info) => (e ? reject(e) : resolve(info as { f_bsize: number }))),
        );
        assert.ok(vfs.f_bsize > 0);
      } finally {
        c.end();
      }
    },
  );

  test("direct-tcpip reaches a server; remote forwarding is refused with a reason", async () => {
    const echo = createServer((s) => s.pipe(s));
    await new Promise<void>((resolve) => echo.listen(0, "127.0.0.1", resolve));
    const c = await connectClient();
    try {
      const port = (echo.address() as AddressInfo).port;
      const reply = await new Promise<string>((resolve, reject) =>
        c.forwardOut("127.0.0.1", 0, "localhost", port, (err, ch) => {
          if (err) return reject(err);
          let text = "";
          ch.on("data", (d: Buffer) => {
            text += d.toString();
            if (text.includes("\n")) {
              resolve(text);
              ch.close();
            }
          });
          ch.write("ping\n");
        }),
      );
      assert.equal(reply, "ping\n");
      await assert.rejects(
        new Promise<void>((resolve, reject) =>
          c.forwardIn("127.0.0.1", 9999, (err) => (err ? reject(err) : resolve())),
        ),
      );
      assert.ok(notices.some((n) => /remote forwarding \(ssh -R, port 9999\) is not supported/.test(n)));
    } finally {
      c.end();
      echo.close();
    }
  });

  test("lose(): open sessions end with the message and status 255, and the client is let go", async () => {
    const c = await connectClient();
    const closed = new Promise<void>((resolve) => c.on("close", () => resolve()));
    const r = await exec(c, "echo ready; sleep 30", {
      onStart: (ch) => ch.once("data", () => gateway.lose("lost the connection to the host")),
    });
    assert.equal(r.code, 255);
    assert.match(r.stderr, /zonectl ssh-proxy: lost the connection to the host/);
    await closed;
  });
});
