/** Sizes for people, the same wherever the CLI, the extension or the dev host prints one. */

/** Bytes as "512 B", "1.5 KiB", "2.0 GiB". */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit ? value.toFixed(1) : value} ${units[unit]!}`;
}

/** MiB (the daemon's memory unit) as "512 MiB", "2 GiB", "1.5 GiB". */
export function formatMiB(mib: number | bigint): string {
  const n = Number(mib);
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} GiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} GiB`;
  return `${n} MiB`;
}
