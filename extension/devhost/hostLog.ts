import type { Logger, LogLevel } from "../core/log";

const levels: LogLevel[] = ["trace", "debug", "info", "warn", "error"];

/**
 * The dev host's own log, kept in memory as well as passed on: ReadHypervisorConsole returns it,
 * the way a real host returns the hypervisor's console ring. Only info and above are kept, and
 * only the newest `capacity` characters.
 */
export class HostLog {
  #lines: string[] = [];
  #size = 0;
  readonly logger: Logger;

  constructor(
    inner: Logger,
    private readonly capacity = 256 * 1024,
  ) {
    const at =
      (level: LogLevel) =>
      (message: string, ...details: unknown[]): void => {
        inner[level](message, ...details);
        if (levels.indexOf(level) >= levels.indexOf("info")) this.#keep(level, message, details);
      };
    this.logger = {
      trace: at("trace"),
      debug: at("debug"),
      info: at("info"),
      warn: at("warn"),
      error: at("error"),
    };
  }

  #keep(level: LogLevel, message: string, details: unknown[]): void {
    const extra = details
      .map((d) => (d instanceof Error ? d.message : typeof d === "string" ? d : safeJson(d)))
      .join(" ");
    const line = `${new Date().toISOString()} ${level.padEnd(5)} ${message}${extra ? ` ${extra}` : ""}\n`;
    this.#lines.push(line);
    this.#size += line.length;
    while (this.#size > this.capacity && this.#lines.length > 1) this.#size -= this.#lines.shift()!.length;
  }

  text(): string {
    return this.#lines.join("");
  }
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
  } catch {
    return String(value);
  }
}
