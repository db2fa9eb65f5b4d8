// No user value reaches a shell unquoted. Commands and environment values full of shell syntax
// travel from our client through a real sshd to the real dev host and must arrive in the zone
// or workload byte for byte; canary files on the host prove nothing was evaluated on the way.
// The daemon socket path, the one user value our client does put on a remote command line (the
// exec bridge and its probe), must never inject either.
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer, connect as netConnect } from "node:net";
import type { Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ProtectHost } from "../../../extension/core/protect/host";
import { startExec } from "../../../extension/core/terminal/execSession";
import type { ExecRequest } from "../../../extension/core/terminal/execSession";
import { exitCodes } from "../../../extension/cli/errorReport";
import { WorkloadState, ZoneState } from "../../../extension/proto/gen/protect/control/v1/common_pb";
import { startDevHost } from "../../harness/devHost";
import type { StartedDevHost } from "../../harness/devHost";
import { startSshd } from "../../harness/sshd";
import type { Sshd } from "../../harness/sshd";
import { importTestImage } from "../devhost/image";
import { zonectl } from "../spine/zonectl";

const work = mkdtempSync(join(tmpdir(), "zones-inject-"));
/** Every payload that would run a command, if evaluated anywhere, touches a file in here. */
const canaries = join(work, "canaries");
let devHost: StartedDevHost;
let sshd: Sshd;
let host: ProtectHost;
let zoneId: string;
let digest: string;

const touch = (n: number): string => `touch ${canaries}/c${n}`;
/** Values as a user might type them, and as an attacker would craft them. */
const payloads: readonly string[] = [
  `$(${touch(1)})`,
  `\`${touch(2)}\``,
  `'; ${touch(3)}; echo '`,
  `"; ${touch(4)}; echo "`,
  `line one\nline two; ${touch(5)}\r\nthird`,
  `a && ${touch(6)} || ${touch(7)} | cat > /dev/null &`,
  `$HOME \${PATH} $$ $0 $1 $@ $*`,
  `\\$(${touch(8)})\\`,
  `*?[]{}~#!%^<>|\t\v\f`,
  `${"\u00e9\u6f22\u{1f600}"} and \u202e reversed`,
  `-n`,
  `--help`,
  "x".repeat(4096),
  "",
];

before(async () => {
  const { mkdirSync } = await import("node:fs");
  mkdirSync(canaries, { mode: 0o777 });
  chmodSync(canaries, 0o777);
  devHost = await startDevHost();
  sshd = await startSshd();
  host = await ProtectHost.open(sshd.alias, {
    configFile: sshd.sshConfigPath,
    env: {},
    socketPath: devHost.socketPath,
  });
  ({ digest } = await importTestImage(host, join(work, "image")));
  zoneId = await host.createZone({ name: "inject" });
  await host.waitForZone(zoneId, (z) => z?.status?.state === ZoneState.READY, { timeoutMs: 60_000 });
});

after(async () => {
  try {
    await host?.destroyZone(zoneId).catch(() => {});
    await host?.waitForZone(zoneId, (z) => z === undefined, { timeoutMs: 60_000 }).catch(() => {});
  } finally {
    host?.close();
    await sshd?.stop();
    await devHost?.stop();
    rmSync(work, { recursive: true, force: true });
  }
});

function canariesFound(): string[] {
  return existsSync(canaries) ? readdirSync(canaries) : [];
}

/** Runs a command through ExecuteZoneCommand (the product's ExecSession) and collects its output. */
async function run(request: ExecRequest): Promise<{ stdout: Buffer; stderr: string; code: number }> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const session = startExec(host, request, {
    onStdout: (d) => out.push(Buffer.from(d)),
    onStderr: (d) => err.push(Buffer.from(d)),
  });
  session.endInput();
  const code = await session.exited;
  return { stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString("utf8"), code };
}

/** NUL-separated values, as `printf '%s\0'` writes them. */
function splitNul(bytes: Buffer): string[] {
  const text = bytes.toString("utf8");
  assert.ok(
    text.endsWith("\0") || text === "",
    `output not NUL-terminated: ${JSON.stringify(text.slice(-40))}`,
  );
  return text === "" ? [] : text.slice(0, -1).split("\0");
}

const envOf = (): Record<string, string> => Object.fromEntries(payloads.map((p, i) => [`PAYLOAD_${i}`, p]));
/** A script that prints each PAYLOAD_n variable, quoted, NUL-terminated (the shell runs in the zone, on purpose). */
const printEnvScript = payloads.map((_, i) => `printf '%s\\0' "$PAYLOAD_${i}"`).join("; ");

describe("commands and environment values reach the zone byte for byte", () => {
  test("argv of a zone command: each payload arrives as one unchanged argument", async () => {
    const r = await run({ zoneId, command: ["printf", "%s\\0", ...payloads] });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(splitNul(r.stdout), payloads);
    assert.deepEqual(canariesFound(), [], "a payload was evaluated by a shell");
  });

  test("environment values of a zone command", async () => {
    const r = await run({ zoneId, command: ["sh", "-c", printEnvScript], env: envOf() });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(splitNul(r.stdout), payloads);
    assert.deepEqual(canariesFound(), []);
  });

  test("a workload's process env and argv, and a command exec'd inside the running workload", async () => {
    const workloadId = await host.createWorkload({
      name: "inject-workload",
      zoneId,
      image: { digest },
      process: {
        command: ["sh", "-c", `${printEnvScript}; printf '%s\\0' "$@"; sleep 600`, "argv0", ...payloads],
        environment: Object.entries(envOf()).map(([key, value]) => ({ key, value })),
      },
    });
    await host.startWorkload(workloadId);
    try {
      let state: WorkloadState | undefined;
      const deadline = Date.now() + 60_000;
      while (state !== WorkloadState.RUNNING && Date.now() < deadline) {
        const w = await host.getWorkload(workloadId);
        state = w.status?.state;
        assert.notEqual(state, WorkloadState.FAILED, w.status?.errorStatus?.message);
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(state, WorkloadState.RUNNING);

      // What the workload printed at start: the console history.
      const expected = [...payloads, ...payloads];
      let consoleOut: Buffer = Buffer.alloc(0);
      const until = Date.now() + 30_000;
      while (splitNulLenient(consoleOut).length < expected.length && Date.now() < until) {
        consoleOut = await consoleHistory(workloadId);
        if (splitNulLenient(consoleOut).length < expected.length)
          await new Promise((r) => setTimeout(r, 100));
      }
      assert.deepEqual(splitNulLenient(consoleOut), expected);

      const inside = await run({ zoneId, workloadId, command: ["sh", "-c", printEnvScript], env: envOf() });
      assert.equal(inside.code, 0, inside.stderr);
      assert.deepEqual(splitNul(inside.stdout), payloads);
      const argv = await run({ zoneId, workloadId, command: ["printf", "%s\\0", ...payloads] });
      assert.deepEqual(splitNul(argv.stdout), payloads);
      assert.deepEqual(canariesFound(), []);
    } finally {
      await host.destroyWorkload(workloadId).catch(() => {});
    }
  });
});

function splitNulLenient(bytes: Buffer): string[] {
  const text = bytes.toString("utf8");
  const end = text.lastIndexOf("\0");
  return end < 0 ? [] : text.slice(0, end).split("\0");
}

/** Attaches to a workload's console for a moment and returns the replayed history. */
async function consoleHistory(workloadId: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 1_000);
  async function* requests(): AsyncGenerator<{ workloadId: string }> {
    yield { workloadId };
    await new Promise<void>((r) => controller.signal.addEventListener("abort", () => r(), { once: true }));
  }
  try {
    for await (const reply of host.attachWorkloadConsole(requests(), { signal: controller.signal }))
      chunks.push(Buffer.from(reply.stdout));
  } catch {
    // aborted after the history arrived
  } finally {
    clearTimeout(timer);
  }
  return Buffer.concat(chunks);
}

describe("the daemon socket path on the remote command line", () => {
  // A relay at a hostile path in front of the dev host's socket: the path is what is tested.
  let relay: Server;
  let relayDir: string;
  const hostilePath = (): string => join(relayDir, `a b'"$(touch c9)\`touch c10\`;x`);

  before(async () => {
    relayDir = mkdtempSync(join(canaries, "s-"));
    chmodSync(relayDir, 0o755);
    relay = createServer((client) => {
      const upstream = netConnect(devHost.socketPath);
      client.pipe(upstream).pipe(client);
      client.on("error", () => upstream.destroy());
      upstream.on("error", () => client.destroy());
    });
    await new Promise<void>((resolve) => relay.listen(hostilePath(), resolve));
  });

  after(async () => {
    await new Promise<void>((resolve) => relay.close(() => resolve()));
  });

  test("the relay itself works (the path is a usable socket)", async () => {
    const local = await ProtectHost.open(`unix://${hostilePath()}`);
    try {
      assert.ok((await local.listZones()).some((z) => z.id === zoneId));
    } finally {
      local.close();
    }
  });

  // Found by this suite; fixed in ff0b54c (streamlocal takes any absolute path, the bridge
  // escapes it for socat and quotes it for the shell, ProtectHost.open leaks nothing on failure).
  for (const mode of ["streamlocal", "bridge"] as const) {
    test(`over ${mode}: a socket path with spaces, quotes, $(…) and backticks works and runs nothing`, async () => {
      const server = mode === "bridge" ? await startSshd({ config: { AllowTcpForwarding: "no" } }) : sshd;
      try {
        const h = await ProtectHost.open(server.alias, {
          configFile: server.sshConfigPath,
          env: {},
          socketPath: hostilePath(),
          channelMode: mode,
        });
        try {
          assert.ok((await h.listZones()).some((z) => z.id === zoneId));
          assert.equal(h.route, mode);
        } finally {
          h.close();
        }
        assert.deepEqual(
          canariesFound().filter((n) => !n.startsWith("s-")),
          [],
        );
        assert.deepEqual(
          readdirSync(relayDir).filter((n) => n.startsWith("c")),
          [],
          "the socket path was evaluated by a shell",
        );
      } finally {
        if (server !== sshd) await server.stop();
      }
    });
  }

  test("zonectl with that path: lists over streamlocal, the default sudo bridge and a custom bridge; a path no bridge can carry fails at once", async () => {
    const bridgeSshd = await startSshd({ config: { AllowTcpForwarding: "no" } });
    try {
      const runs: [string, Record<string, string>][] = [
        ["streamlocal", { ZONECTL_SSH_CONFIG: sshd.sshConfigPath }],
        ["default bridge", { ZONECTL_SSH_CONFIG: bridgeSshd.sshConfigPath }],
        [
          "custom bridge",
          { ZONECTL_SSH_CONFIG: bridgeSshd.sshConfigPath, ZONECTL_BRIDGE: "socat - UNIX-CONNECT:{socket}" },
        ],
      ];
      for (const [what, extra] of runs) {
        const alias = extra["ZONECTL_SSH_CONFIG"] === sshd.sshConfigPath ? sshd.alias : bridgeSshd.alias;
        const r = await zonectl(
          ["--host", alias, "--json", "ls"],
          { ...extra, ZONECTL_SOCKET: hostilePath() },
          30_000,
        );
        assert.equal(r.code, 0, `${what}: ${r.stderr}`);
        assert.ok(
          (JSON.parse(r.stdout) as { id: string }[]).some((z) => z.id === zoneId),
          what,
        );
      }
      // A line break cannot go through the bridge's command line: refused (or found missing),
      // and zonectl exits rather than hanging on the SSH connection it opened (the helper fails
      // after 10 s).
      const r = await zonectl(
        ["--host", bridgeSshd.alias, "ls"],
        { ZONECTL_SSH_CONFIG: bridgeSshd.sshConfigPath, ZONECTL_SOCKET: `${relayDir}/line\nbreak` },
        10_000,
      );
      assert.notEqual(r.code, 0, r.stdout);
      assert.notEqual(r.code, exitCodes.unexpected, r.stderr);
      assert.deepEqual(
        readdirSync(relayDir).filter((n) => n.startsWith("c")),
        [],
      );
    } finally {
      await bridgeSshd.stop();
    }
  });

  // Error messages quote user-supplied paths: a line break or an escape sequence in one must
  // neither make zonectl's one clear line two lines nor write control characters to the terminal.
  test("an error naming a path with a line break is still one line", async () => {
    const r = await zonectl(
      ["--host", sshd.alias, "ls"],
      { ZONECTL_SSH_CONFIG: sshd.sshConfigPath, ZONECTL_SOCKET: `${relayDir}/line\nbreak\u001b[31m` },
      10_000,
    );
    assert.notEqual(r.code, 0, r.stdout);
    assert.equal(r.stderr.trimEnd().split("\n").length, 1, JSON.stringify(r.stderr));
    assert.ok(!r.stderr.includes("\u001b"), JSON.stringify(r.stderr));
  });
});
