// Malformed gRPC replies from a fault-injecting daemon: every bad answer must reach the caller
// as a typed ProtectError (never a crash, a hang until the deadline, or a silent partial
// result), and the same client must work again as soon as the daemon answers properly —
// directly on the socket, through a real sshd, and from the zonectl command line.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ProtectError } from "../../../extension/core/protect/errors";
import { ProtectHost } from "../../../extension/core/protect/host";
import type { HostEvent } from "../../../extension/core/protect/host";
import { exitCodes } from "../../../extension/cli/errorReport";
import { startSshd } from "../../harness/sshd";
import { zonectl } from "../spine/zonectl";
import { FaultTally } from "./faultEnv";
import { healthyZones, startFaultyDaemon } from "./faultyDaemon";
import type { Fault, FaultyDaemon } from "./faultyDaemon";

const tally = new FaultTally(import.meta.filename);
const dir = mkdtempSync(join(tmpdir(), "zones-faulty-"));
let daemon: FaultyDaemon;

before(async () => {
  daemon = await startFaultyDaemon(join(dir, "daemon.socket"));
});

after(async () => {
  await daemon.close();
  rmSync(dir, { recursive: true, force: true });
  tally.print();
});

const unaryFaults: Fault[] = [
  "garbage",
  "truncatedFrame",
  "truncatedHeader",
  "wrongType",
  "hugeLength",
  "compressedFlag",
  "noTrailers",
  "html502",
  "wrongContentType",
  "reset",
  "bogusStatus",
];
const deadlineMs = 20_000;

/** Runs `call` against a fault and returns the error it rejected with (failing the test if it did not). */
async function expectTypedFailure(what: string, call: () => Promise<unknown>): Promise<ProtectError> {
  const started = performance.now();
  let error: unknown;
  try {
    const result = await call();
    assert.fail(
      `${what}: succeeded with ${JSON.stringify(result, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v))}`,
    );
  } catch (err) {
    error = err;
  }
  const tookMs = performance.now() - started;
  assert.ok(ProtectError.is(error), `${what}: not a ProtectError: ${String(error)}`);
  // Waiting out the deadline is a hang with extra steps: a bad reply is known as soon as it arrives.
  assert.notEqual(error.reason, "deadline", `${what}: hung until the deadline (${Math.round(tookMs)} ms)`);
  assert.notEqual(error.reason, "cancelled", `${what}: reported as a user cancel`);
  assert.ok(tookMs < deadlineMs / 2, `${what}: took ${Math.round(tookMs)} ms`);
  assert.equal(
    error.message.split("\n").length,
    1,
    `${what}: the message is not one line: ${JSON.stringify(error.message)}`,
  );
  return error;
}

describe("malformed replies on the local socket", () => {
  test("each unary fault → a typed error; the same client works right after", async () => {
    const host = await ProtectHost.open(`unix://${daemon.socketPath}`, { deadlineMs });
    const seen: string[] = [];
    try {
      for (const fault of unaryFaults) {
        daemon.setFault("GetHostStatus", fault);
        tally.injected("malformed reply");
        const err = await expectTypedFailure(`GetHostStatus/${fault}`, () => host.status());
        seen.push(`${fault} → ${err.reason}`);
        daemon.setFault("GetHostStatus", undefined);
        const ok = await host.status();
        assert.equal(ok.hostUuid, "faulty-host", `GetHostStatus after ${fault}`);
        tally.recovered("malformed reply");
      }
      console.log(`GetHostStatus faults: ${seen.join(", ")}`);
    } finally {
      host.close();
    }
  });

  test("a streamed list that turns to garbage fails as a whole: no partial list is returned as if complete", async () => {
    const host = await ProtectHost.open(`unix://${daemon.socketPath}`, { deadlineMs });
    try {
      for (const fault of ["goodThenGarbage", "garbage", "truncatedFrame", "wrongType", "reset"] as const) {
        daemon.setFault("ListZones", fault);
        tally.injected("malformed stream");
        await expectTypedFailure(`ListZones/${fault}`, () => host.listZones());
        daemon.setFault("ListZones", undefined);
        const zones = await host.listZones();
        assert.deepEqual(zones.map((z) => z.id).sort(), healthyZones.map((z) => z.id).sort());
        tally.recovered("malformed stream");
      }
    } finally {
      host.close();
    }
  });

  test("a watch whose stream turns to garbage ends with a typed error or retries; it never yields junk", async () => {
    const host = await ProtectHost.open(`unix://${daemon.socketPath}`, { deadlineMs });
    const events: HostEvent[] = [];
    let ended: unknown = "still running";
    const controller = new AbortController();
    try {
      daemon.setFault("WatchEvents", "goodThenGarbage");
      tally.injected("malformed watch");
      const done = (async () => {
        try {
          for await (const ev of host.watch(controller.signal)) {
            events.push(ev);
            if (ev.type === "disconnected") break;
          }
          ended = undefined;
        } catch (err) {
          ended = err;
        }
      })();
      const deadline = Date.now() + 30_000;
      while (ended === "still running" && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      controller.abort();
      await done;
      assert.notEqual(
        ended,
        "still running",
        `the watch neither failed nor reported the bad stream; events: ${events.map((e) => e.type).join(",")}`,
      );
      const disconnected = events.find((e) => e.type === "disconnected");
      const error = ended ?? (disconnected?.type === "disconnected" ? disconnected.error : undefined);
      assert.ok(
        ProtectError.is(error),
        `not typed: ${error instanceof Error ? error.message : JSON.stringify(error)}`,
      );
      // What did arrive is exactly what the daemon sent before the garbage.
      for (const ev of events) if (ev.type === "zone") assert.equal(ev.zone.id, healthyZones[0]!.id);
      daemon.setFault("WatchEvents", undefined);
      assert.equal((await host.status()).hostUuid, "faulty-host");
      tally.recovered("malformed watch");
    } finally {
      controller.abort();
      daemon.setFault("WatchEvents", undefined);
      host.close();
    }
  });

  test("zonectl against a faulty daemon: one line, a daemon-error exit code, no stack, no terminal control characters", async () => {
    const runs: [Fault, string][] = [
      ["garbage", "ls"],
      ["html502", "status"],
      ["bogusStatus", "ls"],
      ["bogusStatus", "status"],
      ["truncatedFrame", "status"],
    ];
    for (const [fault, command] of runs) {
      daemon.setFault(command === "ls" ? "ListZones" : "GetHostStatus", fault);
      tally.injected("malformed reply (zonectl)");
      const r = await zonectl(["--host", `unix://${daemon.socketPath}`, command]);
      daemon.setFault(command === "ls" ? "ListZones" : "GetHostStatus", undefined);
      const what = `zonectl ${command} / ${fault}`;
      assert.notEqual(r.code, 0, `${what} succeeded: ${r.stdout}`);
      assert.notEqual(r.code, exitCodes.unexpected, `${what}: treated as an unexpected crash: ${r.stderr}`);
      assert.equal(r.stderr.trim().split("\n").length, 1, `${what}: not one line: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /\bat .+:\d+:\d+\)/, `${what}: a stack trace`);
      // A hostile daemon must not be able to write escape sequences to the user's terminal.
      const control = [...r.stderr.trimEnd()].filter(
        (c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f,
      );
      assert.deepEqual(
        control,
        [],
        `${what}: control characters reach the terminal: ${JSON.stringify(r.stderr)}`,
      );
      tally.recovered("malformed reply (zonectl)");
    }
    const ok = await zonectl(["--host", `unix://${daemon.socketPath}`, "--json", "ls"]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal((JSON.parse(ok.stdout) as unknown[]).length, healthyZones.length);
  });

  // Fixed in c87defe (toProtectError: undecodable replies are invalidReply); found by this suite.
  test("a malformed reply is reported as the daemon's fault (invalidReply), never as the caller's bad argument", async () => {
    const host = await ProtectHost.open(`unix://${daemon.socketPath}`, { deadlineMs });
    try {
      const wrong: string[] = [];
      for (const fault of [
        "garbage",
        "truncatedFrame",
        "truncatedHeader",
        "wrongType",
        "hugeLength",
        "compressedFlag",
        "noTrailers",
        "wrongContentType",
      ] as const) {
        daemon.setFault("GetHostStatus", fault);
        const err = await expectTypedFailure(`GetHostStatus/${fault}`, () => host.status());
        if (err.reason !== "invalidReply") wrong.push(`${fault} → ${err.reason}`);
      }
      assert.deepEqual(wrong, []);
    } finally {
      daemon.setFault("GetHostStatus", undefined);
      host.close();
    }
  });
});

describe("malformed replies through a real sshd", () => {
  test("over direct-streamlocal: typed errors, and the SSH connection and tunnel stay usable", async () => {
    const sshd = await startSshd();
    const host = await ProtectHost.open(sshd.alias, {
      configFile: sshd.sshConfigPath,
      env: {},
      socketPath: daemon.socketPath,
      deadlineMs,
    });
    const states: string[] = [];
    host.onDidChangeState((s) => states.push(s.state));
    try {
      assert.equal((await host.status()).hostUuid, "faulty-host");
      for (const fault of ["garbage", "hugeLength", "reset", "noTrailers", "wrongType"] as const) {
        daemon.setFault("GetHostStatus", fault);
        tally.injected("malformed reply over ssh");
        await expectTypedFailure(`ssh GetHostStatus/${fault}`, () => host.status());
        daemon.setFault("GetHostStatus", undefined);
        assert.equal((await host.status()).hostUuid, "faulty-host");
        tally.recovered("malformed reply over ssh");
      }
      assert.deepEqual(states, [], "a bad reply from the daemon cost the SSH connection");
    } finally {
      daemon.setFault("GetHostStatus", undefined);
      host.close();
      await sshd.stop();
    }
  });
});
