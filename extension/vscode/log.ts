import type * as vscode from "vscode";
import type { Logger } from "../core/log";

/**
 * The core Logger over the extension's one LogOutputChannel. The channel does its
 * own level filtering (the user picks it with "Set Log Level…"), so every call is passed on.
 */
export function channelLogger(channel: vscode.LogOutputChannel): Logger {
  const join = (message: string, details: unknown[]): string =>
    details.length ? `${message} ${details.map(formatDetail).join(" ")}` : message;
  return {
    trace: (m, ...d) => channel.trace(join(m, d)),
    debug: (m, ...d) => channel.debug(join(m, d)),
    info: (m, ...d) => channel.info(join(m, d)),
    warn: (m, ...d) => channel.warn(join(m, d)),
    error: (m, ...d) => channel.error(join(m, d)),
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
