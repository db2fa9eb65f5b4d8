// The VM guest agent's service and the dev host's end of the link, over a real HTTP/2 session
// on a unix socket: what runs inside the VM, minus the VM (the VM tier covers that).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as http2 from "node:http2";
import { createServer } from "node:net";
import type { Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { GuestAgent } from "../../../../extension/proto/gen/styrolite/guest/v1/agent_pb";
import { guestAgentService } from "../../../../extension/devhost/vm/agent/agentService";
import { dialInGuest, GuestLink } from "../../../../extension/devhost/vm/guestLink";
import type { SandboxProcess } from "../../../../extension/devhost/sandbox/processes";

let dir: string;
let server: http2.Http2Server;
let link: GuestLink;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "vmagent-"));
  const handler = connectNodeAdapter({
    routes: (router) => router.service(GuestAgent, guestAgentService("test", { shell: "/bin/sh" })),
  });
  server = http2.createServer({}, handler);
  const socket = join(dir, "agent.sock");
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  link = new GuestLink(socket);
});

after(async () => {
  link.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

function collect(proc: SandboxProcess): { out: () => string; err: () => string } {
  let out = "";
  let err = "";
  proc.onStdout((d) => (out += d.toString("utf8")));
  proc.onStderr((d) => (err += d.toString("utf8")));
  return { out: () => out, err: () => err };
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test("a piped process gets stdin and its end, and reports stdout, stderr and its exit code", async () => {
  const proc = link.spawn({
    argv: ["sh", "-c", 'read x; echo "got $x"; echo oops >&2; cat; exit 3'],
    env: { PATH: "/usr/bin:/bin" },
    stdin: true,
  });
  const io = collect(proc);
  proc.write(Buffer.from("hello\nrest of input"));
  proc.endInput();
  const exit = await proc.exited;
  assert.deepEqual(exit, { code: 3, signal: undefined });
  assert.equal(io.out(), "got hello\nrest of input");
  assert.equal(io.err(), "oops\n");
  assert.ok(proc.pid > 0, "the guest pid arrives first");
});

test("a process runs with exactly the environment and working directory given", async () => {
  const proc = link.spawn({
    argv: ["sh", "-c", 'pwd; echo "$ONLY"; env | wc -l'],
    env: { ONLY: "x" },
    cwd: dir,
    stdin: false,
  });
  const io = collect(proc);
  await proc.exited;
  const [pwd, only] = io.out().split("\n");
  assert.equal(pwd, dir);
  assert.equal(only, "x");
});

test("a TTY process sees its size, and a resize reaches it", async () => {
  const proc = link.spawn({
    argv: ["sh", "-c", "stty size; read x; stty size"],
    env: { PATH: "/usr/bin:/bin" },
    tty: { columns: 80, rows: 24 },
    stdin: true,
  });
  const io = collect(proc);
  await until(() => io.out().includes("24 80"), "the first size");
  proc.resize(120, 40);
  proc.write(Buffer.from("\n"));
  assert.equal((await proc.exited).code, 0);
  assert.match(io.out(), /40 120/);
  assert.equal(proc.tty, true);
});

test("a signal ends a process and the exit names it", async () => {
  const proc = link.spawn({ argv: ["sleep", "60"], env: { PATH: "/usr/bin:/bin" }, stdin: false });
  await until(() => proc.pid > 0, "the start");
  proc.kill("SIGTERM");
  assert.deepEqual(await proc.exited, { code: undefined, signal: "SIGTERM" });
});

test("a paused reader holds the process back and still gets every byte", async () => {
  const proc = link.spawn({
    argv: ["head", "-c", "6000000", "/dev/zero"],
    env: { PATH: "/usr/bin:/bin" },
    stdin: false,
  });
  let bytes = 0;
  proc.onStdout((d) => (bytes += d.length));
  proc.pause();
  await new Promise((r) => setTimeout(r, 500));
  const whilePaused = bytes;
  assert.ok(whilePaused < 6_000_000, `paused after ${whilePaused} bytes`);
  proc.resume();
  await proc.exited;
  assert.equal(bytes, 6_000_000);
});

test("Dial relays a TCP connection both ways and half-closes it", async () => {
  const echo: Server = createServer((s) => s.pipe(s));
  await new Promise<void>((resolve) => echo.listen(0, "127.0.0.1", resolve));
  const port = (echo.address() as { port: number }).port;
  try {
    const conn = dialInGuest(link.agent, "127.0.0.1", port);
    const io = collect(conn);
    conn.write(Buffer.from("ping"));
    await until(() => io.out() === "ping", "the echo");
    conn.endInput();
    assert.equal((await conn.exited).code, 0);
    const refused = dialInGuest(link.agent, "127.0.0.1", 1);
    const rio = collect(refused);
    assert.equal((await refused.exited).code, 1);
    assert.match(rio.err(), /^E .*ECONNREFUSED/);
  } finally {
    echo.close();
  }
});

test("the guest's stats, files and hello come from its own /proc and /sys", async () => {
  const hello = await link.agent.hello({});
  assert.equal(hello.agentVersion, "test");
  assert.ok(hello.onlineCpus >= 1);
  assert.match(hello.bootId, /^[0-9a-f-]{36}$/);
  const stats = await link.agent.readStats({ processes: true });
  assert.ok(stats.memTotalBytes > stats.memAvailableBytes && stats.memAvailableBytes > 0n);
  assert.ok(stats.cpus.length >= 1 && stats.cpus[0]!.ticks.length === 8);
  assert.ok(
    stats.processes.some((p) => p.pid === process.pid),
    "this process is listed",
  );
  const file = join(dir, "a", "b", "limit");
  await link.agent.writeFile({ path: file, content: Buffer.from("64M"), makeParents: true });
  assert.equal(readFileSync(file, "utf8"), "64M");
  writeFileSync(join(dir, "events"), "oom_kill 2\n");
  const read = await link.agent.readFile({ path: join(dir, "events") });
  assert.equal(Buffer.from(read.content).toString(), "oom_kill 2\n");
  await assert.rejects(link.agent.readFile({ path: join(dir, "missing") }), /ENOENT/);
});
