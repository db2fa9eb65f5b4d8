import { messageOf } from "./errors";

/**
 * A push-to-pull bridge: producers push items (events, output chunks), one consumer iterates
 * them. Server-streaming handlers yield from it. A consumer that falls more than `limit` items
 * behind is cut off with an error rather than growing memory without bound.
 */
export class AsyncQueue<T> implements AsyncIterable<T> {
  readonly #items: T[] = [];
  #waiter: ((result: IteratorResult<T>) => void) | undefined;
  #failWaiter: ((err: unknown) => void) | undefined;
  #ended = false;
  #error: Error | undefined;
  readonly #limit: number;

  constructor(limit = 10_000) {
    this.#limit = limit;
  }

  get ended(): boolean {
    return this.#ended;
  }

  push(item: T): void {
    if (this.#ended) return;
    if (this.#waiter) {
      const waiter = this.#waiter;
      this.#waiter = this.#failWaiter = undefined;
      waiter({ value: item, done: false });
      return;
    }
    if (this.#items.length >= this.#limit) {
      this.fail(new Error(`consumer fell more than ${this.#limit} items behind`));
      return;
    }
    this.#items.push(item);
  }

  /** No more items: the consumer finishes after draining what is queued. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#waiter) {
      const waiter = this.#waiter;
      this.#waiter = this.#failWaiter = undefined;
      waiter({ value: undefined, done: true });
    }
  }

  /** Ends the stream with an error, delivered after the queued items. */
  fail(err: unknown): void {
    if (this.#ended) return;
    this.#error =
      err instanceof Error ? err : new Error(err === undefined ? "stream failed" : messageOf(err));
    this.#ended = true;
    if (this.#failWaiter) {
      const fail = this.#failWaiter;
      this.#waiter = this.#failWaiter = undefined;
      fail(this.#error);
    }
  }

  /** The next item if one is already queued and `accept` takes it; never waits. */
  shiftIf(accept: (item: T) => boolean): T | undefined {
    const item = this.#items[0];
    if (item === undefined || !accept(item)) return undefined;
    return this.#items.shift();
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#items.length > 0) return Promise.resolve({ value: this.#items.shift()!, done: false });
    if (this.#ended) {
      if (this.#error !== undefined) return Promise.reject(this.#error);
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => {
      this.#waiter = resolve;
      this.#failWaiter = reject;
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => this.next(),
      return: () => {
        this.end();
        this.#items.length = 0;
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
