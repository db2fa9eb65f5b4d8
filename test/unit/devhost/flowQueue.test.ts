import { test } from "node:test";
import assert from "node:assert/strict";
import { FlowQueue } from "../../../extension/devhost/flowQueue";

/** A producer that records when it was asked to pause and resume. */
function recorder(): { calls: string[]; pause(): void; resume(): void } {
  const calls: string[] = [];
  return { calls, pause: () => calls.push("pause"), resume: () => calls.push("resume") };
}

test("pauses the producer above the high mark and resumes it once the consumer took the backlog below the low mark", async () => {
  const producer = recorder();
  const queue = new FlowQueue<Buffer>((b) => b.length, producer, { high: 100, low: 40 });
  for (let i = 0; i < 5; i++) queue.push(Buffer.alloc(30, i)); // 150 bytes: over the high mark at the 4th
  assert.deepEqual(producer.calls, ["pause"]);
  assert.equal(queue.held, 150);

  const it = queue[Symbol.asyncIterator]();
  const seen: number[] = [];
  for (let i = 0; i < 5; i++) {
    const next = await it.next();
    assert.equal(next.done, false);
    seen.push(next.value[0]!);
    // An item counts as taken only when the next one is asked for.
    // Asking for item i means items 0…i-1 were taken: 150, 120, 90, 60 bytes held; then 30.
    if (i < 4) assert.deepEqual(producer.calls, ["pause"], `still paused when item ${i} was asked for`);
  }
  assert.deepEqual(producer.calls, ["pause", "resume"]);
  assert.deepEqual(seen, [0, 1, 2, 3, 4], "order is kept");
  queue.end();
  assert.equal((await it.next()).done, true);
});

test("a consumer that stops early does not leave the producer paused; items after end are dropped", async () => {
  const producer = recorder();
  const queue = new FlowQueue<Buffer>((b) => b.length, producer, { high: 10, low: 5 });
  queue.push(Buffer.alloc(20));
  queue.push(Buffer.alloc(20));
  assert.deepEqual(producer.calls, ["pause"]);
  for await (const item of queue) {
    assert.equal(item.length, 20);
    break;
  }
  assert.deepEqual(producer.calls, ["pause", "resume"]);
  queue.push(Buffer.alloc(5));
  assert.equal(queue.held, 40, "nothing is added after the consumer left (the queue ended)");
});

test("zero-size items (an exit status) never pause, and a failure reaches the consumer after the queued items", async () => {
  const producer = recorder();
  const queue = new FlowQueue<{ bytes: number }>((i) => i.bytes, producer, { high: 10, low: 5 });
  queue.push({ bytes: 0 });
  queue.push({ bytes: 3 });
  queue.fail(new Error("connection refused"));
  const got: number[] = [];
  await assert.rejects(
    (async () => {
      for await (const item of queue) got.push(item.bytes);
    })(),
    /connection refused/,
  );
  assert.deepEqual(got, [0, 3]);
  assert.deepEqual(producer.calls, []);
});
