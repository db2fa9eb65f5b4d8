/**
 * What a benchmark produces: figures, each measured against a baseline taken in the same run on
 * the same machine, with the ratio and (where the issue sets one) the target and whether it is
 * met. Printed as one table and written to bench/results.json.
 */
import { writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";

/** A target on a figure: on its ratio to the baseline, or on its own value. */
export interface Target {
  /** What the target constrains. */
  readonly on: "ratio" | "value" | "difference";
  readonly op: "<=" | ">=";
  readonly limit: number;
  /** How the issue words it, e.g. "≤ 1.2× the bare call". */
  readonly text: string;
}

/** One measured figure. */
export interface Figure {
  readonly section: string;
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly baseline: { readonly name: string; readonly value: number };
  /** value / baseline (for throughputs, higher is better; for times, lower). */
  readonly ratio: number;
  readonly target?: Target;
  /** undefined when there is no target. */
  readonly met?: boolean;
  /** How it was measured (runs, percentiles, caveats). */
  readonly note?: string;
}

/** Collects figures and renders them. */
export class Report {
  readonly figures: Figure[] = [];
  /** Sections that could not run, with the reason. */
  readonly skipped: { section: string; reason: string }[] = [];
  readonly #started = new Date();

  add(figure: Omit<Figure, "ratio" | "met">): Figure {
    const ratio = figure.baseline.value === 0 ? Number.NaN : figure.value / figure.baseline.value;
    let met: boolean | undefined;
    if (figure.target) {
      const t = figure.target;
      const subject =
        t.on === "ratio" ? ratio : t.on === "value" ? figure.value : figure.value - figure.baseline.value;
      met = t.op === "<=" ? subject <= t.limit : subject >= t.limit;
    }
    const full: Figure = { ...figure, ratio, ...(met !== undefined ? { met } : {}) };
    this.figures.push(full);
    console.log(
      `  ${full.section} / ${full.name}: ${fmt(full.value)} ${full.unit} vs ${full.baseline.name} ${fmt(full.baseline.value)} ${full.unit} → ${fmtRatio(ratio)}${met === undefined ? "" : met ? " (target met)" : " (target NOT met)"}`,
    );
    return full;
  }

  skip(section: string, reason: string): void {
    this.skipped.push({ section, reason });
    console.log(`  ${section}: skipped — ${reason}`);
  }

  /** The table, one row per figure. */
  table(): string {
    const rows = [
      ["section", "figure", "value", "baseline", "baseline value", "ratio", "target", "met"],
      ...this.figures.map((f) => [
        f.section,
        f.name,
        `${fmt(f.value)} ${f.unit}`,
        f.baseline.name,
        `${fmt(f.baseline.value)} ${f.unit}`,
        fmtRatio(f.ratio),
        f.target?.text ?? "-",
        f.met === undefined ? "-" : f.met ? "yes" : "NO",
      ]),
    ];
    const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
    const line = (r: string[]): string =>
      r
        .map((cell, c) => cell.padEnd(widths[c]!))
        .join("  ")
        .trimEnd();
    const out = [line(rows[0]!), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line)];
    for (const s of this.skipped) out.push(`(${s.section}: not measured — ${s.reason})`);
    return out.join("\n");
  }

  write(path: string): void {
    const machine = {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? "",
      memoryMiB: Math.round(totalmem() / 2 ** 20),
      loadAverage: loadavg(),
      node: process.version,
    };
    writeFileSync(
      path,
      `${JSON.stringify({ started: this.#started.toISOString(), finished: new Date().toISOString(), machine, figures: this.figures, skipped: this.skipped }, null, 2)}\n`,
    );
  }
}

export function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const a = Math.abs(n);
  if (a >= 1000) return n.toFixed(0);
  if (a >= 100) return n.toFixed(1);
  if (a >= 1) return n.toFixed(2);
  return n.toFixed(3);
}

function fmtRatio(r: number): string {
  return Number.isFinite(r) ? `${r.toFixed(2)}×` : "n/a";
}
