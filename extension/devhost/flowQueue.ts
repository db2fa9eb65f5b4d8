import { AsyncQueue } from "./asyncQueue";

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
    private readonly limits: { high: number; low: number } = { high: 1024 * 1024, low: 256 * 1024 },
    itemLimit = 100_000,
  ) {
    this.#queue = new AsyncQueue<T>(itemLimit);
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
    if (!this.#paused && this.#held > this.limits.high) {
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
    try {
      for await (const item of this.#queue) {
        yield item;
        this.#held -= this.sizeOf(item);
        if (this.#paused && this.#held <= this.limits.low) {
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
    }
  }
}
