/**
 * Logging for code that must not know where its log goes: core runs in the extension, the CLI
 * and the dev host. The extension passes a sink writing to its LogOutputChannel, the CLI one
 * writing to stderr, tests a collecting sink. Secrets never reach a logger: callers leave them
 * out of what they log.
 */
export type LogLevel = "trace" | "debug" | "info" | "warn" | "error";

export interface Logger {
  trace(message: string, ...details: unknown[]): void;
  debug(message: string, ...details: unknown[]): void;
  info(message: string, ...details: unknown[]): void;
  warn(message: string, ...details: unknown[]): void;
  error(message: string, ...details: unknown[]): void;
}

const order: Record<LogLevel, number> = { trace: 0, debug: 1, info: 2, warn: 3, error: 4 };

/** A logger that drops everything: the default when a caller does not care. */
export const silentLogger: Logger = {
  trace() {},
  debug() {},
  info() {},
  warn() {},
  error() {},
};

/** Builds a logger from a single write function, filtering below `minimum`. */
export function loggerFrom(
  write: (level: LogLevel, line: string) => void,
  minimum: LogLevel = "info",
): Logger {
  const at =
    (level: LogLevel) =>
    (message: string, ...details: unknown[]): void => {
      if (order[level] < order[minimum]) return;
      write(level, details.length ? `${message} ${details.map(formatDetail).join(" ")}` : message);
    };
  return { trace: at("trace"), debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/** Prefixes every line, so one sink can carry several hosts or subsystems. */
export function scopedLogger(logger: Logger, scope: string): Logger {
  return {
    trace: (m, ...d) => logger.trace(`[${scope}] ${m}`, ...d),
    debug: (m, ...d) => logger.debug(`[${scope}] ${m}`, ...d),
    info: (m, ...d) => logger.info(`[${scope}] ${m}`, ...d),
    warn: (m, ...d) => logger.warn(`[${scope}] ${m}`, ...d),
    error: (m, ...d) => logger.error(`[${scope}] ${m}`, ...d),
  };
}

function formatDetail(detail: unknown): string {
  if (detail instanceof Error) return detail.stack ?? `${detail.name}: ${detail.message}`;
  if (typeof detail === "string") return detail;
  try {
    return JSON.stringify(detail, (_key, value: unknown) =>
      typeof value === "bigint" ? value.toString() : value,
    );
  } catch {
    return String(detail);
  }
}
