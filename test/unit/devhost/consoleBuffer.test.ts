import { test } from "node:test";
import assert from "node:assert/strict";
import { ConsoleBuffer } from "../../../extension/devhost/consoleBuffer";

test("keeps the newest bytes up to its capacity, in order", () => {
  const buf = new ConsoleBuffer(10);
  buf.append("abcdef");
  buf.append("ghij", 2);
  buf.append("klm");
  assert.equal(buf.history().toString(), "defghijklm");
  assert.equal(buf.totalBytes, 13);
  assert.deepEqual(
    buf.historyChunks().map((c) => [c.tag, c.data.toString()]),
    [
      [1, "def"],
      [2, "ghij"],
      [1, "klm"],
    ],
  );
});

test("a 1 MiB history holds a megabyte and drops what is older", () => {
  const buf = new ConsoleBuffer();
  for (let i = 0; i < 20; i++) buf.append(Buffer.alloc(100 * 1024, 65 + i));
  const h = buf.history();
  assert.equal(h.length, 1024 * 1024);
  assert.equal(h[h.length - 1], 65 + 19);
  assert.equal(h[0], 65 + 9, "the oldest retained byte belongs to chunk 10 of 20");
});

test("followers get live chunks and one close; nothing is accepted after close", () => {
  const buf = new ConsoleBuffer();
  const seen: string[] = [];
  let closed = 0;
  buf.onData((d) => seen.push(d.toString()));
  buf.onClose(() => closed++);
  buf.append("one");
  buf.close();
  buf.close();
  buf.append("two");
  assert.deepEqual(seen, ["one"]);
  assert.equal(closed, 1);
  assert.equal(buf.history().toString(), "one", "history stays readable after close");
});
