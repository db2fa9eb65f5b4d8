/** Small statistics for timings: the bench reports medians and tail percentiles, never means of noisy runs. */

/** The p-th percentile (0–100) by nearest rank of a non-empty list. */
export function percentile(values: readonly number[], p: number): number {
  if (!values.length) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/**
 * Times `fn` `runs` times after `warmup` untimed calls, alternating nothing else: callers that
 * compare two things interleave them with {@link timeInterleaved} so drift hits both alike.
 */
export async function time(fn: () => Promise<unknown>, runs: number, warmup = 2): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return out;
}

/**
 * Times several contenders round-robin (A B C A B C …), so a load spike from the other
 * engineers' work on this shared machine lands on every contender rather than on one.
 */
export async function timeInterleaved<K extends string>(
  contenders: Record<K, () => Promise<unknown>>,
  runs: number,
  warmup = 2,
): Promise<Record<K, number[]>> {
  const keys = Object.keys(contenders) as K[];
  for (let i = 0; i < warmup; i++) for (const k of keys) await contenders[k]();
  const out = Object.fromEntries(keys.map((k) => [k, [] as number[]])) as Record<K, number[]>;
  for (let i = 0; i < runs; i++) {
    for (const k of keys) {
      const t0 = performance.now();
      await contenders[k]();
      out[k].push(performance.now() - t0);
    }
  }
  return out;
}
