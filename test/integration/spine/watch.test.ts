// WatchEvents through a real sshd to the real dev host, and what happens when the SSH
// connection dies mid-watch: reconnect, re-list, no zone lost or counted twice.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ProtectHost } from "../../../extension/core/protect/host";
import type { HostEvent } from "../../../extension/core/protect/host";
import type { SshConnectionState } from "../../../extension/core/ssh/managed";
import { ZoneState } from "../../../extension/proto/gen/protect/control/v1/common_pb";
import type { Zone } from "../../../extension/proto/gen/protect/control/v1/common_pb";
import { startDevHost } from "../../harness/devHost";
import type { StartedDevHost } from "../../harness/devHost";
import { startSshd } from "../../harness/sshd";
import type { Sshd } from "../../harness/sshd";

let devHost: StartedDevHost;
let direct: ProtectHost;
const created: string[] = [];

before(async () => {
  devHost = await startDevHost();
  direct = await ProtectHost.open(`unix://${devHost.socketPath}`);
});

after(async () => {
  try {
    for (const id of created) await direct.destroyZone(id).catch(() => {});
    for (const id of created)
      await direct.waitForZone(id, (z) => z === undefined, { timeoutMs: 60_000 }).catch(() => {});
  } finally {
    direct.close();
    await devHost.stop();
  }
});

async function createReadyZone(name: string): Promise<string> {
  const id = await direct.createZone({ name });
  created.push(id);
  await direct.waitForZone(id, (z) => z?.status?.state === ZoneState.READY, { timeoutMs: 60_000 });
  return id;
}

/** A consumer of watch(): keeps the model a tree view would, and lets the test wait for conditions. */
class WatchRecorder {
  readonly events: HostEvent[] = [];
  readonly model = new Map<string, Zone>();
  #waiters: { check: () => boolean; resolve: () => void }[] = [];
  readonly done: Promise<void>;
  readonly #controller = new AbortController();

  constructor(host: ProtectHost) {
    this.done = (async () => {
      for await (const ev of host.watch(this.#controller.signal)) {
        this.events.push(ev);
        if (ev.type === "resync") {
          this.model.clear();
          for (const z of ev.zones) this.model.set(z.id, z);
        } else if (ev.type === "zone") {
          if (ev.zone.status?.state === ZoneState.DESTROYED) this.model.delete(ev.zone.id);
          else this.model.set(ev.zone.id, ev.zone);
        }
        this.#waiters = this.#waiters.filter((w) => (w.check() ? (w.resolve(), false) : true));
      }
    })();
  }

  until(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(`timed out waiting for ${what}; events: ${this.events.map((e) => e.type).join(", ")}`),
          ),
        timeoutMs,
      );
      this.#waiters.push({
        check,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  resyncs(): Extract<HostEvent, { type: "resync" }>[] {
    return this.events.filter((e): e is Extract<HostEvent, { type: "resync" }> => e.type === "resync");
  }

  async stop(): Promise<void> {
    this.#controller.abort();
    await this.done;
  }
}

async function openOverSsh(sshd: Sshd, states: string[], initialDelayMs: number): Promise<ProtectHost> {
  const host = await ProtectHost.open(sshd.alias, {
    configFile: sshd.sshConfigPath,
    env: {},
    socketPath: devHost.socketPath,
    keepaliveIntervalMs: 1_000,
    keepaliveCountMax: 2,
    reconnect: { initialDelayMs, maxAttempts: 8 },
  });
  host.onDidChangeState((s: SshConnectionState) => states.push(s.state));
  return host;
}

describe("watch over SSH", () => {
  test("a zone created via the API shows up in the WatchEvents stream, CREATING to READY", async () => {
    const sshd = await startSshd();
    const host = await openOverSsh(sshd, [], 200);
    const rec = new WatchRecorder(host);
    try {
      await rec.until("the first resync", () => rec.resyncs().length === 1);
      const id = await direct.createZone({ name: "watch-new" });
      created.push(id);
      await rec.until(
        "the zone to be READY in the stream",
        () => rec.model.get(id)?.status?.state === ZoneState.READY,
      );
      const states = rec.events
        .filter((e) => e.type === "zone" && e.zone.id === id)
        .map((e) => (e.type === "zone" ? e.zone.status?.state : undefined));
      assert.equal(states[states.length - 1], ZoneState.READY);
      assert.ok(states.length >= 2, `expected several state changes, got ${states.join(",")}`);
      assert.equal(rec.model.get(id)?.spec?.name, "watch-new");
    } finally {
      await rec.stop();
      host.close();
      await sshd.stop();
    }
  });

  test("killing the SSH connection mid-watch: reconnect, re-list, no zone lost or duplicated", async () => {
    const sshd = await startSshd();
    const states: string[] = [];
    // A long first backoff leaves a window in which a zone is created while we are disconnected.
    const host = await openOverSsh(sshd, states, 1_500);
    const rec = new WatchRecorder(host);
    try {
      const a = await createReadyZone("watch-a");
      await rec.until("a resync or event with zone a", () => rec.model.has(a));

      assert.ok((await sshd.killSessions()) > 0, "no sshd session to kill");
      await rec.until("the disconnected event", () => rec.events.some((e) => e.type === "disconnected"));
      // Created while the watch is down: only the re-list can tell us about it.
      const b = await direct.createZone({ name: "watch-b" });
      created.push(b);

      await rec.until("the resync after reconnecting", () =>
        rec.resyncs().some((r) => r.reason === "reconnect"),
      );
      const resync = rec.resyncs().find((r) => r.reason === "reconnect")!;
      const ids = resync.zones.map((z) => z.id);
      assert.equal(new Set(ids).size, ids.length, "a zone appears twice in the re-list");
      assert.ok(ids.includes(a), "zone a was lost");
      assert.ok(ids.includes(b), "zone b (created while disconnected) was lost");

      // The stream works again after the reconnect.
      await rec.until(
        "zone b READY through the new stream",
        () => rec.model.get(b)?.status?.state === ZoneState.READY,
        60_000,
      );
      const c = await createReadyZone("watch-c");
      await rec.until(
        "zone c through the new stream",
        () => rec.model.get(c)?.status?.state === ZoneState.READY,
      );

      // The consumer's model equals the host's truth.
      const truth = (await direct.listZones()).map((z) => z.id).sort();
      assert.deepEqual([...rec.model.keys()].sort(), truth);
      // The connection went through the states a UI would show.
      const afterLoss = states.slice(states.indexOf("lost"));
      assert.deepEqual(afterLoss.slice(0, 2), ["lost", "reconnecting"], states.join(" → "));
      assert.equal(afterLoss[afterLoss.length - 1], "connected", states.join(" → "));
    } finally {
      await rec.stop();
      host.close();
      await sshd.stop();
    }
  });

  test("30 concurrent calls over the exec bridge fit in MaxSessions 3: one bridge carries them all", async () => {
    const sshd = await startSshd({
      config: { AllowTcpForwarding: "no", MaxSessions: "3", LogLevel: "DEBUG1" },
    });
    const host = await openOverSsh(sshd, [], 200);
    try {
      const replies = await Promise.all(Array.from({ length: 30 }, () => host.status()));
      assert.equal(replies.length, 30);
      assert.ok(replies.every((r) => r.protectVersion === replies[0]!.protectVersion));
      assert.equal(host.route, "bridge");
      const bridges = sshd
        .logs()
        .split("\n")
        .filter((l) => /session_input_channel_req: session \d+ req exec/.test(l)).length;
      // The no-delay exec, the socket probe, the bridge: never one per call.
      assert.ok(bridges <= 3, `${bridges} exec channels for 30 calls`);
    } finally {
      host.close();
      await sshd.stop();
    }
  });

  test("an sshd restart: calls made while reconnecting wait for the new connection", async () => {
    const sshd = await startSshd();
    const states: string[] = [];
    const host = await openOverSsh(sshd, states, 200);
    try {
      const before = await host.listZones();
      const restarted = sshd.restart();
      // Issued while the connection is down: it waits for the reconnect instead of failing.
      await new Promise((r) => setTimeout(r, 100));
      const during = host.listZones();
      await restarted;
      const zones = await during;
      assert.deepEqual(zones.map((z) => z.id).sort(), before.map((z) => z.id).sort());
      assert.ok(states.includes("lost") && states[states.length - 1] === "connected", states.join(" → "));
    } finally {
      host.close();
      await sshd.stop();
    }
  });
});
