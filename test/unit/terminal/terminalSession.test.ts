import assert from "node:assert/strict";
import { PassThrough, Writable } from "node:stream";
import { test } from "node:test";
import { ProtectError } from "../../../extension/core/protect/errors";
import type { ExecRpc } from "../../../extension/core/terminal/execSession";
import { runTerminalSession } from "../../../extension/core/terminal/terminalSession";
import type { ExecuteZoneCommandRequest } from "../../../extension/proto/gen/protect/control/v1/control_pb";

/** A fake ExecuteZoneCommand: records every request; the script decides the replies. */
function fakeExec(
  script: (
    requests: ExecuteZoneCommandRequest[],
    next: () => Promise<ExecuteZoneCommandRequest | undefined>,
  ) => AsyncGenerator<unknown>,
): { client: ExecRpc; seen: ExecuteZoneCommandRequest[] } {
  const seen: ExecuteZoneCommandRequest[] = [];
  const client = {
    name: "fake",
    executeZoneCommand(requests: AsyncIterable<ExecuteZoneCommandRequest>) {
      const it = requests[Symbol.asyncIterator]();
      const next = async (): Promise<ExecuteZoneCommandRequest | undefined> => {
        const r = await it.next();
        if (r.done) return undefined;
        seen.push(r.value);
        return r.value;
      };
      return script(seen, next);
    },
  } as unknown as ExecRpc;
  return { client, seen };
}

/** A stdin that looks like a TTY and records raw-mode switches. */
class FakeTtyIn extends PassThrough {
  isTTY = true;
  readonly modes: boolean[] = [];
  setRawMode(raw: boolean): this {
    this.modes.push(raw);
    return this;
  }
}

class FakeTtyOut extends Writable {
  isTTY = true;
  columns = 80;
  rows = 24;
  text = "";
  override _write(chunk: Buffer, _e: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

const output = (text: string) => ({
  reply: { case: "output", value: { stdout: Buffer.from(text), stderr: new Uint8Array() } },
});
const exited = (code: number) => ({ reply: { case: "exited", value: { exitCode: code } } });

test("a TTY session: raw mode on and restored, local size sent, keystrokes and resizes forwarded, exit code returned", async () => {
  const stdin = new FakeTtyIn();
  const stdout = new FakeTtyOut();
  const stderr = new PassThrough();
  const { client, seen } = fakeExec(async function* (_seen, next) {
    const start = await next();
    assert.equal(start?.request.case, "start");
    yield output("$ ");
    // Echo keystrokes until a resize arrives, then exit with 3.
    for (;;) {
      const req = await next();
      if (!req) break;
      if (req.request.case === "stdin") yield output(Buffer.from(req.request.value.stdin).toString());
      if (req.request.case === "terminalResize") {
        yield exited(3);
        return;
      }
    }
  });
  const done = runTerminalSession(
    client,
    { zoneId: "z", workloadId: "w", command: ["/bin/sh", "-l"] },
    { stdin, stdout, stderr },
    { tty: true, stdin: true },
  );
  await new Promise((r) => setTimeout(r, 10));
  stdin.write("ls\r");
  await new Promise((r) => setTimeout(r, 10));
  stdout.columns = 132;
  stdout.rows = 40;
  stdout.emit("resize");
  assert.equal(await done, 3);
  assert.deepEqual(stdin.modes, [true, false], "raw mode switched on, then back off");
  const start = seen[0]!.request;
  assert.ok(start.case === "start");
  assert.deepEqual(
    [
      start.value.process?.tty,
      start.value.process?.terminalSize?.rows,
      start.value.process?.terminalSize?.columns,
    ],
    [true, 24, 80],
  );
  assert.deepEqual(start.value.process?.command, ["/bin/sh", "-l"]);
  assert.equal(stdout.text, "$ ls\r");
  const resize = seen.find((r) => r.request.case === "terminalResize");
  assert.ok(resize?.request.case === "terminalResize");
  assert.deepEqual([resize.request.value.size?.rows, resize.request.value.size?.columns], [40, 132]);
  assert.equal(stdin.listenerCount("data"), 0, "stdin released");
  assert.equal(stdout.listenerCount("resize"), 0, "resize listener released");
});

test("piped stdin is streamed and closed at EOF; without a TTY nothing goes raw", async () => {
  const stdin = new PassThrough();
  const stdout = new FakeTtyOut();
  stdout.isTTY = false;
  const { client, seen } = fakeExec(async function* (_seen, next) {
    await next();
    let got = "";
    for (;;) {
      const req = await next();
      if (!req) break;
      if (req.request.case === "stdin") {
        got += Buffer.from(req.request.value.stdin).toString();
        if (req.request.value.closed) break;
      }
    }
    yield output(String(got.length));
    yield exited(0);
  });
  const done = runTerminalSession(
    client,
    { zoneId: "z", command: ["wc", "-c"] },
    { stdin, stdout, stderr: new PassThrough() },
    { tty: false, stdin: true },
  );
  stdin.write("hello ");
  stdin.end("world");
  assert.equal(await done, 0);
  assert.equal(stdout.text, "11");
  const start = seen[0]!.request;
  assert.ok(
    start.case === "start" &&
      start.value.process?.tty === false &&
      start.value.process.terminalSize === undefined,
  );
  assert.ok(seen.some((r) => r.request.case === "stdin" && r.request.value.closed));
});

test("a stream that ends without an exit status is a typed error, and the terminal is restored anyway", async () => {
  const stdin = new FakeTtyIn();
  const { client } = fakeExec(async function* (_seen, next) {
    await next();
    yield output("partial");
  });
  await assert.rejects(
    runTerminalSession(
      client,
      { zoneId: "z", command: ["sh"] },
      { stdin, stdout: new FakeTtyOut(), stderr: new PassThrough() },
      { tty: true, stdin: true },
    ),
    (err: unknown) => ProtectError.is(err, "lost"),
  );
  assert.deepEqual(stdin.modes, [true, false]);
});
