import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { SeriesRing } from "../../../extension/core/metrics/ringBuffer";

const values = (a: Float64Array | undefined): number[] => [...(a ?? [])];

describe("SeriesRing", () => {
  it("keeps the newest rows once full, oldest first", () => {
    const ring = new SeriesRing(3, ["a"]);
    for (let t = 1; t <= 5; t++) ring.push(t * 1000, { a: t * 10 });
    assert.equal(ring.length, 3);
    const snap = ring.snapshot();
    assert.deepEqual(values(snap.times), [3000, 4000, 5000]);
    assert.deepEqual(values(snap.series.get("a")), [30, 40, 50]);
    assert.equal(ring.oldestTime, 3000);
    assert.equal(ring.latestTime, 5000);
  });

  it("fills columns a row does not name with NaN, including columns added later", () => {
    const ring = new SeriesRing(4, ["a"]);
    ring.push(1, { a: 1 });
    ring.push(2, { a: 2, b: 20 });
    ring.push(3, {});
    const snap = ring.snapshot();
    assert.deepEqual(values(snap.series.get("a")).map(String), ["1", "2", "NaN"]);
    assert.deepEqual(values(snap.series.get("b")).map(String), ["NaN", "20", "NaN"]);
  });

  it("answers window queries across the wrap point", () => {
    const ring = new SeriesRing(5, ["v"]);
    for (let t = 0; t < 8; t++) ring.push(t, { v: t });
    // rows 3..7 remain, physically wrapped
    assert.deepEqual(values(ring.window(4, 6).times), [4, 5, 6]);
    assert.deepEqual(values(ring.window(4, 6).series.get("v")), [4, 5, 6]);
    assert.deepEqual(values(ring.window(0, 3.5).times), [3]);
    assert.deepEqual(values(ring.window(100).times), []);
    assert.deepEqual(values(ring.window(6).times), [6, 7]);
    assert.deepEqual(
      values(ring.window(undefined, undefined, ["missing"]).series.get("missing")).map(String),
      ["NaN", "NaN", "NaN", "NaN", "NaN"],
    );
  });

  it("clamps a time that runs backwards so queries stay ordered", () => {
    const ring = new SeriesRing(4);
    ring.push(10, {});
    ring.push(5, {});
    assert.deepEqual(values(ring.snapshot().times), [10, 10]);
  });

  it("pushes in constant time: an hour of rows costs the same per push at any fill level", () => {
    const ring = new SeriesRing(3600, ["a", "b", "c", "d"]);
    const row = { a: 1, b: 2, c: 3, d: 4 };
    let t = 0;
    const time = (n: number): number => {
      const start = process.hrtime.bigint();
      for (let i = 0; i < n; i++) ring.push(t++, row);
      return Number(process.hrtime.bigint() - start) / n;
    };
    time(20_000); // warm up and wrap many times
    const perPush = time(100_000);
    assert.ok(perPush < 5_000, `push took ${perPush} ns`);
  });

  it("refuses a nonsensical capacity", () => {
    assert.throws(() => new SeriesRing(0), RangeError);
    assert.throws(() => new SeriesRing(1.5), RangeError);
  });
});
