/**
 * Ownership of things that must be released: listeners, streams, channels, panels.
 * Whatever is registered is disposed with its owner, in reverse order;
 * registering after dispose disposes at once, so a late arrival cannot leak.
 */
export interface DisposableLike {
  dispose(): unknown;
}

export class Disposable implements DisposableLike {
  #disposables: DisposableLike[] = [];
  #disposed = false;

  get isDisposed(): boolean {
    return this.#disposed;
  }

  register<T extends DisposableLike>(disposable: T): T {
    if (this.#disposed) {
      void Promise.resolve(disposable.dispose()); // late registration: release at once, errors are the owner's to log
    } else {
      this.#disposables.push(disposable);
    }
    return disposable;
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    const items = this.#disposables.reverse();
    this.#disposables = [];
    for (const item of items) {
      try {
        void Promise.resolve(item.dispose()); // disposal is best effort; one failure must not stop the rest
      } catch {
        // keep disposing the rest
      }
    }
  }
}

/** Wraps a function as a disposable. */
export function toDisposable(fn: () => unknown): DisposableLike {
  let done = false;
  return {
    dispose: () => {
      if (done) return;
      done = true;
      return fn();
    },
  };
}
