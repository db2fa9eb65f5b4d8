/**
 * Sizes as the three sources write them, converted to MiB (the unit of ZoneResourcesSpec).
 * All units are powers of 1024, as the reference CLI and Docker read them.
 */

const mib = 1024 * 1024;
const factors: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  m: mib,
  g: 1024 * mib,
  t: 1024 * 1024 * mib,
  p: 1024 * 1024 * 1024 * mib,
};

/** devcontainer.json sizes (`^\d+([tgmk]b)?$`; a bare number is bytes) → MiB, rounded up. */
export function specSizeToMiB(size: string): number | undefined {
  const m = /^(\d+)([tgmk]b)?$/.exec(size);
  if (!m) return undefined;
  const unit = m[2]?.[0] ?? "";
  return Math.ceil((Number(m[1]) * (factors[unit] ?? 1)) / mib);
}

/** customizations.styrolite sizes: a number is MiB, a string needs kb/mb/gb/tb. */
export function styroliteSizeToMiB(size: number | string): number | undefined {
  if (typeof size === "number") return Number.isInteger(size) && size > 0 ? size : undefined;
  const m = /^(\d+)(kb|mb|gb|tb)$/.exec(size);
  if (!m) return undefined;
  return Math.ceil((Number(m[1]) * (factors[m[2]![0]!] ?? 1)) / mib);
}

/** Docker's `--memory` / `-m` values (`512m`, `4g`, `4GB`, `1.5g`, bytes) → MiB, rounded up. */
export function dockerSizeToMiB(size: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?) ?([kmgtp])?i?b?$/i.exec(size.trim());
  if (!m) return undefined;
  const unit = (m[2] ?? "").toLowerCase();
  const bytes = Number(m[1]) * (factors[unit] ?? 1);
  if (!Number.isFinite(bytes) || bytes <= 0) return undefined;
  return Math.ceil(bytes / mib);
}
