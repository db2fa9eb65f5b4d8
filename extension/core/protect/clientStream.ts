/**
 * Guards for the HTTP/2 client streams Connect's Node client runs each call on, so that a
 * complete response is never reported as failed.
 *
 * Connect reads a response through the stream's own async iterator, and that iterator (via
 * `stream.finished`) misjudges HTTP/2 client streams whose response is complete:
 *
 * 1. When the server ends its response while our request side is still open, nghttp2 closes
 *    the stream (the server's RST_STREAM NO_ERROR, as RFC 9113 §8.1 allows) and Node emits
 *    `'aborted'` on it. `finished` treats `'aborted'` as a close and fails unless the reader
 *    has already emitted `'end'` — though END_STREAM and every byte sit in the read buffer.
 *    Every Node version; rare on a local socket, routine over SSH, where a batch of frames
 *    arrives at once (bidi calls: ExecuteZoneCommand ending right after `exited`).
 * 2. Node 24.20+ and 26.3+ (nodejs/node#65677) decide when iteration starts: a stream that
 *    nghttp2 already closed (Http2Stream.closed) while its data is still buffered fails at
 *    once. Over a socket that is a JS Duplex (our SSH channel, wrapped by Node's
 *    JSStreamSocket) the response headers, data, trailers and the stream's close are all
 *    delivered in one synchronous pass with no microtask turn between them, so Connect always
 *    starts iterating after the close: a third of unary calls failed on Node 24 over SSH.
 *    Over a native socket each nghttp2 callback is its own turn and Connect starts in time.
 *
 * And on the request side: once the server has closed the stream, Node has ended our writable
 * side, so the next request message (a keystroke typed as the process exits) is a write after
 * end, and Node's Writable destroys the whole stream for it — the buffered response with it.
 * Connect expects that write to fail alone (it ignores ERR_STREAM_WRITE_AFTER_END on an ended
 * stream precisely so that the reading side is not affected).
 */
import type { Readable, Writable } from "node:stream";

function prematureClose(): Error {
  // Node's own iterator raises this for a stream destroyed before its end; same code, same mapping in Connect.
  return Object.assign(new Error("Premature close"), { code: "ERR_STREAM_PREMATURE_CLOSE" });
}

/**
 * Reads `stream` to its end: every buffered chunk, then done on `'end'`; the stream's own error
 * if it has one; a premature close only when the stream was destroyed before its end (its
 * buffered data discarded). A response cut short without an error still fails further up:
 * gRPC requires trailers and Connect checks for them. Like Node's iterator, it destroys the
 * stream when reading stops, except after a clean end while the writable side is still open
 * (a bidi call whose request side the caller has yet to close).
 */
export async function* readResponseBody(stream: Readable): AsyncGenerator<Buffer, void, undefined> {
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const resume = wake;
    wake = undefined;
    resume?.();
  };
  const events = ["readable", "end", "error", "close"] as const;
  for (const e of events) stream.on(e, notify);
  let failed = false;
  try {
    for (;;) {
      if (stream.errored) throw stream.errored;
      // A destroyed stream's buffer need not be the whole body; Node's iterator does not read it either.
      const chunk = stream.destroyed ? null : (stream.read() as Buffer | null);
      if (chunk !== null) {
        yield chunk;
        continue;
      }
      if (stream.readableEnded) return;
      if (stream.destroyed) throw prematureClose();
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    for (const e of events) stream.off(e, notify);
    const duplex = stream as Readable & Partial<Pick<Writable, "writable" | "writableEnded">>;
    const halfOpen =
      !failed && stream.readableEnded && duplex.writable === true && duplex.writableEnded !== true;
    if (!halfOpen) stream.destroy();
  }
}

type WriteCallback = (err?: Error | null) => void;

/**
 * Applies both guards to a stream Connect is about to use: its async iterator becomes
 * {@link readResponseBody}, and a write after its writable side ended fails that write's
 * callback with ERR_STREAM_WRITE_AFTER_END without destroying the stream.
 */
export function guardClientStream(stream: Readable & Writable): void {
  Object.defineProperty(stream, Symbol.asyncIterator, {
    configurable: true,
    writable: true,
    value: () => readResponseBody(stream),
  });
  const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  Object.defineProperty(stream, "write", {
    configurable: true,
    writable: true,
    value: (chunk: unknown, encodingOrCallback?: unknown, maybeCallback?: unknown): boolean => {
      if (!stream.writableEnded || stream.destroyed) return write(chunk, encodingOrCallback, maybeCallback);
      const callback = (typeof encodingOrCallback === "function" ? encodingOrCallback : maybeCallback) as
        WriteCallback | undefined;
      const err = Object.assign(new Error("write after end"), { code: "ERR_STREAM_WRITE_AFTER_END" });
      process.nextTick(() => callback?.(err));
      return false;
    },
  });
}
