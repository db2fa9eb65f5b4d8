// `zonectl dev-host` is the same dev host: started through the CLI, it serves, and Ctrl-C
// (SIGINT) stops it cleanly.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { connectUnix } from "./client";

const root = resolve(import.meta.dirname, "../../..");

test("zonectl dev-host serves on the given socket and stops on SIGINT", async () => {
  const state = mkdtempSync(join(tmpdir(), "devhost-cli-"));
  const socket = join(state, "cli.socket");
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      join(root, "extension/cli/main.ts"),
      "dev-host",
      "--socket",
      socket,
      "--state",
      state,
    ],
    {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  try {
    const deadline = Date.now() + 30_000;
    while (!stdout.includes("dev host ready")) {
      assert.ok(Date.now() < deadline, `not ready: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.match(stdout, new RegExp(`socket ${socket.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
    const { client, close } = connectUnix(socket);
    try {
      assert.match((await client.getHostStatus({})).protectVersion, /^devhost-/);
    } finally {
      close();
    }
    child.kill("SIGINT");
    assert.equal(await exited, 0, stderr);
    assert.match(stderr, /stopped cleanly/);
    assert.equal(existsSync(socket), false, "the socket is removed");
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
    rmSync(state, { recursive: true, force: true });
  }
});

test("zonectl dev-host refuses a second dev host on the same state directory", async () => {
  const state = mkdtempSync(join(tmpdir(), "devhost-cli-"));
  const run = (socket: string) =>
    spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        join(root, "extension/cli/main.ts"),
        "dev-host",
        "--socket",
        join(state, socket),
        "--state",
        state,
      ],
      { cwd: root, stdio: ["ignore", "pipe", "pipe"] },
    );
  const first = run("a.socket");
  try {
    let out = "";
    first.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const deadline = Date.now() + 30_000;
    while (!out.includes("dev host ready")) {
      assert.ok(Date.now() < deadline);
      await new Promise((r) => setTimeout(r, 50));
    }
    const second = run("b.socket");
    let err = "";
    second.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((r) => second.on("exit", (c) => r(c)));
    assert.notEqual(code, 0);
    assert.match(err, /another dev host \(pid \d+\) is using/);
  } finally {
    first.kill("SIGTERM");
    await new Promise((r) => first.on("exit", r));
    rmSync(state, { recursive: true, force: true });
  }
});

test("--socket naming a regular file fails with a reason and leaves the file alone", async () => {
  const state = mkdtempSync(join(tmpdir(), "devhost-cli-file-"));
  const precious = join(state, "precious.txt");
  writeFileSync(precious, "keep me\n");
  try {
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        join(root, "extension/devhost/main.ts"),
        "--socket",
        precious,
        "--state",
        state,
        "--sandbox",
        "process",
      ],
      { cwd: root, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
    assert.equal(code, 1, stderr);
    assert.match(stderr, /exists and is not a socket; refusing to replace it/);
    assert.equal(readFileSync(precious, "utf8"), "keep me\n");
  } finally {
    rmSync(state, { recursive: true, force: true });
  }
});
