import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import {
  MetricFormat,
  MetricNodeSchema,
  ZoneSchema,
  ZoneState,
  type MetricNode,
} from "../../../extension/proto/gen/protect/control/v1/common_pb";
import { MetricsSampler } from "../../../extension/core/metrics/sampler";
import { Column, type HistoryChange } from "../../../extension/core/metrics/history";
import { FakeClock, settle } from "./fakeClock";

const num = (value: number) => create(ValueSchema, { kind: { case: "numberValue", value } });
function memoryTree(used: number, total = 1000): MetricNode {
  return create(MetricNodeSchema, {
    name: "zone",
    children: [
      {
        name: "system",
        children: [
          {
            name: "memory",
            children: [
              { name: "total", value: num(total), format: MetricFormat.BYTES },
              { name: "used", value: num(used), format: MetricFormat.BYTES },
            ],
          },
        ],
      },
    ],
  });
}

/** A reader that records calls and answers from a script. */
class FakeReader {
  calls: { zoneId: string; signal: AbortSignal }[] = [];
  inFlight = 0;
  maxInFlightPerZone = new Map<string, number>();
  #perZone = new Map<string, number>();
  fail: Error | null = null;
  hang = false;
  used = 100;

  read = (zoneId: string, signal: AbortSignal): Promise<MetricNode | undefined> => {
    this.calls.push({ zoneId, signal });
    const n = (this.#perZone.get(zoneId) ?? 0) + 1;
    this.#perZone.set(zoneId, n);
    this.maxInFlightPerZone.set(zoneId, Math.max(this.maxInFlightPerZone.get(zoneId) ?? 0, n));
    const done = (): void => void this.#perZone.set(zoneId, (this.#perZone.get(zoneId) ?? 1) - 1);
    if (this.hang) {
      return new Promise((_resolve, reject) => {
        signal.addEventListener("abort", () => {
          done();
          reject(signal.reason as Error);
        });
      });
    }
    done();
    if (this.fail) return Promise.reject(this.fail);
    return Promise.resolve(memoryTree(this.used++));
  };

  callsFor(zoneId: string): number {
    return this.calls.filter((c) => c.zoneId === zoneId).length;
  }
}

function setup(options: { interval?: number; prometheus?: () => Promise<string | undefined> } = {}) {
  const clock = new FakeClock();
  const reader = new FakeReader();
  const sampler = new MetricsSampler({
    readZoneMetrics: reader.read,
    ...(options.prometheus ? { readPrometheus: options.prometheus } : {}),
    intervalMs: options.interval ?? 1000,
    capacity: 100,
    clock,
  });
  return { clock, reader, sampler };
}

describe("MetricsSampler", () => {
  it("samples a subscribed zone at once and then every interval", async () => {
    const { clock, reader, sampler } = setup();
    const seen: HistoryChange[] = [];
    const sub = sampler.subscribe("z1", (c) => seen.push(c));
    await settle();
    assert.equal(reader.callsFor("z1"), 1);
    await clock.advance(5000);
    assert.equal(reader.callsFor("z1"), 6);
    const history = sampler.history("z1")!;
    assert.equal(history.ring.length, 6);
    assert.equal(history.ring.valueAt(Column.memoryUsed, 5), 105);
    assert.deepEqual(history.status, { state: "ok" });
    assert.ok(seen.some((c) => c.kind === "sample"));
    sub.dispose();
    sampler.dispose();
  });

  it("reference-counts subscribers: one read per tick for many, none once all leave", async () => {
    const { clock, reader, sampler } = setup();
    const a = sampler.subscribe("z1");
    const b = sampler.subscribe("z1");
    await clock.advance(3000);
    assert.equal(reader.callsFor("z1"), 4);
    a.dispose();
    assert.ok(sampler.isSampling("z1"));
    await clock.advance(2000);
    assert.equal(reader.callsFor("z1"), 6);
    b.dispose();
    assert.equal(sampler.isSampling("z1"), false);
    assert.equal(clock.pendingTimers, 0, "no timer left running");
    await clock.advance(10_000);
    assert.equal(reader.callsFor("z1"), 6);
    assert.deepEqual(sampler.history("z1")!.status, { state: "stopped" });
    sampler.dispose();
  });

  it("keeps history across close and reopen, with a gap where nobody sampled", async () => {
    const { clock, sampler } = setup();
    let sub = sampler.subscribe("z1");
    await clock.advance(2000);
    sub.dispose();
    const before = sampler.history("z1")!.ring.length;
    assert.equal(before, 3);
    await clock.advance(60_000);
    sub = sampler.subscribe("z1");
    await clock.advance(1000);
    const ring = sampler.history("z1")!.ring;
    assert.equal(ring.length, before + 1 /* gap */ + 2);
    assert.ok(Number.isNaN(ring.valueAt(Column.memoryUsed, before)), "a gap row separates the two stretches");
    assert.ok(!Number.isNaN(ring.valueAt(Column.memoryUsed, before + 1)));
    sub.dispose();
    sampler.dispose();
  });

  it("rides out a disconnect: errors become one gap and a status, samples resume after", async () => {
    const { clock, reader, sampler } = setup();
    const statuses: string[] = [];
    const sub = sampler.subscribe("z1", (c) => c.kind === "status" && statuses.push(c.status.state));
    await clock.advance(2000);
    reader.fail = new Error("SSH connection lost");
    await clock.advance(3000);
    const history = sampler.history("z1")!;
    assert.deepEqual(history.status, {
      state: "error",
      message: "Reading metrics failed: SSH connection lost",
    });
    reader.fail = null;
    await clock.advance(2000);
    assert.deepEqual(history.status, { state: "ok" });
    assert.deepEqual(statuses, ["ok", "error", "ok"]);
    // 3 good + 1 gap + 2 good
    assert.equal(history.ring.length, 6);
    assert.ok(Number.isNaN(history.ring.valueAt(Column.memoryUsed, 3)));
    sub.dispose();
    sampler.dispose();
  });

  it("never overlaps reads of one zone, and a read that hangs times out", async () => {
    const { clock, reader, sampler } = setup();
    reader.hang = true;
    const sub = sampler.subscribe("z1");
    await clock.advance(4000);
    assert.equal(reader.callsFor("z1"), 1, "ticks skip a zone whose read is still running");
    await clock.advance(1000);
    assert.equal(reader.calls[0]!.signal.aborted, true);
    const status = sampler.history("z1")!.status;
    assert.equal(status.state, "error");
    assert.match(status.state === "error" ? status.message : "", /no reply within 5000 ms/);
    assert.equal(reader.maxInFlightPerZone.get("z1"), 1);
    sub.dispose();
    sampler.dispose();
  });

  it("aborts a read in flight when the last subscriber leaves, without recording an error", async () => {
    const { reader, sampler } = setup();
    reader.hang = true;
    const sub = sampler.subscribe("z1");
    await settle();
    sub.dispose();
    await settle();
    assert.equal(reader.calls[0]!.signal.aborted, true);
    assert.deepEqual(sampler.history("z1")!.status, { state: "stopped" });
    sampler.dispose();
  });

  it("fills per-vCPU CPU from the Prometheus endpoint when the tree has none", async () => {
    const text =
      'zone_cpu_usage_percent{cpu="0",zone_id="z1"} 90\nzone_cpu_usage_percent{cpu="1",zone_id="z1"} 30\nzone_memory_used_bytes{zone_id="z1"} 999\nhost_cpu_usage_percent{cpu="0"} 12\nhost_memory_used_bytes 5\nhost_memory_total_bytes 10\n';
    let scrapes = 0;
    const { clock, sampler } = setup({ prometheus: async () => (scrapes++, text) });
    const sub = sampler.subscribe("z1");
    await clock.advance(2000);
    const ring = sampler.history("z1")!.ring;
    const last = ring.length - 1;
    assert.equal(ring.valueAt(Column.cpu, last), 60);
    assert.equal(ring.valueAt(Column.cpuAt(0), last), 90);
    assert.equal(ring.valueAt(Column.cpuAt(1), last), 30);
    assert.equal(ring.valueAt(Column.memoryUsed, last), 102, "the tree's memory wins over the scrape's");
    assert.equal(scrapes, 2, "one scrape per tick, shared by all zones");
    sub.dispose();
    sampler.dispose();
  });

  it("samples the host view: host figures plus each zone for the stacked graphs", async () => {
    const text =
      'host_cpu_usage_percent{cpu="0"} 40\nhost_cpu_usage_percent{cpu="1"} 20\nhost_memory_used_bytes 4\nhost_memory_total_bytes 16\nzone_memory_used_bytes{zone_id="a"} 1\nzone_memory_used_bytes{zone_id="b"} 2\nzone_cpu_usage_percent{cpu="0",zone_id="a"} 5\n';
    const { clock, reader, sampler } = setup({ prometheus: async () => text });
    const sub = sampler.subscribeHost();
    await clock.advance(3000);
    const ring = sampler.hostHistory.ring;
    assert.ok(ring.length >= 3);
    const last = ring.length - 1;
    assert.equal(ring.valueAt(Column.cpu, last), 30);
    assert.equal(ring.valueAt(Column.memoryTotal, last), 16);
    assert.equal(ring.valueAt(Column.zoneMemory("b"), last), 2);
    assert.equal(
      ring.valueAt(Column.zoneCpu("a"), last),
      2.5,
      "a zone using 5 % of one vCPU is 2.5 % of a 2-CPU host",
    );
    assert.equal(reader.calls.length, 0, "the host view needs no per-zone reads");
    sub.dispose();
    assert.equal(clock.pendingTimers, 0);
    sampler.dispose();
  });

  it("says so when the host view has no Prometheus endpoint, and backs off when it is unreachable", async () => {
    const { sampler: bare } = setup();
    bare.subscribeHost();
    assert.equal(bare.hostHistory.status.state, "error");
    bare.dispose();

    let scrapes = 0;
    const { clock, sampler } = setup({ prometheus: async () => (scrapes++, undefined) });
    const sub = sampler.subscribeHost();
    await clock.advance(10_000);
    assert.equal(scrapes, 1, "an unreachable endpoint is retried only after the back-off");
    assert.match(JSON.stringify(sampler.hostHistory.status), /not reachable/);
    await clock.advance(30_000);
    assert.equal(scrapes, 2);
    // A new connection: retryPrometheusNow skips the rest of the back-off.
    await clock.advance(5_000);
    assert.equal(scrapes, 2);
    sampler.retryPrometheusNow();
    await clock.advance(1_000);
    assert.equal(scrapes, 3, "scraped at the next tick after retryPrometheusNow");
    sub.dispose();
    sampler.dispose();
  });

  it("turns zone events into limits and markers, and forgets destroyed zones", async () => {
    const { clock, sampler } = setup();
    const zone = (state: ZoneState, targetMemory = 512n) =>
      create(ZoneSchema, {
        id: "z1",
        spec: { name: "web" },
        status: {
          state,
          resourceStatus: { activeResources: { targetMemory, maxMemory: 1024n, targetCpus: 1 } },
        },
      });
    sampler.noteZone(zone(ZoneState.CREATING));
    sampler.noteZone(zone(ZoneState.READY));
    const sub = sampler.subscribe("z1");
    const history = sampler.history("z1")!;
    assert.equal(sampler.zoneName("z1"), "web");
    assert.deepEqual(
      history.markers.map((m) => m.label),
      ["READY"],
      "markers from before the panel opened are kept",
    );
    assert.equal(history.limits!.targetMemoryBytes, 512 * 1024 * 1024);
    await clock.advance(1000);
    sampler.noteZone(zone(ZoneState.READY, 768n));
    assert.equal(history.limits!.targetMemoryBytes, 768 * 1024 * 1024);
    assert.equal(history.markers.at(-1)!.kind, "resize");
    sampler.noteZone(zone(ZoneState.DESTROYED));
    assert.ok(sampler.history("z1"), "kept while a panel still shows it");
    sub.dispose();
    assert.equal(sampler.history("z1"), undefined);
    sampler.dispose();
  });

  it("changes the interval on the fly and refuses silly ones", async () => {
    const { clock, reader, sampler } = setup();
    const sub = sampler.subscribe("z1");
    await clock.advance(2000);
    sampler.setIntervalMs(250);
    await clock.advance(1000);
    assert.equal(reader.callsFor("z1"), 3 + 4);
    assert.throws(() => sampler.setIntervalMs(0), RangeError);
    sub.dispose();
    sampler.dispose();
  });

  it("samples 50 zones independently and stops every timer on dispose", async () => {
    const { clock, reader, sampler } = setup();
    const subs = Array.from({ length: 50 }, (_, i) => sampler.subscribe(`z${i}`));
    await clock.advance(3000);
    assert.equal(reader.calls.length, 200);
    assert.equal(sampler.sampledZones.length, 50);
    sampler.dispose();
    assert.equal(clock.pendingTimers, 0);
    for (const s of subs) s.dispose();
  });
});
