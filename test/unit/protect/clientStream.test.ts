// The HTTP/2 client-stream guards (core/protect/clientStream.ts): complete responses are read in
// full whatever order Node closes the stream in, real failures still fail. Real node:http2 on a
// unix socket for the orderings a server produces; plain streams for the rest.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import * as http2 from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Duplex, Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { guardClientStream, readResponseBody } from "../../../extension/core/protect/clientStream";

const chunkCount = 8;
const chunkBytes = 1000;

describe("a response the server ends while our request side is still open", () => {
  let dir: string;
  let server: http2.Http2Server;
  let session: http2.ClientHttp2Session;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "client-stream-"));
    server = http2.createServer();
    server.on("stream", (stream) => {
      // Like a gRPC server whose handler returned: headers, several DATA frames, trailers, done —
      // without waiting for the client's END_STREAM (Node then resets our half with NO_ERROR).
      stream.respond({ ":status": 200 }, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      for (let i = 0; i < chunkCount; i++) stream.write(Buffer.alloc(chunkBytes, i));
      stream.end();
    });
    await new Promise<void>((r) => server.listen(join(dir, "s"), r));
    session = http2.connect("http://x", { path: join(dir, "s") } as http2.SecureClientSessionOptions);
    session.on("error", () => {});
  });
  after(async () => {
    session.destroy();
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  const request = (): http2.ClientHttp2Stream => {
    const stream = session.request({ ":path": "/", ":method": "POST" }, { endStream: false });
    guardClientStream(stream);
    return stream;
  };

  test("reading that starts only after the stream closed still gets every byte", async () => {
    const stream = request();
    stream.on("error", () => {});
    // Wait until nghttp2 has closed the stream with the whole body still in the read buffer:
    // the moment Connect starts iterating over an SSH channel.
    await new Promise<void>((r) => stream.once("aborted", () => r()));
    assert.equal(stream.closed, true);
    assert.ok(stream.readableLength > 0, "data is buffered when reading starts");
    let bytes = 0;
    for await (const chunk of stream as AsyncIterable<Buffer>) bytes += chunk.length;
    assert.equal(bytes, chunkCount * chunkBytes);
  });

  test("a slow reader gets every byte while the stream closes under it", async () => {
    const stream = request();
    stream.on("error", () => {});
    await new Promise<void>((r) => stream.once("response", () => r()));
    let bytes = 0;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      await new Promise((r) => setTimeout(r, 5)); // the trailers and the reset land meanwhile
    }
    assert.equal(bytes, chunkCount * chunkBytes);
  });

  test("a request write after the server closed the stream fails alone; the response stays readable", async () => {
    const stream = request();
    stream.on("error", () => {});
    await new Promise<void>((r) => stream.once("aborted", () => r()));
    assert.equal(
      stream.writableEnded,
      true,
      "Node ended our writable side when the server closed the stream",
    );
    const err = await new Promise<Error | null | undefined>((r) =>
      stream.write(Buffer.from("late keystroke"), r),
    );
    assert.equal((err as NodeJS.ErrnoException | undefined)?.code, "ERR_STREAM_WRITE_AFTER_END");
    assert.equal(stream.destroyed, false);
    let bytes = 0;
    for await (const chunk of stream as AsyncIterable<Buffer>) bytes += chunk.length;
    assert.equal(bytes, chunkCount * chunkBytes);
  });
});

describe("readResponseBody", () => {
  test("a stream destroyed before its end fails with a premature close, not a clean end", async () => {
    const stream = new Readable({ read() {} });
    stream.push(Buffer.from("partial"));
    const chunks: string[] = [];
    const reading = (async () => {
      for await (const c of readResponseBody(stream)) {
        chunks.push(c.toString());
        setImmediate(() => stream.destroy());
      }
    })();
    await assert.rejects(reading, (e: NodeJS.ErrnoException) => e.code === "ERR_STREAM_PREMATURE_CLOSE");
    assert.deepEqual(chunks, ["partial"]);
  });

  test("the stream's own error is what the reader throws", async () => {
    const stream = new Readable({ read() {} });
    const boom = Object.assign(new Error("channel lost"), { code: "ECONNREFUSED" });
    setImmediate(() => stream.destroy(boom));
    await assert.rejects(
      (async () => {
        for await (const _ of readResponseBody(stream)) assert.fail("no data was sent");
      })(),
      (e) => e === boom,
    );
  });

  test("after a clean end the stream is destroyed, unless its writable side is still open", async () => {
    const make = (): Duplex =>
      new Duplex({
        read() {},
        write(_c, _e, cb) {
          cb();
        },
      });
    const open = make();
    open.push("a");
    open.push(null);
    for await (const _ of readResponseBody(open)) {
      // drain
    }
    assert.equal(open.destroyed, false, "a bidi call's request side stays usable after the response ended");

    const ended = make();
    ended.end();
    ended.push("a");
    ended.push(null);
    for await (const _ of readResponseBody(ended)) {
      // drain
    }
    assert.equal(ended.destroyed, true);
  });

  test("a reader that stops early destroys the stream (nothing left half-read)", async () => {
    const stream = new Readable({ read() {} });
    stream.push("one");
    stream.push("two");
    for await (const _ of readResponseBody(stream)) break;
    assert.equal(stream.destroyed, true);
  });
});
