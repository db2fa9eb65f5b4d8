import { Emitter } from "../core/events";
import type { Event } from "../core/events";

/** Which stream a chunk came from: 1 stdout (or a terminal), 2 stderr. */
export type OutputTag = 1 | 2;

/** One chunk of output with its stream. */
export interface TaggedChunk {
  tag: OutputTag;
  data: Buffer;
}

/**
 * Output of a zone's console or a workload, kept for replay: the newest `capacity` bytes, plus
 * a live feed for followers. Old bytes are dropped from the front, so a late attach sees the
 * tail of the history, as on a real host's hvc0 ring. Chunks keep their stream tag so a
 * workload's stdout and stderr replay interleaved as they happened.
 */
export class ConsoleBuffer {
  readonly #capacity: number;
  #chunks: TaggedChunk[] = [];
  #size = 0;
  #total = 0;
  #closed = false;
  readonly #onChunk = new Emitter<TaggedChunk>();
  readonly #onData = new Emitter<Buffer>();
  readonly #onClose = new Emitter<void>();

  /** Fired for every chunk appended after subscription (all streams). */
  readonly onData: Event<Buffer> = this.#onData.event;
  /** Like onData, with the stream tag. */
  readonly onChunk: Event<TaggedChunk> = this.#onChunk.event;
  /** Fired once when the producer is gone (process exited, zone destroyed). */
  readonly onClose: Event<void> = this.#onClose.event;

  constructor(capacity = 1024 * 1024) {
    this.#capacity = capacity;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes ever written, including those dropped from the history. */
  get totalBytes(): number {
    return this.#total;
  }

  append(data: Buffer | string, tag: OutputTag = 1): void {
    if (this.#closed) return;
    const chunk = typeof data === "string" ? Buffer.from(data) : data;
    if (chunk.length === 0) return;
    this.#total += chunk.length;
    this.#chunks.push({ tag, data: chunk });
    this.#size += chunk.length;
    while (this.#size > this.#capacity) {
      const first = this.#chunks[0]!;
      const excess = this.#size - this.#capacity;
      if (first.data.length <= excess) {
        this.#chunks.shift();
        this.#size -= first.data.length;
      } else {
        this.#chunks[0] = { tag: first.tag, data: first.data.subarray(excess) };
        this.#size -= excess;
      }
    }
    this.#onData.fire(chunk);
    this.#onChunk.fire({ tag, data: chunk });
  }

  /** The retained history, oldest first, all streams. */
  history(): Buffer {
    return Buffer.concat(
      this.#chunks.map((c) => c.data),
      this.#size,
    );
  }

  /** The retained history with stream tags. */
  historyChunks(): TaggedChunk[] {
    return [...this.#chunks];
  }

  /** Output may be replayed but no more arrives; followers are told once. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#onClose.fire();
    this.#onData.dispose();
    this.#onChunk.dispose();
    this.#onClose.dispose();
  }
}
