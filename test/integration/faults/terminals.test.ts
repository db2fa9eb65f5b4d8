// Terminals under faults and load, through a real sshd behind the fault proxy to the real dev
// host: a dropped connection is reported to the terminal (typed, promptly) and a new attach
// after the reconnect works and misses nothing the workload printed meanwhile; 20 terminals
// and 20 bulk streams on one SSH connection all finish intact with bounded client memory.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ProtectError } from "../../../extension/core/protect/errors";
import type { ProtectHost } from "../../../extension/core/protect/host";
import { WorkloadConsole } from "../../../extension/core/terminal/consoleSession";
import { startExec } from "../../../extension/core/terminal/execSession";
import type { ExecSession } from "../../../extension/core/terminal/execSession";
import { WorkloadState, ZoneState } from "../../../extension/proto/gen/protect/control/v1/common_pb";
import { startDevHost } from "../../harness/devHost";
import type { StartedDevHost } from "../../harness/devHost";
import { importTestImage } from "../devhost/image";
import { FaultTally, eventually, openThroughProxy, startProxiedSshd } from "./faultEnv";
import type { ProxiedSshd } from "./faultEnv";

const tally = new FaultTally(import.meta.filename);
const work = mkdtempSync(join(tmpdir(), "zones-faults-term-"));
let devHost: StartedDevHost;
let env: ProxiedSshd;
let host: ProtectHost;
const states: Parameters<typeof openThroughProxy>[2] = [];
let zoneId: string;
let digest: string;

before(async () => {
  devHost = await startDevHost();
  env = await startProxiedSshd();
  host = await openThroughProxy(env, devHost.socketPath, states);
  ({ digest } = await importTestImage(host, join(work, "image")));
  zoneId = await host.createZone({ name: "terminals" });
  await host.waitForZone(zoneId, (z) => z?.status?.state === ZoneState.READY, { timeoutMs: 60_000 });
});

after(async () => {
  try {
    env.proxy.resume();
    env.proxy.refuse(false);
    await host.destroyZone(zoneId).catch(() => {});
    await host.waitForZone(zoneId, (z) => z === undefined, { timeoutMs: 60_000 }).catch(() => {});
  } finally {
    host.close();
    await env.stop();
    await devHost.stop();
    rmSync(work, { recursive: true, force: true });
    tally.print();
  }
});

/** An exec session whose output is collected as text, with a way to wait for a piece of it. */
function terminal(
  command: string[],
  tty = true,
): {
  session: ExecSession;
  output: () => string;
  waitFor: (text: string, timeoutMs?: number) => Promise<void>;
} {
  let out = "";
  const session = startExec(
    host,
    { zoneId, command, ...(tty ? { tty: { rows: 24, columns: 100 } } : {}) },
    {
      onStdout: (d) => (out += Buffer.from(d).toString("utf8")),
      onStderr: (d) => (out += Buffer.from(d).toString("utf8")),
    },
  );
  return {
    session,
    output: () => out,
    waitFor: (text, timeoutMs = 30_000) =>
      eventually(
        `'${text}' in the terminal (got ${JSON.stringify(out.slice(-200))})`,
        () => out.includes(text),
        timeoutMs,
      ),
  };
}

async function connected(): Promise<void> {
  await eventually(
    "the SSH connection to be back",
    () => states.length > 0 && states[states.length - 1]!.state === "connected",
  );
}

describe("a dropped connection under a terminal", () => {
  test("an exec TTY learns of the drop at once, typed as a loss; a new terminal after the reconnect works", async () => {
    const t = terminal(["sh"]);
    t.session.write("echo before-$((40+2))\n");
    await t.waitFor("before-42");
    const outcome = t.session.exited.then(
      (code) => ({ code, err: undefined, at: performance.now() }),
      (err: unknown) => ({ code: undefined, err, at: performance.now() }),
    );
    const droppedAt = performance.now();
    assert.ok(env.proxy.drop() > 0);
    tally.injected("drop under a terminal");
    const ended = await outcome;
    assert.equal(ended.code, undefined, "the session claimed a normal exit after its connection died");
    assert.ok(
      ProtectError.is(ended.err, "lost") || ProtectError.is(ended.err, "unreachable"),
      `untyped or wrong: ${String(ended.err)}`,
    );
    const reportedMs = ended.at - droppedAt;
    console.log(`terminal told of the drop after ${Math.round(reportedMs)} ms`);
    assert.ok(reportedMs < 2_000, `the terminal learned of the drop after ${Math.round(reportedMs)} ms`);

    await connected();
    const again = terminal(["sh", "-c", 'read line; echo "after-$line"; exit 7']);
    again.session.write("42\n");
    await again.waitFor("after-42");
    assert.equal(await again.session.exited, 7);
    tally.recovered("drop under a terminal");
  });

  test("a workload console re-attached after a drop replays what was printed meanwhile: no line lost or doubled", async () => {
    const workloadId = await host.createWorkload({
      name: "ticker",
      zoneId,
      image: { digest },
      process: {
        command: ["sh", "-c", "i=0; while [ $i -lt 100000 ]; do echo tick-$i; i=$((i+1)); sleep 0.05; done"],
      },
    });
    await host.startWorkload(workloadId);
    try {
      await eventually(
        "the ticker to run",
        async () => (await host.getWorkload(workloadId)).status?.state === WorkloadState.RUNNING,
      );
      let first = "";
      const attached = new WorkloadConsole(host, workloadId, {
        onStdout: (d) => (first += Buffer.from(d).toString("utf8")),
      });
      await eventually("ticks on the first attach", () => /tick-5\n/.test(first));
      const ended = attached.ended.then(
        () => undefined,
        (err: unknown) => err,
      );
      env.proxy.refuse(true);
      env.proxy.drop();
      tally.injected("drop under a console");
      const err = await ended;
      assert.ok(
        ProtectError.is(err, "lost") || ProtectError.is(err, "unreachable"),
        `the console did not report the loss: ${String(err)}`,
      );
      await new Promise((r) => setTimeout(r, 1_000)); // the workload keeps printing while nobody listens
      env.proxy.refuse(false);
      await connected();

      let second = "";
      const again = new WorkloadConsole(host, workloadId, {
        onStdout: (d) => (second += Buffer.from(d).toString("utf8")),
      });
      const lastBefore = Math.max(...[...first.matchAll(/tick-(\d+)\n/g)].map((m) => Number(m[1])));
      await eventually("ticks printed after the re-attach", () =>
        new RegExp(`tick-${lastBefore + 30}\\n`).test(second),
      );
      again.detach();
      // The replay holds the workload's whole history: every tick from 0, in order, once.
      const ticks = [...second.matchAll(/tick-(\d+)\n/g)].map((m) => Number(m[1]));
      const lost = ticks.filter((n, i) => n !== i).length;
      tally.lost("drop under a console", lost);
      assert.equal(lost, 0, `ticks out of order, missing or doubled: ${ticks.slice(0, 50).join(",")}…`);
      assert.ok(ticks.length > lastBefore + 20, "the re-attach did not cover the time disconnected");
      tally.recovered("drop under a console");
    } finally {
      await host.destroyWorkload(workloadId).catch(() => {});
    }
  });
});

// Found by this suite (dash exited 2 after `exit N`: its tty process group was a host pid); fixed in 7b0d13e.
test("an interactive shell in a TTY reports the code `exit N` gave", async () => {
  const t = terminal(["sh"]);
  t.session.write("echo ready; exit 7\n");
  await t.waitFor("ready");
  assert.equal(await t.session.exited, 7, t.output());
});

// Found by the bench (a TTY command's last few KB were lost at exit, exit 0); fixed in 7b0d13e.
test("a TTY command's whole output arrives before its exit status (10 runs)", async () => {
  const short: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t = terminal(["sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x; echo; echo END-MARK"]);
    assert.equal(await t.session.exited, 0);
    const got = Buffer.byteLength(t.output());
    if (!t.output().endsWith("END-MARK\r\n")) short.push(100_012 - got);
  }
  assert.deepEqual(short, [], "runs that lost the end of their output (bytes missing)");
});

// Found by the bench (100 MiB through a TTY over SSH ended in "Premature close"); fixed on the
// client side in 0cd8140 (protect transport reads a complete response the server closed first).
test("20 MB of TTY output through an exec session ends with its exit code, not 'Premature close' (2 runs)", async () => {
  for (let i = 0; i < 2; i++) {
    const session = startExec(
      host,
      {
        zoneId,
        command: ["sh", "-c", "head -c 20000000 /dev/zero | tr '\\0' y"],
        tty: { rows: 24, columns: 80 },
      },
      { onStdout: () => undefined },
    );
    assert.equal(await session.exited, 0);
  }
});

describe("load on one connection", () => {
  test("20 concurrent interactive terminals: each answers its own input and reports its own exit code", async () => {
    const connectionsBefore = env.proxy.stats.connections;
    // Each reads a line typed into its PTY, answers, then exits with a code of its own.
    const terms = Array.from({ length: 20 }, (_, i) =>
      terminal(["sh", "-c", `read n; echo "term-${i}-$((n*1000+7))"; read code; exit "$code"`]),
    );
    terms.forEach((t, i) => t.session.write(`${i}\n`));
    await Promise.all(terms.map((t, i) => t.waitFor(`term-${i}-${i * 1000 + 7}`, 90_000)));
    terms.forEach((t, i) => t.session.write(`${i + 1}\n`));
    const codes = await Promise.all(terms.map((t) => t.session.exited));
    assert.deepEqual(
      codes,
      terms.map((_, i) => i + 1),
    );
    // Another terminal's output never leaks into this one.
    terms.forEach((t, i) => assert.doesNotMatch(t.output(), new RegExp(`term-(?!${i}-)\\d+-\\d+`)));
    assert.equal(env.proxy.stats.connections, connectionsBefore, "the terminals opened more SSH connections");
  });

  test("20 concurrent 1 MiB echo streams: every byte back in order, client memory bounded", async () => {
    const sizeEach = 1 << 20;
    const rounds = 3;
    const heap: number[] = [];
    const rss: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const inputs = Array.from({ length: 20 }, () => randomBytes(sizeEach));
      const results = await Promise.all(
        inputs.map(async (input) => {
          const hash = createHash("sha256");
          let received = 0;
          const session = startExec(
            host,
            { zoneId, command: ["cat"] },
            { onStdout: (d) => (hash.update(d), (received += d.length)) },
          );
          for (let off = 0; off < input.length; off += 64 * 1024) {
            session.write(input.subarray(off, off + 64 * 1024));
            await session.drained();
          }
          session.endInput();
          const code = await session.exited;
          return {
            code,
            received,
            same: hash.digest("hex") === createHash("sha256").update(input).digest("hex"),
          };
        }),
      );
      const bad = results.filter((r) => r.code !== 0 || r.received !== sizeEach || !r.same).length;
      tally.lost("20 bulk streams", bad);
      assert.equal(
        bad,
        0,
        JSON.stringify(
          results.filter((r) => !r.same || r.code !== 0).map((r) => ({ code: r.code, received: r.received })),
        ),
      );
      heap.push(process.memoryUsage().heapUsed);
      rss.push(process.memoryUsage().rss);
    }
    const mib = (n: number): string => (n / 2 ** 20).toFixed(1);
    console.log(
      `client after each round of 20 × 1 MiB echoes: heap ${heap.map(mib).join(", ")} MiB; rss ${rss.map(mib).join(", ")} MiB`,
    );
    // 60 MiB went each way; a client that kept what it relayed would grow by that much per round.
    assert.ok(
      heap[rounds - 1]! - heap[0]! < 40 * 2 ** 20,
      `heap grew from ${mib(heap[0]!)} to ${mib(heap[rounds - 1]!)} MiB`,
    );
    assert.ok(rss[rounds - 1]! < 1024 * 2 ** 20, `rss ${mib(rss[rounds - 1]!)} MiB`);
  });
});
