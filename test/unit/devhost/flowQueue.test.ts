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

test("items already waiting are handed over joined, like with like and up to the limit; a lone item goes at once", async () => {
  const producer = recorder();
  type Item = { stream: "out" | "err" | "end"; data: string };
  const queue = new FlowQueue<Item>((i) => i.data.length, producer, {
    batch: {
      canJoin: (a, b) => a.stream !== "end" && a.stream === b.stream,
      join: (items) => ({ stream: items[0]!.stream, data: items.map((i) => i.data).join("") }),
      limit: 6,
    },
  });
  const it = queue[Symbol.asyncIterator]();
  queue.push({ stream: "out", data: "a" });
  assert.deepEqual((await it.next()).value, { stream: "out", data: "a" }, "nothing waits for company");
  for (const [stream, data] of [
    ["out", "bb"],
    ["out", "cc"],
    ["out", "dd"],
    ["out", "e"],
    ["err", "x"],
    ["err", "y"],
    ["out", "f"],
    ["end", ""],
  ] as const)
    queue.push({ stream, data });
  queue.end();
  const got: Item[] = [];
  for (let next = await it.next(); !next.done; next = await it.next()) got.push(next.value);
  assert.deepEqual(got, [
    { stream: "out", data: "bbccdd" }, // the limit (6 bytes) stops the batch
    { stream: "out", data: "e" },
    { stream: "err", data: "xy" },
    { stream: "out", data: "f" },
    { stream: "end", data: "" },
  ]);
  assert.equal(queue.held, 0);
});

test(
  "after a bulk batch the next waits a moment, so a producer's small reads join; small batches are never held",
  { timeout: 5000 },
  async (t) => {
    // The settle timer is mocked: the reads below arrive on separate turns of the event loop
    // while the consumer waits, however slow the machine; the pause ends when the test says.
    t.mock.timers.enable({ apis: ["setTimeout"] });
    const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
    const producer = recorder();
    const queue = new FlowQueue<Buffer>((b) => b.length, producer, {
      batch: { canJoin: () => true, join: (items) => Buffer.concat(items) },
      settle: { afterBytes: 4, ms: 20 },
    });
    const it = queue[Symbol.asyncIterator]();
    // An echo: small, handed over without delay even though the next item comes later.
    queue.push(Buffer.from("k"));
    assert.equal((await it.next()).value?.toString(), "k");
    const afterEcho = it.next();
    await turn();
    queue.push(Buffer.from("x"));
    assert.equal((await afterEcho).value?.toString(), "x", "a small batch does not make the next one wait");
    // Bulk: a full read; what arrives while the consumer settles goes out as one batch.
    queue.push(Buffer.from("AAAA"));
    assert.equal((await it.next()).value?.toString(), "AAAA");
    const next = it.next();
    for (const piece of ["BBBB", "CCCC", "DD"]) {
      await turn();
      queue.push(Buffer.from(piece));
    }
    await turn();
    t.mock.timers.tick(20);
    assert.equal(
      (await next).value?.toString(),
      "BBBBCCCCDD",
      "reads that came during the pause were joined",
    );
    queue.end();
    const done = it.next();
    t.mock.timers.tick(20); // the last batch was bulk too: the consumer settles before seeing the end
    assert.equal((await done).done, true);
  },
);
