/**
 * Fixed-capacity time series in typed arrays. One time column and any number of named value
 * columns share one ring, so a row is always complete: a column that had no value for a row
 * holds NaN (drawn as a gap). An hour at 1 s for a zone's usual eight columns is ≈ 260 KB.
 */

/** Ordered copy of part of a ring. */
export interface SeriesWindow {
  /** Milliseconds since the epoch, ascending. */
  times: Float64Array;
  series: Map<string, Float64Array>;
}

export class SeriesRing {
  readonly capacity: number;
  #times: Float64Array;
  #columns = new Map<string, Float64Array>();
  /** Index of the oldest row. */
  #start = 0;
  #length = 0;

  constructor(capacity: number, columns: readonly string[] = []) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`ring capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
    this.#times = new Float64Array(capacity);
    for (const name of columns) this.ensureColumn(name);
  }

  get length(): number {
    return this.#length;
  }

  get columns(): string[] {
    return [...this.#columns.keys()];
  }

  /** Adds a column (NaN for every existing row) unless it exists. */
  ensureColumn(name: string): void {
    if (this.#columns.has(name)) return;
    this.#columns.set(name, new Float64Array(this.capacity).fill(Number.NaN));
  }

  /** Drops a column entirely. */
  deleteColumn(name: string): void {
    this.#columns.delete(name);
  }

  /**
   * Appends a row in O(columns). Unknown names add a column; columns not named get NaN.
   * Time never runs backwards: an earlier time is clamped to the last one.
   */
  push(time: number, values: Readonly<Record<string, number>>): void {
    const last = this.latestTime;
    const t = last !== null && time < last ? last : time;
    let index: number;
    if (this.#length < this.capacity) {
      index = (this.#start + this.#length) % this.capacity;
      this.#length++;
    } else {
      index = this.#start;
      this.#start = (this.#start + 1) % this.capacity;
    }
    this.#times[index] = t;
    for (const name of Object.keys(values)) this.ensureColumn(name);
    for (const [name, column] of this.#columns) {
      const v = values[name];
      column[index] = v === undefined ? Number.NaN : v;
    }
  }

  get latestTime(): number | null {
    return this.#length === 0 ? null : this.#times[(this.#start + this.#length - 1) % this.capacity]!;
  }

  get oldestTime(): number | null {
    return this.#length === 0 ? null : this.#times[this.#start]!;
  }

  /** Time of the i-th row, oldest first. */
  timeAt(i: number): number {
    return this.#times[(this.#start + i) % this.capacity]!;
  }

  /** Value of column `name` in the i-th row, oldest first (NaN when absent). */
  valueAt(name: string, i: number): number {
    const column = this.#columns.get(name);
    return column ? column[(this.#start + i) % this.capacity]! : Number.NaN;
  }

  /** Index of the first row with time ≥ t (binary search; rows are time-ordered). */
  lowerBound(t: number): number {
    let lo = 0;
    let hi = this.#length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.timeAt(mid) < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Rows with from ≤ time ≤ to (either bound optional), copied in order. */
  window(
    from = Number.NEGATIVE_INFINITY,
    to = Number.POSITIVE_INFINITY,
    columns?: readonly string[],
  ): SeriesWindow {
    const first = this.lowerBound(from);
    let end = this.lowerBound(to);
    while (end < this.#length && this.timeAt(end) <= to) end++;
    return this.#slice(first, Math.max(first, end), columns);
  }

  /** Every row, in order. */
  snapshot(columns?: readonly string[]): SeriesWindow {
    return this.#slice(0, this.#length, columns);
  }

  #slice(first: number, end: number, columns?: readonly string[]): SeriesWindow {
    const count = end - first;
    const times = new Float64Array(count);
    const physical = (this.#start + first) % this.capacity;
    // At most two contiguous runs: up to the end of the backing array, then from its start.
    const firstRun = Math.min(count, this.capacity - physical);
    times.set(this.#times.subarray(physical, physical + firstRun), 0);
    times.set(this.#times.subarray(0, count - firstRun), firstRun);
    const series = new Map<string, Float64Array>();
    for (const name of columns ?? this.#columns.keys()) {
      const column = this.#columns.get(name);
      const out = new Float64Array(count);
      if (column) {
        out.set(column.subarray(physical, physical + firstRun), 0);
        out.set(column.subarray(0, count - firstRun), firstRun);
      } else {
        out.fill(Number.NaN);
      }
      series.set(name, out);
    }
    return { times, series };
  }

  clear(): void {
    this.#start = 0;
    this.#length = 0;
  }
}

/** A bounded FIFO list; the oldest entries fall off. */
export class BoundedList<T> {
  #items: T[] = [];
  constructor(readonly capacity: number) {}

  push(item: T): void {
    this.#items.push(item);
    if (this.#items.length > this.capacity) this.#items.splice(0, this.#items.length - this.capacity);
  }

  get items(): readonly T[] {
    return this.#items;
  }

  /** Drops entries for which `keep` is false. */
  retain(keep: (item: T) => boolean): void {
    this.#items = this.#items.filter(keep);
  }
}
