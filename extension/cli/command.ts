import type { ParseArgsConfig } from "node:util";
import type { Logger } from "../core/log";

/** What every zonectl command receives: its streams, the global flags, a logger and a signal. */
export interface CliContext {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number; rows?: number };
  readonly stderr: NodeJS.WritableStream;
  readonly stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  readonly env: NodeJS.ProcessEnv;
  readonly log: Logger;
  readonly globals: GlobalOptions;
  /** Aborted on Ctrl-C / SIGTERM: commands stop, roll back what they must, and return. */
  readonly signal: AbortSignal;
}

export interface GlobalOptions {
  /** --host DEST: an ssh destination (alias, user@host:port, ssh://…) or unix:///path. */
  readonly host: string | undefined;
  readonly json: boolean;
  readonly verbose: boolean;
}

export type CommandOptions = NonNullable<ParseArgsConfig["options"]>;

/** One zonectl verb. One file per command under extension/cli/commands/. */
export interface Command {
  readonly name: string;
  readonly summary: string;
  /** Usage line(s) after `zonectl <name>`, e.g. "[--json] ZONE…". */
  readonly usage: string;
  readonly options?: CommandOptions;
  /** Whether arguments after `--` are passed through untouched (exec). */
  readonly passThrough?: boolean;
  run(ctx: CliContext, args: { values: Record<string, unknown>; positionals: string[] }): Promise<number>;
}
