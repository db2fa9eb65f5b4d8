import { test } from "node:test";
import assert from "node:assert/strict";
import { startProcess } from "../../../../extension/devhost/sandbox/processes";

// A real PTY (node-pty's binding) with a reader that keeps pausing, as a slow client does:
// bulk output is read in batches beyond the stream's own reads, and those must never overtake
// what the stream buffered during a pause.
test("TTY output read under repeated pauses arrives whole and in order", async () => {
  const count = 200_000;
  // What seq prints, each \n turned into \r\n by the terminal (onlcr).
  const expected = Array.from({ length: count }, (_, i) => `${i + 1}\r\n`).join("");
  const proc = startProcess(["seq", "1", String(count)], {
    tty: { columns: 80, rows: 24 },
    stdin: false,
    env: { PATH: process.env.PATH },
  });
  const chunks: Buffer[] = [];
  let pausing = false;
  proc.onStdout((d) => {
    chunks.push(d);
    if (!pausing) {
      pausing = true;
      proc.pause();
      setTimeout(() => {
        pausing = false;
        proc.resume();
      }, 20);
    }
  });
  const exit = await proc.exited;
  assert.deepEqual(exit, { code: 0, signal: undefined });
  const got = Buffer.concat(chunks).toString();
  assert.equal(got.length, expected.length, "bytes lost or doubled");
  assert.ok(got === expected, "output out of order");
});
