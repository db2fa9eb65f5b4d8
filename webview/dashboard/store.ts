/**
 * The webview's copy of the samples, in the column layout uPlot draws from directly (no copy per
 * frame): one time array in ms and one value array per column, nulls for gaps.
 */
import type { SeriesPayload } from "./protocol";

export class SeriesStore {
  times: number[] = [];
  readonly columns = new Map<string, (number | null)[]>();
  /** Bumped whenever the set of columns changes, so charts know to rebuild their series. */
  layoutVersion = 0;

  /** Rows kept; a little slack avoids trimming on every append. */
  constructor(readonly capacity = 3600) {}

  reset(series: SeriesPayload): void {
    this.times = [];
    this.columns.clear();
    this.layoutVersion++;
    this.append(series);
  }

  append(series: SeriesPayload): void {
    const before = this.times.length;
    const count = series.times.length;
    if (count === 0) return;
    for (const name of Object.keys(series.columns)) {
      if (!this.columns.has(name)) {
        this.columns.set(name, new Array<number | null>(before).fill(null));
        this.layoutVersion++;
      }
    }
    for (const t of series.times) this.times.push(t);
    for (const [name, values] of this.columns) {
      const incoming = series.columns[name];
      for (let i = 0; i < count; i++) values.push(incoming?.[i] ?? null);
    }
    const excess = this.times.length - this.capacity;
    if (excess > Math.max(60, this.capacity / 10)) this.#trim(excess);
  }

  get length(): number {
    return this.times.length;
  }

  get firstTime(): number | undefined {
    return this.times[0];
  }

  get lastTime(): number | undefined {
    return this.times[this.times.length - 1];
  }

  /** The column's values, or a shared all-null array when the column does not exist. */
  column(name: string): (number | null)[] {
    return this.columns.get(name) ?? new Array<number | null>(this.times.length).fill(null);
  }

  /** Names matching a pattern, in a stable numeric-aware order. */
  columnNames(pattern: RegExp): string[] {
    return [...this.columns.keys()]
      .filter((n) => pattern.test(n))
      .sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  }

  /** The last non-null value of a column. */
  latest(name: string): number | null {
    const values = this.columns.get(name);
    if (!values) return null;
    for (let i = values.length - 1; i >= 0; i--)
      if (values[i] !== null && values[i] !== undefined) return values[i]!;
    return null;
  }

  #trim(count: number): void {
    // In place, so uPlot's references to these arrays stay valid.
    this.times.splice(0, count);
    for (const values of this.columns.values()) values.splice(0, count);
  }
}
