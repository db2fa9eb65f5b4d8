import { test } from "node:test";
import assert from "node:assert/strict";
import { AsyncQueue } from "../../extension/core/asyncQueue";

test("delivers pushed items in order, before and after the consumer waits, then ends", async () => {
  const q = new AsyncQueue<number>();
  q.push(1);
  const got: number[] = [];
  const done = (async () => {
    for await (const n of q) got.push(n);
  })();
  q.push(2);
  await new Promise((r) => setTimeout(r, 5));
  q.push(3);
  q.end();
  q.push(4);
  await done;
  assert.deepEqual(got, [1, 2, 3]);
});

test("a failure arrives after the queued items", async () => {
  const q = new AsyncQueue<string>();
  q.push("a");
  q.fail(new Error("boom"));
  const got: string[] = [];
  await assert.rejects(
    (async () => {
      for await (const s of q) got.push(s);
    })(),
    /boom/,
  );
  assert.deepEqual(got, ["a"]);
});

test("a consumer that falls too far behind is cut off instead of growing memory", async () => {
  const q = new AsyncQueue<number>(3);
  for (let i = 0; i < 5; i++) q.push(i);
  const got: number[] = [];
  await assert.rejects(
    (async () => {
      for await (const n of q) got.push(n);
    })(),
    /fell more than 3 items behind/,
  );
  assert.deepEqual(got, [0, 1, 2]);
});
