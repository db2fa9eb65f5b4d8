import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "ssh2";
import { startDevHost } from "../../harness/devHost";
import type { StartedDevHost } from "../../harness/devHost";
import { freePort } from "../../harness/sshd";
import { generateEd25519KeyPair } from "../../../extension/core/ssh/keyPair";
import { connectOverSsh } from "./client";

let host: StartedDevHost;
let work: string;
let port: number;
let clientKey: string;
let knownHosts: string;
let listedKey: string;
let optionedKey: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), "devhost-ssh-"));
  port = await freePort();
  const authorized = join(work, "authorized_keys");
  const listed = generateEd25519KeyPair();
  const optioned = generateEd25519KeyPair();
  listedKey = join(work, "listed_key");
  optionedKey = join(work, "optioned_key");
  writeFileSync(listedKey, listed.private, { mode: 0o600 });
  writeFileSync(optionedKey, optioned.private, { mode: 0o600 });
  writeFileSync(authorized, `${listed.public}\ncommand="echo restricted",restrict ${optioned.public}\n`);
  host = await startDevHost({ args: ["--ssh", `127.0.0.1:${port}`, "--authorized-keys", authorized] });
  clientKey = join(host.stateDir, "ssh", "client_ed25519_key");
  knownHosts = join(work, "known_hosts");
  writeFileSync(
    knownHosts,
    `[127.0.0.1]:${port} ${readFileSync(join(host.stateDir, "ssh", "ssh_host_ed25519_key.pub"), "utf8")}`,
  );
});

after(async () => {
  await host?.stop();
  rmSync(work, { recursive: true, force: true });
});

/** The real OpenSSH client, with strict host key checking against the dev host's key. */
function ssh(
  args: string[],
  options: { key?: string; input?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      "ssh",
      [
        "-F",
        "/dev/null",
        "-i",
        options.key ?? clientKey,
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        `UserKnownHostsFile=${knownHosts}`,
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "BatchMode=yes",
        "-p",
        String(port),
        ...args,
      ],
      { timeout: 20_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    child.stdin?.end(options.input ?? "");
  });
}

function ssh2Connect(): Promise<Client> {
  return new Promise((resolve, reject) => {
    const c = new Client();
    const expected = readFileSync(join(host.stateDir, "ssh", "ssh_host_ed25519_key.pub"), "utf8")
      .trim()
      .split(/\s+/)[1];
    c.on("ready", () => resolve(c)).on("error", reject);
    c.connect({
      host: "127.0.0.1",
      port,
      username: "root",
      privateKey: readFileSync(clientKey),
      hostVerifier: (key: Buffer) => key.toString("base64") === expected,
    });
  });
}

test("the dev host prints a stable host key and OpenSSH's ssh runs commands with their exit codes", async () => {
  const log = readFileSync(join(host.stateDir, "devhost.log"), "utf8");
  assert.match(log, /host key SHA256:[A-Za-z0-9+/]{43}/);
  const r = await ssh(["root@127.0.0.1", "echo hello from $(hostname); exit 3"]);
  assert.equal(r.stdout.trim().startsWith("hello from"), true, r.stderr);
  assert.equal(r.code, 3);
  const input = await ssh(["root@127.0.0.1", "wc -c"], { input: "twelve bytes" });
  assert.equal(input.stdout.trim(), "12", "stdin reaches the command and EOF ends it");
});

test("keys that are not authorized are refused", async () => {
  const other = join(work, "other_key");
  const pair = generateEd25519KeyPair();
  writeFileSync(other, pair.private, { mode: 0o600 });
  const r = await ssh(["root@127.0.0.1", "true"], { key: other });
  assert.equal(r.code, 255);
  assert.match(r.stderr, /Permission denied \(publickey\)/);
});

test("a key with authorized_keys options is refused, not taken as an unrestricted login", async () => {
  assert.equal(
    (await ssh(["root@127.0.0.1", "true"], { key: listedKey })).code,
    0,
    "a plain listed key logs in",
  );
  const r = await ssh(["root@127.0.0.1", "echo unrestricted"], { key: optionedKey });
  assert.equal(r.code, 255, r.stdout);
  assert.doesNotMatch(r.stdout, /unrestricted/);
  const log = readFileSync(join(host.stateDir, "devhost.log"), "utf8");
  assert.match(log, /authorized_keys:2: key refused: it carries options \(command/);
});

test("without --authorized-keys only the generated client key logs in, not the user's keys", async () => {
  const home = join(work, "home");
  mkdirSync(join(home, ".ssh"), { recursive: true });
  const mine = generateEd25519KeyPair();
  writeFileSync(join(home, ".ssh", "authorized_keys"), `${mine.public}\n`);
  writeFileSync(join(home, ".ssh", "id_ed25519.pub"), `${mine.public}\n`);
  const myKey = join(work, "home_key");
  writeFileSync(myKey, mine.private, { mode: 0o600 });
  const otherPort = await freePort();
  const saved = process.env.HOME;
  process.env.HOME = home;
  let other: StartedDevHost | undefined;
  try {
    other = await startDevHost({ args: ["--ssh", `127.0.0.1:${otherPort}`] });
  } finally {
    process.env.HOME = saved;
  }
  try {
    const r = await new Promise<number>((resolve) =>
      execFile(
        "ssh",
        [
          "-F",
          "/dev/null",
          "-i",
          myKey,
          "-o",
          "IdentitiesOnly=yes",
          "-o",
          "StrictHostKeyChecking=no",
          "-o",
          `UserKnownHostsFile=${join(work, "kh-other")}`,
          "-o",
          "BatchMode=yes",
          "-p",
          String(otherPort),
          "root@127.0.0.1",
          "true",
        ],
        { timeout: 20_000 },
        (err) => resolve(err ? ((err as { code?: number }).code ?? 1) : 0),
      ),
    );
    assert.equal(r, 255, "a key from ~/.ssh was trusted without --authorized-keys");
  } finally {
    await other?.stop();
  }
});

test("a PTY session sees its size and a resize", async () => {
  const c = await ssh2Connect();
  try {
    const out = await new Promise<string>((resolve, reject) => {
      c.exec(
        "stty size; read x; stty size",
        { pty: { rows: 24, cols: 80, term: "xterm" } },
        (err, stream) => {
          if (err) return reject(err);
          let text = "";
          stream.on("data", (d: Buffer) => {
            text += d.toString();
            if (text.includes("24 80") && !text.includes("resized")) {
              text += "resized";
              stream.setWindow(50, 132, 0, 0);
              setTimeout(() => stream.write("\n"), 100);
            }
          });
          stream.on("exit", (code: number) => (code === 0 ? undefined : reject(new Error(`exit ${code}`))));
          stream.on("close", () => resolve(text));
        },
      );
    });
    assert.match(out, /24 80/);
    assert.match(out, /50 132/);
  } finally {
    c.end();
  }
});

test("a PTY session's whole output arrives before its exit status (10 runs, 100 KB each)", async () => {
  const c = await ssh2Connect();
  try {
    const short: number[] = [];
    for (let i = 0; i < 10; i++) {
      const { text, code } = await new Promise<{ text: string; code: number | undefined }>(
        (resolve, reject) => {
          c.exec(
            "head -c 100000 /dev/zero | tr '\\0' x; echo; echo END-MARK; exit 3",
            { pty: { rows: 24, cols: 80, term: "xterm" } },
            (err, stream) => {
              if (err) return reject(err);
              let out = "";
              let exit: number | undefined;
              stream.on("data", (d: Buffer) => (out += d.toString()));
              stream.on("exit", (n: number) => (exit = n));
              stream.on("close", () => resolve({ text: out, code: exit }));
            },
          );
        },
      );
      assert.equal(code, 3);
      if (text.length !== 100_012 || !text.endsWith("x\r\nEND-MARK\r\n")) short.push(100_012 - text.length);
    }
    assert.deepEqual(short, [], "runs that lost the end of their output (bytes missing)");
  } finally {
    c.end();
  }
});

test("OpenSSH's sftp client works against the embedded SFTP server", async () => {
  const dir = join(work, "sftp");
  mkdirSync(dir);
  const local = join(work, "upload.txt");
  writeFileSync(local, "sftp payload\n");
  const batch = join(work, "batch");
  writeFileSync(
    batch,
    [
      `mkdir ${dir}/sub`,
      `put ${local} ${dir}/sub/a.txt`,
      `rename ${dir}/sub/a.txt ${dir}/sub/b.txt`,
      `ls -l ${dir}/sub`,
      `get ${dir}/sub/b.txt ${work}/back.txt`,
      `chmod 600 ${dir}/sub/b.txt`,
      "",
    ].join("\n"),
  );
  const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    execFile(
      "sftp",
      [
        "-F",
        "/dev/null",
        "-i",
        clientKey,
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        `UserKnownHostsFile=${knownHosts}`,
        "-o",
        "StrictHostKeyChecking=yes",
        "-P",
        String(port),
        "-b",
        batch,
        "root@127.0.0.1",
      ],
      { timeout: 20_000 },
      (err, stdout, stderr) => resolve({ code: err ? 1 : 0, stdout, stderr }),
    ),
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /b\.txt/);
  assert.equal(readFileSync(join(work, "back.txt"), "utf8"), "sftp payload\n");
  assert.equal(existsSync(join(dir, "sub", "a.txt")), false);
  const { statSync } = await import("node:fs");
  assert.equal(statSync(join(dir, "sub", "b.txt")).mode & 0o777, 0o600);
});

test("direct-streamlocal reaches the dev host's own socket (also under Protect's path) and nothing else", async () => {
  const c = await ssh2Connect();
  try {
    for (const path of [host.socketPath, "/var/lib/edera/protect/daemon.socket"]) {
      const conn = await connectOverSsh(c, path);
      try {
        const status = await conn.client.getHostStatus({});
        assert.match(status.protectVersion, /^devhost-/);
      } finally {
        conn.close();
      }
    }
    await assert.rejects(
      connectOverSsh(c, "/run/systemd/private"),
      /open failed|rejected|Administratively|failure/i,
    );
  } finally {
    c.end();
  }
});

test("direct-tcpip goes to loopback only", async () => {
  const { createServer } = await import("node:net");
  const echo = createServer((s) => s.pipe(s));
  await new Promise<void>((r) => echo.listen(0, "127.0.0.1", () => r()));
  const echoPort = (echo.address() as { port: number }).port;
  const c = await ssh2Connect();
  try {
    const reply = await new Promise<string>((resolve, reject) =>
      c.forwardOut("127.0.0.1", 0, "127.0.0.1", echoPort, (err, ch) => {
        if (err) return reject(err);
        ch.once("data", (d: Buffer) => {
          resolve(d.toString());
          ch.close();
        });
        ch.write("over ssh");
      }),
    );
    assert.equal(reply, "over ssh");
    await assert.rejects(
      new Promise((resolve, reject) =>
        c.forwardOut("127.0.0.1", 0, "192.0.2.10", 80, (err, ch) => (err ? reject(err) : resolve(ch))),
      ),
    );
  } finally {
    c.end();
    echo.close();
  }
});
