import { AsyncQueue } from "../core/asyncQueue";

/** A source that can stop and restart producing (a process's output, a socket). */
export interface Pausable {
  pause(): void;
  resume(): void;
}

/**
 * An {@link AsyncQueue} for output on its way to a client, with back-pressure: it counts the
 * bytes it holds and pauses the producer above `high`, resuming it once the consumer has taken
 * the backlog below `low`. An item counts as taken when the consumer asks for the next one —
 * for a Connect handler that yields them, once the previous reply was written to the stream
 * (Connect waits for 'drain'). So a slow client slows the process down, as a terminal would,
 * instead of the dev host buffering without bound.
 */
export class FlowQueue<T> implements AsyncIterable<T> {
  readonly #queue: AsyncQueue<T>;
  #held = 0;
  #paused = false;

  constructor(
    private readonly sizeOf: (item: T) => number,
    private readonly producer: Pausable,
    private readonly options: {
      high?: number;
      low?: number;
      /**
       * How queued items join into one. Items already waiting when the consumer asks are
       * handed over joined (up to `limit` bytes): a fast producer behind a slower consumer then
       * costs one reply per batch instead of one per read, while an interactive trickle is
       * still sent item by item, without delay.
       */
      batch?: { canJoin(first: T, next: T): boolean; join(items: T[]): T; limit?: number };
      itemLimit?: number;
      /**
       * After handing over a batch of at least `afterBytes`, wait `ms` before taking the next:
       * a producer that delivers bulk in small reads (a PTY gives 4 KB per read) then fills one
       * big batch instead of many small ones, each costing a reply on both ends. Batches under
       * `afterBytes` — keystroke echoes, prompts — are never held.
       */
      settle?: { afterBytes: number; ms: number };
    } = {},
  ) {
    this.#queue = new AsyncQueue<T>(options.itemLimit ?? 100_000);
  }

  get #high(): number {
    return this.options.high ?? 1024 * 1024;
  }

  get #low(): number {
    return this.options.low ?? 256 * 1024;
  }

  /** Bytes queued and not yet taken by the consumer. */
  get held(): number {
    return this.#held;
  }

  get paused(): boolean {
    return this.#paused;
  }

  push(item: T): void {
    if (this.#queue.ended) return;
    this.#queue.push(item);
    this.#held += this.sizeOf(item);
    if (!this.#paused && this.#held > this.#high) {
      this.#paused = true;
      this.producer.pause();
    }
  }

  end(): void {
    this.#queue.end();
  }

  fail(err: unknown): void {
    this.#queue.fail(err);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    const batch = this.options.batch;
    const limit = batch?.limit ?? 256 * 1024;
    const settle = this.options.settle;
    let lastBytes = 0;
    try {
      for (;;) {
        if (settle && lastBytes >= settle.afterBytes)
          await new Promise((resolve) => setTimeout(resolve, settle.ms));
        const next = await this.#queue.next();
        if (next.done === true) return;
        const first = next.value;
        let item = first;
        let bytes = this.sizeOf(first);
        if (batch) {
          const items = [first];
          for (;;) {
            const more = this.#queue.shiftIf(
              (candidate) => bytes + this.sizeOf(candidate) <= limit && batch.canJoin(first, candidate),
            );
            if (more === undefined) break;
            items.push(more);
            bytes += this.sizeOf(more);
          }
          if (items.length > 1) item = batch.join(items);
        }
        yield item;
        lastBytes = bytes;
        this.#held -= bytes;
        if (this.#paused && this.#held <= this.#low) {
          this.#paused = false;
          this.producer.resume();
        }
      }
    } finally {
      // A consumer that stops early must not leave the producer stalled forever.
      if (this.#paused) {
        this.#paused = false;
        this.producer.resume();
      }
      this.#queue.end();
    }
  }
}
