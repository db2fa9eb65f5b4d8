// Reading a tar stream entry by entry, for an uploaded image archive and for image layers alike.
import { Parser, type ReadEntry } from "tar";
import { abortReason } from "../../core/abort";
import { messageOf } from "../../core/errors";
import { silentLogger, type Logger } from "../../core/log";

export interface TarStreamOptions {
  /**
   * Handles one entry. Entries are handled one at a time, in archive order, and the stream waits
   * for each; the handler must read the entry's content or `resume()` it. A throw fails the stream.
   */
  entry(entry: ReadEntry): Promise<void>;
  /** The error a stream that is not valid tar fails with (`text` is the tar library's reason). */
  invalid(text: string): Error;
  /** Bytes taken from `input` so far, after each chunk. */
  onBytes?(bytes: number): void;
  signal?: AbortSignal;
  logger?: Logger;
}

/**
 * Feeds `input` through a tar parser with backpressure, handing each entry to `options.entry`.
 * Resolves with the number of bytes read once every entry is handled; rejects with the first
 * failure (a handler's error, an invalid stream, an abort), after which the rest is skipped.
 * A missing end-of-archive marker is not a failure: a short file is caught by its byte count.
 */
export async function readTarStream(
  input: AsyncIterable<Uint8Array>,
  options: TarStreamOptions,
): Promise<number> {
  const logger = options.logger ?? silentLogger;
  const parser = new Parser({ strict: false });
  let failure: Error | undefined;
  // Resolves a pending wait for "drain": after a failure the parser may wait on an entry nobody reads.
  let wake: (() => void) | undefined;
  const fail = (err: unknown): void => {
    failure ??= err instanceof Error ? err : new Error(messageOf(err));
    wake?.();
  };
  let chain = Promise.resolve();
  let current: ReadEntry | undefined;

  parser.on("entry", (entry: ReadEntry) => {
    chain = chain.then(async () => {
      if (failure !== undefined) {
        entry.resume();
        return;
      }
      current = entry;
      try {
        await options.entry(entry);
      } catch (err) {
        fail(err);
        entry.resume();
      } finally {
        current = undefined;
      }
    });
  });
  parser.on("warn", (code: string, message: string | Error) => {
    const text = typeof message === "string" ? message : message.message;
    if (code === "TAR_BAD_ARCHIVE" && text.startsWith("Truncated input")) {
      logger.debug(`tar stream ends early: ${text}`);
      return;
    }
    if (code === "TAR_ENTRY_INVALID" || code === "TAR_BAD_ARCHIVE" || code === "TAR_ABORT") {
      fail(options.invalid(text));
      return;
    }
    logger.debug(`tar warning ${code}: ${text}`);
  });
  parser.on("error", (err: unknown) => fail(err));
  const ended = new Promise<void>((resolve) => parser.on("end", () => resolve()));

  let bytes = 0;
  for await (const chunk of input) {
    if (options.signal?.aborted) fail(abortReason(options.signal));
    if (failure !== undefined) break;
    bytes += chunk.length;
    options.onBytes?.(bytes);
    if (!parser.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength))) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          wake = undefined;
          parser.off("drain", done);
          resolve();
        };
        wake = done;
        parser.once("drain", done);
      });
    }
  }
  if (failure === undefined) {
    parser.end();
    await ended;
  } else {
    parser.abort(failure);
    // The parser stops feeding the entry being handled; end it so its handler finishes.
    current?.destroy();
  }
  await chain;
  if (failure !== undefined) throw failure;
  return bytes;
}
