import type { LaunchEvent, StepTiming } from "./events";
import { formatBytes } from "../format";

/**
 * Turns launch events into readable lines: one per step (with its duration), the pull's phase
 * changes, the sync tally, and hook output line by line with the hook's name in front. Byte-level
 * progress is summarised rather than printed, so a log stays readable.
 */
export class LaunchProgressText {
  readonly #write: (line: string) => void;
  readonly #partial = new Map<string, string>();
  #lastPull = "";
  #lastImport = "";
  #pullDone = 0;

  constructor(write: (line: string) => void) {
    this.#write = write;
  }

  handle(event: LaunchEvent): void {
    switch (event.type) {
      case "stepStarted":
        this.#write(`… ${event.step}${event.detail ? `: ${event.detail}` : ""}`);
        break;
      case "stepFinished":
        this.#flushAll();
        this.#write(
          event.outcome === "skipped"
            ? `- ${event.step} skipped${event.detail ? `: ${event.detail}` : ""}`
            : `✓ ${event.step} (${formatMs(event.ms)})${event.detail ? `: ${event.detail}` : ""}`,
        );
        break;
      case "stepFailed":
        this.#flushAll();
        this.#write(`✗ ${event.step} failed after ${formatMs(event.ms)}: ${event.message}`);
        break;
      case "imagePull": {
        // Layers go downloaded → extracting → extracted: count the furthest any got, so the tally never runs backwards.
        const done = event.layers.filter((l) => l.phase === "extracted" || l.phase === "downloaded").length;
        const key = `${event.reference} ${event.phase}`;
        if (key === this.#lastPull && done <= this.#pullDone) break;
        this.#pullDone = key === this.#lastPull ? Math.max(done, this.#pullDone) : done;
        this.#lastPull = key;
        const bytes =
          event.isBytes && event.total
            ? ` ${formatBytes(event.current ?? 0)}/${formatBytes(event.total)}`
            : "";
        this.#write(
          `  pull ${event.reference}: ${event.phase.replace(/_/g, " ")}${event.layers.length ? ` (${done}/${event.layers.length} layers)` : ""}${bytes}`,
        );
        break;
      }
      case "buildOutput":
        this.#output("[build]", event.text);
        break;
      case "imageImport": {
        // One line per tenth of the upload, then the host's phases.
        const tenth = event.totalBytes ? Math.floor((event.sentBytes / event.totalBytes) * 10) : 0;
        const key = event.phase === "sending" ? `sending ${tenth}` : event.phase;
        if (key === this.#lastImport) break;
        this.#lastImport = key;
        this.#write(
          event.phase === "sending"
            ? `  import ${event.name}: ${formatBytes(event.sentBytes)}/${formatBytes(event.totalBytes)}`
            : `  import ${event.name}: ${event.phase.replace(/_/g, " ")}`,
        );
        break;
      }
      case "zoneState":
        this.#write(`  zone ${event.state}`);
        break;
      case "workloadState":
        this.#write(`  workload ${event.state}`);
        break;
      case "sync":
        break; // the step's summary line carries the tally
      case "hookStarted":
        this.#write(
          `  ${tag(event.hook, event.label)}${event.origin ? ` (${event.origin})` : ""} $ ${event.command}`,
        );
        break;
      case "hookOutput":
        this.#output(tag(event.hook, event.label), Buffer.from(event.data).toString("utf8"));
        break;
      case "hookExited":
        this.#flush(tag(event.hook, event.label));
        if (event.exitCode !== 0)
          this.#write(`  ${tag(event.hook, event.label)} exited with ${event.exitCode}`);
        break;
      case "attachable":
        this.#write(`  ready for terminals (waitFor: ${event.after})`);
        break;
      case "warning":
        this.#write(`! ${event.message}`);
        break;
      case "service":
        this.#write(`  service ${event.service}: ${event.message}`);
        break;
      case "rollback":
        this.#write(event.ok ? `↺ ${event.action}` : `↺ ${event.action} FAILED: ${event.message ?? ""}`);
        break;
    }
  }

  #output(key: string, text: string): void {
    const lines = ((this.#partial.get(key) ?? "") + text).split(/\r?\n/);
    this.#partial.set(key, lines.pop() ?? "");
    for (const line of lines) this.#write(`  ${key} ${line}`);
  }

  #flush(key: string): void {
    const rest = this.#partial.get(key);
    if (rest) this.#write(`  ${key} ${rest}`);
    this.#partial.delete(key);
  }

  #flushAll(): void {
    for (const key of [...this.#partial.keys()]) this.#flush(key);
  }
}

function tag(hook: string, label: string | undefined): string {
  return `[${hook}${label ? `:${label}` : ""}]`;
}

/** "840 ms", "2.4 s". */
export function formatMs(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** The timing table `up` prints at the end: each step that ran, and the total. */
export function timingTable(timings: readonly StepTiming[], totalMs: number): string {
  const ran = timings.filter((t) => t.outcome !== "skipped");
  const width = Math.max(5, ...ran.map((t) => t.step.length));
  return [
    ...ran.map(
      (t) =>
        `  ${t.step.padEnd(width)}  ${formatMs(t.ms).padStart(8)}${t.outcome === "failed" ? "  (failed)" : ""}`,
    ),
    `  ${"total".padEnd(width)}  ${formatMs(totalMs).padStart(8)}`,
  ].join("\n");
}
