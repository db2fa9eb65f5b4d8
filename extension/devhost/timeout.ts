/**
 * `promise`, or "timeout" after `ms` — and the timer is cleared either way, so a race that was
 * won early does not keep the process alive (a stopped dev host must exit at once).
 */
export async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | "timeout"> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
