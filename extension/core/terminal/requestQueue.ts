/**
 * The request side of a bidi stream: callers push messages whenever they like (stdin chunks,
 * resizes, socket data) and Connect pulls them as an async iterable. `end()` half-closes the
 * stream once what is queued has been sent. Nothing is ever dropped: a caller that pushes
 * faster than the network drains holds its own back-pressure (see `waitForDrain`).
 */
export class RequestQueue<T> implements AsyncIterable<T> {
  readonly #items: T[] = [];
  #wake: (() => void) | undefined;
  #drained: (() => void)[] = [];
  #ended = false;

  /** Queued, not yet taken by the transport. */
  get pending(): number {
    return this.#items.length;
  }

  get ended(): boolean {
    return this.#ended;
  }

  push(item: T): void {
    if (this.#ended) return;
    this.#items.push(item);
    this.#notify();
  }

  /** No more requests: the iterable finishes after the queued ones. Idempotent. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#notify();
  }

  /** Resolves once the transport has taken every queued item (or the queue ended). */
  waitForDrain(): Promise<void> {
    if (!this.#items.length || this.#ended) return Promise.resolve();
    return new Promise((resolve) => this.#drained.push(resolve));
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      while (this.#items.length) {
        const item = this.#items.shift()!;
        if (!this.#items.length) this.#releaseDrained();
        yield item;
      }
      if (this.#ended) {
        this.#releaseDrained();
        return;
      }
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #releaseDrained(): void {
    const waiting = this.#drained;
    this.#drained = [];
    for (const resolve of waiting) resolve();
  }
}
