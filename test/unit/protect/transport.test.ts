// The pieces of the transport that can be checked without a network: the channel Duplex (with a
// fake ssh2 channel at the boundary), bridge failure classification, quoting, error mapping.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Duplex } from "node:stream";
import { describe, test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import type { ClientChannel } from "ssh2";
import { ChannelSocket } from "../../../extension/core/protect/channelSocket";
import { ProtectError, TransportFailure, toProtectError } from "../../../extension/core/protect/errors";
import { parseTarget } from "../../../extension/core/protect/target";
import {
  bridgeCommandFor,
  classifyBridgeExit,
  defaultBridgeCommand,
} from "../../../extension/core/protect/transport";
import { SshError } from "../../../extension/core/ssh/errors";
import { printable } from "../../../extension/core/ssh/printable";
import { shellQuote } from "../../../extension/core/ssh/shellQuote";

/** Enough of an ssh2 ClientChannel: a Duplex with a stderr stream, exit/close events, close(). */
class FakeChannel extends Duplex {
  readonly stderr = new Duplex({
    read() {},
    write(_c, _e, cb) {
      cb();
    },
  });
  written: Buffer[] = [];
  /** Hold write callbacks, like ssh2 does when the window is exhausted. */
  holdWrites = false;
  held: (() => void)[] = [];
  isClosed = false;

  override _read(): void {}
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.written.push(chunk);
    if (this.holdWrites) this.held.push(() => cb());
    else cb();
  }
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.emit("close");
  }
  /** The far side exits and closes, as OpenSSH sends it: exit-status, EOF, close. */
  remoteExit(code: number, stderr = ""): void {
    if (stderr) this.stderr.push(Buffer.from(stderr));
    this.emit("exit", code);
    this.push(null);
    setImmediate(() => this.close());
  }
}

function socketWith(channel: FakeChannel, bridge = false): ChannelSocket {
  return new ChannelSocket(async () => channel as unknown as ClientChannel, {
    describe: "the test socket",
    ...(bridge
      ? { onBridgeExit: (exit) => classifyBridgeExit(exit, "/run/d.sock", "host", "sudo -n socat") }
      : {}),
  });
}

const nextTurn = () => new Promise((r) => setImmediate(r));

describe("ChannelSocket", () => {
  test("writes made before the channel opens are queued and delivered in order", async () => {
    const channel = new FakeChannel();
    let open!: (c: ClientChannel) => void;
    const socket = new ChannelSocket(() => new Promise((r) => (open = r)), { describe: "x" });
    socket.write("one ");
    socket.write("two");
    assert.equal(channel.written.length, 0);
    open(channel as unknown as ClientChannel);
    await nextTurn();
    assert.equal(Buffer.concat(channel.written).toString(), "one two");
    channel.push("reply");
    const data = await new Promise<Buffer>((r) => socket.once("data", r));
    assert.equal(data.toString(), "reply");
    socket.destroy();
    assert.ok(channel.isClosed);
  });

  test("an unexpected close fails the socket with an ECONNREFUSED TransportFailure (lost, not cancelled)", async () => {
    const channel = new FakeChannel();
    const socket = socketWith(channel);
    await nextTurn();
    const error = new Promise<Error>((r) => socket.once("error", r));
    channel.close();
    const err = await error;
    assert.ok(err instanceof TransportFailure);
    assert.equal(err.reason, "lost");
    assert.equal((err as unknown as { code: string }).code, "ECONNREFUSED");
  });

  test("write callbacks held by a full SSH window fail when the channel closes (ssh2 never calls them)", async () => {
    const channel = new FakeChannel();
    channel.holdWrites = true;
    const socket = socketWith(channel);
    socket.on("error", () => {});
    await nextTurn();
    const result = new Promise<Error | null | undefined>((r) => socket.write("stuck", r));
    await nextTurn();
    channel.close();
    const err = await result;
    assert.ok(err instanceof Error, "the write callback must fail, not hang");
  });

  test("a bridge that exits non-zero reports what it said on stderr, and the EOF does not get ahead of it", async () => {
    const channel = new FakeChannel();
    const socket = socketWith(channel, true);
    await nextTurn();
    let sawEnd = false;
    socket.on("end", () => (sawEnd = true));
    socket.resume();
    const error = new Promise<Error>((r) => socket.once("error", r));
    channel.remoteExit(1, "sudo: a password is required\n");
    const err = await error;
    assert.ok(err instanceof TransportFailure);
    assert.equal(err.reason, "permissionDenied");
    assert.match(err.message, /password is required/);
    assert.equal(sawEnd, false, "EOF reached the reader before the failure");
  });

  test("an open failure is reported on a later turn, after listeners can be attached", async () => {
    const socket = new ChannelSocket(() => Promise.reject(new SshError("channelRefused", "refused")), {
      describe: "x",
    });
    // http2 attaches its listeners synchronously; a few microtasks later must still be in time
    // (an 'error' emitted with no listener would crash this test process).
    for (let i = 0; i < 5; i++) await Promise.resolve();
    const err = await new Promise<Error>((r) => socket.once("error", r));
    assert.ok(err instanceof TransportFailure);
    assert.match(err.message, /refused/);
  });
});

describe("bridge", () => {
  test("the default command quotes the socket path for the shell", () => {
    assert.equal(
      bridgeCommandFor(defaultBridgeCommand, "/var/lib/edera/protect/daemon.socket"),
      "sudo -n socat - UNIX-CONNECT:/var/lib/edera/protect/daemon.socket",
    );
    assert.equal(bridgeCommandFor("nc -U {socket}", "/run/a b.sock"), "nc -U '/run/a b.sock'");
    // socat reads ':' and ',' in its address; nc does not: only the socat form escapes them.
    assert.equal(
      bridgeCommandFor("socat - UNIX-CONNECT:{socket}", "/run/x:y,z"),
      "socat - UNIX-CONNECT:'/run/x\\:y\\,z'",
    );
    assert.equal(bridgeCommandFor("nc -U {socket}", "/run/x:y,z"), "nc -U /run/x:y,z");
  });

  test("socket paths no route can take are refused as invalid arguments", () => {
    for (const bad of ["", "relative.sock", "-oProxyCommand=x", "/run/a\0b", "/run/a\nb", "/run/a\rb"]) {
      assert.throws(
        () => bridgeCommandFor(defaultBridgeCommand, bad),
        (e: unknown) => ProtectError.is(e, "invalidArgument"),
        JSON.stringify(bad),
      );
    }
    assert.throws(
      () => bridgeCommandFor("socat - UNIX-CONNECT:/fixed", "/run/x"),
      (e: unknown) => ProtectError.is(e, "invalidArgument"),
    );
  });

  test(
    "a path full of shell and socat syntax reaches the socket through a real sh and socat, running nothing",
    { skip: !existsSync("/usr/bin/socat") && "socat not installed" },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "zb-"));
      const canaries = join(dir, "c");
      mkdirSync(canaries);
      try {
        // Relative: a socket name cannot hold '/'; the shell runs in the canaries folder.
        const touch = (n: number): string => `touch c${n}`;
        const names = [
          `a b'"$(${touch(1)})`,
          `\`${touch(2)}\`;${touch(3)}`,
          `x:y,z!!w\\q`,
          `[1](2){3}%25 &|<>#~*?\t`,
          `'\\''"; ${touch(4)}; "`,
        ];
        for (const name of names) {
          const path = join(dir, name);
          const server = createServer((c) => c.end("pong"));
          await new Promise<void>((r) => server.listen(path, r));
          try {
            for (const template of [
              defaultBridgeCommand.replace("sudo -n ", ""),
              "socat STDIO UNIX-CONNECT:{socket},shut-none",
            ]) {
              const command = bridgeCommandFor(template, path);
              const out = await new Promise<string>((resolve, reject) =>
                execFile(
                  "/bin/sh",
                  ["-c", command],
                  { cwd: canaries, timeout: 5_000 },
                  (err, stdout, stderr) =>
                    err ? reject(new Error(`${command}: ${stderr}`)) : resolve(stdout),
                ).stdin?.end(),
              );
              assert.equal(out, "pong", command);
            }
          } finally {
            await new Promise<void>((r) => server.close(() => r()));
          }
        }
        assert.deepEqual(readdirSync(canaries), [], "the socket path was evaluated by the shell");
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  test("paths and what the bridge printed cannot split a message or reach the terminal raw", () => {
    const path = "/run/line\nbreak\u001b[31m";
    const f = classifyBridgeExit(
      {
        code: 1,
        signal: undefined,
        stderr: `socat[1] E connect(5, AF=1 "${path}", 20): Permission denied\u001b]0;owned\u0007\n`,
      },
      path,
      "h",
      "socat",
    );
    assert.equal(f.reason, "permissionDenied");
    assert.ok(![..."\n\r\u001b\u0007"].some((c) => f.message.includes(c)), JSON.stringify(f.message));
    assert.match(f.message, /\/run\/line\\nbreak\\u001b\[31m/);
    assert.equal(printable("/plain/päth sock"), "/plain/päth sock");
    assert.equal(printable("a\u2028b\u009bc\td"), "a\\u2028b\\u009bc\\td");
  });

  test("shellQuote survives quotes and metacharacters", () => {
    assert.equal(shellQuote("plain/path.sock"), "plain/path.sock");
    assert.equal(shellQuote("it's $(x)"), `'it'\\''s $(x)'`);
    assert.equal(shellQuote(""), "''");
  });

  test("bridge exits are classified from what sudo and socat print", () => {
    const c = (code: number, stderr: string) =>
      classifyBridgeExit({ code, signal: undefined, stderr }, "/run/d.sock", "h", "sudo -n socat");
    assert.equal(c(1, "sudo: a password is required").reason, "permissionDenied");
    assert.equal(
      c(1, '2024/01/01 socat[12] E connect(5, AF=1 "/run/d.sock", 13): No such file or directory')
        .unreachable,
      "socketMissing",
    );
    assert.equal(
      c(1, 'socat[12] E connect(5, AF=1 "/run/d.sock", 13): Connection refused').unreachable,
      "daemonNotRunning",
    );
    assert.equal(
      c(1, 'socat[12] E connect(5, AF=1 "/run/d.sock", 13): Permission denied').reason,
      "permissionDenied",
    );
    assert.equal(c(127, "sh: 1: sudo: not found").unreachable, "bridgeFailed");
    const other = c(3, "something odd");
    assert.equal(other.reason, "unreachable");
    assert.match(other.message, /exited with 3: something odd/);
  });
});

describe("error mapping", () => {
  test("transport failures keep their reason through Connect's wrapping", () => {
    const wrapped = new ConnectError(
      "unavailable",
      Code.Unavailable,
      undefined,
      undefined,
      new TransportFailure("unreachable", "socket missing", "socketMissing"),
    );
    const e = toProtectError(wrapped, "ListZones", "h");
    assert.ok(ProtectError.is(e, "unreachable"));
    assert.equal(e.details.unreachable, "socketMissing");
  });

  test("errno codes of a local socket", () => {
    const errno = (code: string) => Object.assign(new Error(code), { code });
    const map = (code: string) =>
      toProtectError(new ConnectError("x", Code.Internal, undefined, undefined, errno(code)), "Op", "h");
    assert.equal((map("ENOENT") as ProtectError).details.unreachable, "socketMissing");
    assert.equal((map("ECONNREFUSED") as ProtectError).details.unreachable, "daemonNotRunning");
    assert.ok(ProtectError.is(map("EACCES"), "permissionDenied"));
  });

  /** An error as Connect decodes it from the daemon's grpc-status trailer. */
  const fromDaemon = (message: string, code: Code): ConnectError =>
    Object.assign(new ConnectError(message, code), { isWireError: true });

  test("daemon status codes, with the daemon's message", () => {
    const e = toProtectError(fromDaemon("zone abc not found", Code.NotFound), "GetZone", "h");
    assert.ok(ProtectError.is(e, "notFound"));
    assert.match(e.message, /zone abc not found/);
    assert.ok(
      ProtectError.is(toProtectError(fromDaemon("x", Code.Unimplemented), "Op", "h"), "unimplemented"),
    );
    assert.ok(
      ProtectError.is(
        toProtectError(fromDaemon("bad name", Code.InvalidArgument), "Op", "h"),
        "invalidArgument",
      ),
    );
    assert.ok(ProtectError.is(toProtectError(fromDaemon("x", Code.Internal), "Op", "h"), "server"));
  });

  test("a reply Connect could not decode is the daemon's fault (invalidReply), not the caller's argument", () => {
    // Connect raises these itself, with the codes a daemon would use about our request.
    for (const [message, code] of [
      ["protocol error: promised 5 bytes, received 2", Code.InvalidArgument],
      ["parse binary: premature EOF", Code.Internal],
      ["protocol error: missing status", Code.Internal],
      ["unsupported content type text/html", Code.Unknown],
      ["message size 9999999 is larger than configured readMaxBytes", Code.ResourceExhausted],
    ] as const) {
      const e = toProtectError(new ConnectError(message, code), "GetHostStatus", "h");
      assert.ok(ProtectError.is(e, "invalidReply"), `${message} → ${(e as ProtectError).reason}`);
      assert.match(e.message, /reply could not be read/);
    }
  });

  test("what happened to the call itself keeps its meaning: deadline, cancel, unavailable", () => {
    assert.ok(
      ProtectError.is(
        toProtectError(new ConnectError("the operation timed out", Code.DeadlineExceeded), "Op", "h"),
        "deadline",
      ),
    );
    assert.ok(
      ProtectError.is(toProtectError(new ConnectError("aborted", Code.Canceled), "Op", "h"), "cancelled"),
    );
    assert.ok(
      ProtectError.is(
        toProtectError(new ConnectError("HTTP 502", Code.Unavailable), "Op", "h"),
        "unreachable",
      ),
    );
  });

  test("SSH errors stay SSH errors, except a lost connection", () => {
    const key = new SshError("hostKeyChanged", "changed");
    assert.equal(toProtectError(key, "Op", "h"), key);
    assert.ok(ProtectError.is(toProtectError(new SshError("lost", "gone"), "Op", "h"), "lost"));
  });
});

describe("targets", () => {
  test("unix:///path and ssh destinations", () => {
    assert.deepEqual(parseTarget("unix:///var/run/d.sock"), {
      kind: "unix",
      socketPath: "/var/run/d.sock",
      display: "unix:///var/run/d.sock",
    });
    const ssh = parseTarget("root@styro:2222");
    assert.equal(ssh.kind, "ssh");
    assert.equal(ssh.display, "root@styro:2222");
    assert.equal(parseTarget("unix:/run/d.sock").kind, "unix");
    assert.throws(
      () => parseTarget("unix://relative"),
      (e: unknown) => ProtectError.is(e, "invalidArgument"),
    );
  });
});
