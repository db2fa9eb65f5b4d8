// The fault suite, network and daemon part: a real sshd behind the fault proxy, the real dev
// host, and ProtectHost (the facade the CLI and the extension use). Each fault is injected while
// something a user relies on is running (a watch feeding a tree, a call in flight) and the test
// checks what the user would see afterwards: same zones, nothing twice, a clear error.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ProtectError } from "../../../extension/core/protect/errors";
import { ProtectHost } from "../../../extension/core/protect/host";
import type { SshConnectionState } from "../../../extension/core/ssh/managed";
import { exitCodes } from "../../../extension/cli/errorReport";
import { ZoneState } from "../../../extension/proto/gen/protect/control/v1/common_pb";
import { startDevHost } from "../../harness/devHost";
import type { StartedDevHost } from "../../harness/devHost";
import { zonectl } from "../spine/zonectl";
import { FaultTally, WatchModel, diffIds, eventually, openThroughProxy, startProxiedSshd } from "./faultEnv";
import type { ProxiedSshd, ProxiedSshdOptions } from "./faultEnv";

const tally = new FaultTally(import.meta.filename);
const stateDir = mkdtempSync(join(tmpdir(), "zones-faults-devhost-"));
const socketPath = join(stateDir, "daemon.socket");
let devHost: StartedDevHost;
let direct: ProtectHost;

type StateLog = { state: SshConnectionState["state"]; at: number }[];

before(async () => {
  devHost = await startDevHost({ stateDir, socketPath });
  direct = await ProtectHost.open(`unix://${socketPath}`);
});

after(async () => {
  try {
    const zones = await direct.listZones().catch(() => []);
    for (const z of zones) await direct.destroyZone(z.id).catch(() => {});
    for (const z of zones)
      await direct.waitForZone(z.id, (x) => x === undefined, { timeoutMs: 60_000 }).catch(() => {});
  } finally {
    direct.close();
    await devHost.stop();
    rmSync(stateDir, { recursive: true, force: true });
    tally.print();
  }
});

/** What a test gets from `withWatchThroughProxy`. */
interface WatchThroughProxy {
  env: ProxiedSshd;
  host: ProtectHost;
  /** The tree's view of the host, fed by the watch. */
  model: WatchModel;
  /** The SSH connection's states, in order. */
  states: StateLog;
}

/**
 * A ProtectHost through sshd behind the fault proxy, with a watch running; `body` injects faults.
 * However it ends, the link is resumed and everything is stopped.
 */
async function withWatchThroughProxy(
  options: ProxiedSshdOptions,
  body: (watch: WatchThroughProxy) => Promise<void>,
): Promise<void> {
  const env = await startProxiedSshd(options);
  const states: StateLog = [];
  const host = await openThroughProxy(env, socketPath, states);
  const model = new WatchModel(host);
  try {
    await body({ env, host, model, states });
  } finally {
    env.proxy.resume();
    await model.stop();
    host.close();
    await env.stop();
  }
}

/** Restarts the dev host on the same state directory and socket (the harness waits until it answers). */
async function restartDevHost(): Promise<void> {
  await devHost.stop();
  devHost = await startDevHost({ stateDir, socketPath });
  direct.close();
  direct = await ProtectHost.open(`unix://${socketPath}`);
}

/** Waits until the model holds exactly the host's zones, each in the host's state; returns the difference left if it never does. */
async function settle(model: WatchModel, timeoutMs = 90_000): Promise<number> {
  let lost = 0;
  try {
    await eventually(
      "the watch model to match the host",
      async () => {
        const truth = await direct.listZones();
        const { missing, extra } = diffIds(
          model.zones.keys(),
          truth.map((z) => z.id),
        );
        lost = missing.length + extra.length;
        return lost === 0 && truth.every((z) => model.zones.get(z.id)?.status?.state === z.status?.state);
      },
      timeoutMs,
    );
  } catch {
    // the caller asserts on the count
  }
  return lost + model.duplicates.length;
}

describe("faults on the network between client and sshd", () => {
  test("drop during a watch, three times, with zones created and destroyed while disconnected: none lost, none twice", async () => {
    await withWatchThroughProxy({}, async ({ env, model, states }) => {
      await model.until("the first resync", () => model.resyncs().length === 1);
      const keep = await direct.createZone({ name: "drop-keep" });
      await model.until("zone drop-keep in the model", () => model.zones.has(keep));
      let doomed: string | undefined = keep;
      for (let round = 1; round <= 3; round++) {
        const resyncsBefore = model.resyncs().length;
        // Hold the reconnect off so the changes below happen while the watch cannot see them.
        env.proxy.refuse(true);
        assert.ok(env.proxy.drop() > 0, "no connection to drop");
        tally.injected("drop during watch");
        await model.until(
          `the disconnected event of round ${round}`,
          () => model.disconnects().length >= round,
        );
        await direct.createZone({ name: `drop-round-${round}` });
        if (doomed && round === 2) {
          await direct.destroyZone(doomed);
          doomed = undefined;
        }
        env.proxy.refuse(false);
        await model.until(`the resync of round ${round}`, () => model.resyncs().length > resyncsBefore);
        const lost = await settle(model);
        tally.lost("drop during watch", lost);
        assert.equal(
          lost,
          0,
          `round ${round}: zones lost or duplicated (model ${[...model.zones.keys()].join(",")})`,
        );
        tally.recovered("drop during watch");
      }
      assert.equal(model.zones.has(keep), false, "a zone destroyed while disconnected is still shown");
      assert.equal(model.resyncs().filter((r) => r.reason === "reconnect").length, 3);
      const lostStates = states.filter((s) => s.state === "lost").length;
      assert.equal(lostStates, 3, states.map((s) => s.state).join(" → "));
      assert.equal(states[states.length - 1]?.state, "connected");
    });
  });

  test("stall past keepalive: detected within ServerAliveInterval × (CountMax + 1), the call in flight fails typed, recovery after the link returns", async () => {
    await withWatchThroughProxy(
      { serverAliveInterval: 1, serverAliveCountMax: 3, connectTimeout: 2 },
      async ({ env, host, model, states }) => {
        await model.until("the first resync", () => model.resyncs().length === 1);
        await host.listZones(); // the tunnel is up and warm
        const stalledAt = performance.now();
        env.proxy.stall();
        tally.injected("stall past keepalive");
        // Issued into the black hole: it must fail once the loss is known, not sit until its deadline.
        const inFlight = host.listZones({ timeoutMs: 120_000 }).then(
          () => ({ ok: true as const, at: performance.now() }),
          (err: unknown) => ({ ok: false as const, err, at: performance.now() }),
        );
        await eventually(
          "the connection to be declared lost",
          () => states.some((s) => s.state === "lost"),
          60_000,
        );
        const detectedMs = states.find((s) => s.state === "lost")!.at - stalledAt;
        const boundMs = env.keepaliveIntervalMs * (env.keepaliveCountMax + 1);
        console.log(
          `stall detected after ${Math.round(detectedMs)} ms (ServerAliveInterval ${env.keepaliveIntervalMs} ms × CountMax ${env.keepaliveCountMax}; bound ${boundMs} ms)`,
        );
        // ssh2, like OpenSSH, counts unanswered keepalives from the last answered one, which may
        // predate the stall by up to one interval: hence CountMax + 1 intervals, plus timer slack.
        assert.ok(
          detectedMs <= boundMs + 500,
          `the stall was detected after ${Math.round(detectedMs)} ms, bound ${boundMs} ms`,
        );
        assert.ok(
          detectedMs >= env.keepaliveIntervalMs * (env.keepaliveCountMax - 1),
          `detected suspiciously early (${Math.round(detectedMs)} ms): not by keepalive?`,
        );

        const call = await inFlight;
        assert.equal(call.ok, false, "a call into a black hole succeeded");
        if (!call.ok) {
          assert.ok(
            ProtectError.is(call.err, "lost") || ProtectError.is(call.err, "unreachable"),
            `untyped or wrong error: ${String(call.err)}`,
          );
          const afterDetection = call.at - (stalledAt + detectedMs);
          assert.ok(
            afterDetection < 1_500,
            `the call failed ${Math.round(afterDetection)} ms after the loss was detected`,
          );
        }
        await model.until("the watch to report the loss", () => model.disconnects().length >= 1);

        // Still a black hole: reconnect attempts must time out (ConnectTimeout), not hang.
        await eventually(
          "a reconnect attempt into the stall to fail",
          () => states.filter((s) => s.state === "reconnecting").length >= 2,
          60_000,
        );
        env.proxy.resume();
        await model.until("the resync after the link returned", () =>
          model.resyncs().some((r) => r.reason === "reconnect"),
        );
        const lost = await settle(model);
        tally.lost("stall past keepalive", lost);
        assert.equal(lost, 0);
        assert.ok((await host.listZones()).length >= 0);
        tally.recovered("stall past keepalive");
      },
    );
  });

  test("a slow link (150 ms each way, 256 KiB/s) and a stall shorter than keepalive: no false loss, calls and the watch carry on", async () => {
    await withWatchThroughProxy(
      { serverAliveInterval: 1, serverAliveCountMax: 3 },
      async ({ env, host, model, states }) => {
        await model.until("the first resync", () => model.resyncs().length === 1);
        env.proxy.slow({ latencyMs: 150, bytesPerSecond: 256 * 1024 });
        tally.injected("slow link");
        const zone = await direct.createZone({ name: "slow-link" });
        await model.until(
          "the new zone through the slow link",
          () => model.zones.get(zone)?.status?.state === ZoneState.READY,
          90_000,
        );
        const listed = await host.listZones();
        assert.ok(listed.some((z) => z.id === zone));
        tally.recovered("slow link");

        env.proxy.slow({});
        env.proxy.stall();
        tally.injected("short stall");
        await new Promise((r) => setTimeout(r, 1_500));
        env.proxy.resume();
        assert.ok((await host.listZones()).some((z) => z.id === zone));
        assert.deepEqual(
          states.map((s) => s.state),
          [],
          "the connection changed state during a slow link or a short stall",
        );
        assert.equal(model.disconnects().length, 0);
        tally.recovered("short stall");
      },
    );
  });

  test("sshd restarted while zones change: reconnect, re-list, none lost", async () => {
    await withWatchThroughProxy({}, async ({ env, model }) => {
      await model.until("the first resync", () => model.resyncs().length === 1);
      env.proxy.refuse(true);
      await env.sshd.restart();
      tally.injected("sshd restart");
      await model.until("the disconnected event", () => model.disconnects().length >= 1);
      const during = await direct.createZone({ name: "during-sshd-restart" });
      env.proxy.refuse(false);
      await model.until("the resync after the restart", () =>
        model.resyncs().some((r) => r.reason === "reconnect"),
      );
      const lost = await settle(model);
      tally.lost("sshd restart", lost);
      assert.equal(lost, 0);
      assert.ok(model.zones.has(during));
      tally.recovered("sshd restart");
    });
  });
});

describe("faults on the host: the daemon", () => {
  test("dev host restarted: the watch reports it, retries, and the zones come back (FAILED, with the reason)", async () => {
    await withWatchThroughProxy({}, async ({ model, states }) => {
      const a = await direct.createZone({ name: "survivor-a" });
      const b = await direct.createZone({ name: "survivor-b" });
      await direct.waitForZone(a, (z) => z?.status?.state === ZoneState.READY, { timeoutMs: 60_000 });
      await direct.waitForZone(b, (z) => z?.status?.state === ZoneState.READY, { timeoutMs: 60_000 });
      await model.until("both zones READY in the model", () =>
        [a, b].every((id) => model.zones.get(id)?.status?.state === ZoneState.READY),
      );
      const before = new Set(model.zones.keys());

      await restartDevHost();
      tally.injected("dev host restart");
      await model.until(
        "the resync after the daemon came back",
        () => model.resyncs().some((r) => r.reason === "reconnect"),
        90_000,
      );
      const disconnect = model.disconnects()[0];
      assert.ok(disconnect, "the watch did not report the daemon going away");
      assert.ok(ProtectError.is(disconnect.error), `untyped: ${String(disconnect.error)}`);

      const resync = model.resyncs().find((r) => r.reason === "reconnect")!;
      const ids = resync.zones.map((z) => z.id);
      const lost = [...before].filter((id) => !ids.includes(id)).length + (ids.length - new Set(ids).size);
      tally.lost("dev host restart", lost);
      assert.equal(lost, 0, "zones vanished or doubled across the daemon restart");
      for (const id of [a, b]) {
        const z = resync.zones.find((x) => x.id === id)!;
        const state = z.status?.state;
        assert.ok(
          state === ZoneState.READY || state === ZoneState.FAILED,
          `zone ${z.spec?.name} came back ${ZoneState[state ?? 0]}`,
        );
        if (state === ZoneState.FAILED) assert.match(z.status?.errorStatus?.message ?? "", /restart/i);
      }
      // SSH itself was fine all along: only the daemon went away.
      assert.equal(states.filter((s) => s.state === "lost").length, 0);
      tally.recovered("dev host restart");
    });
  });

  test("daemon socket removed: zonectl says so in one line (exit 20); a watch retries until the daemon is back", async () => {
    await withWatchThroughProxy({}, async ({ env, model }) => {
      await model.until("the first resync", () => model.resyncs().length === 1);
      unlinkSync(socketPath);
      tally.injected("daemon socket removed");

      const ls = await zonectl(["--host", env.alias, "ls"], {
        ZONECTL_SSH_CONFIG: env.configFile,
        ZONECTL_SOCKET: socketPath,
      });
      assert.equal(ls.code, exitCodes.socketMissing, ls.stderr);
      const lines = ls.stderr.trim().split("\n");
      assert.equal(lines.length, 1, `not one line: ${ls.stderr}`);
      assert.ok(lines[0]!.includes(socketPath), lines[0]);
      assert.match(lines[0]!, /does not exist/);

      // The open HTTP/2 session still reaches the daemon; a new one (after a drop) cannot.
      env.proxy.drop();
      await model.until(
        "two failed re-subscriptions naming the missing socket",
        () =>
          model
            .disconnects()
            .filter(
              (d) =>
                ProtectError.is(d.error, "unreachable") && d.error.details.unreachable === "socketMissing",
            ).length >= 2,
      );
      const said = model.disconnects().find((d) => ProtectError.is(d.error, "unreachable"))!.error.message;
      assert.ok(said.includes(socketPath), said);

      await restartDevHost();
      await model.until(
        "the resync once the socket is back",
        () => model.resyncs().some((r) => r.reason === "reconnect"),
        90_000,
      );
      const lost = await settle(model);
      tally.lost("daemon socket removed", lost);
      assert.equal(lost, 0);
      tally.recovered("daemon socket removed");
    });
  });
});
