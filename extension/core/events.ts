import type { DisposableLike } from "./lifecycle";

/** A listener registration that can be undone. */
export type Event<T> = (listener: (value: T) => void) => DisposableLike;

/**
 * A minimal typed event emitter for core code (VS Code's EventEmitter is not available here).
 * A throwing listener does not stop the others.
 */
export class Emitter<T> implements DisposableLike {
  #listeners = new Set<(value: T) => void>();

  readonly event: Event<T> = (listener) => {
    this.#listeners.add(listener);
    return { dispose: () => this.#listeners.delete(listener) };
  };

  fire(value: T): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(value);
      } catch {
        // one bad listener must not break delivery to the others
      }
    }
  }

  get listenerCount(): number {
    return this.#listeners.size;
  }

  dispose(): void {
    this.#listeners.clear();
  }
}
