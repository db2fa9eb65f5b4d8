import { Emitter } from "../core/events";
import type { Event } from "../core/events";

/**
 * Output of a zone's console (or a workload's) kept for replay: the newest `capacity` bytes,
 * plus a live feed for followers. Old bytes are dropped from the front, so a late attach sees
 * the tail of the history, as on a real host's hvc0 ring.
 */
export class ConsoleBuffer {
  readonly #capacity: number;
  #chunks: Buffer[] = [];
  #size = 0;
  #total = 0;
  #closed = false;
  readonly #onData = new Emitter<Buffer>();
  readonly #onClose = new Emitter<void>();

  /** Fired for every chunk appended after subscription. */
  readonly onData: Event<Buffer> = this.#onData.event;
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

  append(data: Buffer | string): void {
    if (this.#closed) return;
    const chunk = typeof data === "string" ? Buffer.from(data) : data;
    if (chunk.length === 0) return;
    this.#total += chunk.length;
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    while (this.#size > this.#capacity) {
      const first = this.#chunks[0]!;
      const excess = this.#size - this.#capacity;
      if (first.length <= excess) {
        this.#chunks.shift();
        this.#size -= first.length;
      } else {
        this.#chunks[0] = first.subarray(excess);
        this.#size -= excess;
      }
    }
    this.#onData.fire(chunk);
  }

  /** The retained history, oldest first. */
  history(): Buffer {
    return Buffer.concat(this.#chunks, this.#size);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#onClose.fire();
    this.#onData.dispose();
    this.#onClose.dispose();
  }
}
