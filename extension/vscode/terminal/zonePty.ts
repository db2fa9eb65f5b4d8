/**
 * A VS Code terminal on ExecuteZoneCommand with a PTY: a shell in a zone or in a workload.
 *
 * VS Code drives it through the Pseudoterminal contract: `open` with the initial size (the
 * remote PTY starts at that size), `setDimensions` on every change (terminal_resize), input as
 * typed. When the process exits, the exit code is printed and reported through `onDidClose`
 * (a clean exit closes the tab like a local shell's `exit`; a failing one stays until a key is
 * pressed, so the code can be read). A lost connection is said in the terminal, with Enter to
 * start a new shell once the host is back.
 *
 * Only vscode types are imported: the pty runs in plain Node tests with a fake exec boundary.
 */
import type * as vscode from "vscode";
import { isAbortError } from "../../core/abort";
import { messageOf } from "../../core/errors";
import { Emitter } from "../../core/events";
import type { Logger } from "../../core/log";
import { ProtectError } from "../../core/protect/errors";
import { SshError } from "../../core/ssh/errors";
import { pickShell } from "../../core/terminal/terminalSession";
import { startExec } from "../../core/terminal/execSession";
import type { ExecOptions, ExecRequest, ExecRpc, TerminalSize } from "../../core/terminal/execSession";

/** Where a terminal runs. */
export interface TerminalTarget {
  readonly hostId: string;
  readonly hostLabel: string;
  readonly zoneId: string;
  readonly zoneName: string;
  /** Run in this workload's container; absent: in the zone itself. */
  readonly workloadId?: string;
  readonly workloadName?: string;
  /** remoteUser of a devcontainer workload. */
  readonly user?: string;
  readonly workingDirectory?: string;
  /** Added to the process environment (remoteEnv). */
  readonly env?: Readonly<Record<string, string>>;
  /** The shell argv; absent: bash when the image has it, else sh, as a login shell. */
  readonly shell?: readonly string[];
}

/** The running process, as the pty needs it (core's ExecSession fits). */
export interface PtyProcess {
  readonly exited: Promise<number>;
  write(data: Uint8Array | string): void;
  resize(size: TerminalSize): void;
  cancel(): void;
}

/** What the pty needs from the outside world; the defaults talk to the host through core. */
export interface PtyBackend {
  /** The host once it is connected (waits while it reconnects). */
  host(signal: AbortSignal): Promise<ExecRpc>;
  readonly start?: (host: ExecRpc, request: ExecRequest, options: ExecOptions) => PtyProcess;
  readonly pickShell?: (
    host: ExecRpc,
    target: { zoneId: string; workloadId?: string; user?: string },
    signal: AbortSignal,
  ) => Promise<string[]>;
  readonly logger: Logger;
}

/** What the pty is doing; tests and the terminal's title read it. */
export type PtyState = "idle" | "starting" | "running" | "exited" | "lost" | "closed";

/** Used until VS Code says the real size (it always does right after open). */
const fallbackSize: TerminalSize = { rows: 24, columns: 80 };

const dim = (text: string): string => `\x1b[2m${text}\x1b[0m`;
const yellow = (text: string): string => `\x1b[33m${text}\x1b[0m`;

/** Reasons a stream ends that mean "the link went away", not "the host said no". */
function isConnectionLoss(err: unknown): boolean {
  if (err instanceof SshError) return true;
  return (
    ProtectError.is(err, "lost") || ProtectError.is(err, "unreachable") || ProtectError.is(err, "deadline")
  );
}

export class ZonePty implements vscode.Pseudoterminal {
  readonly #onDidWrite = new Emitter<string>();
  readonly #onDidClose = new Emitter<number | void>();
  readonly #onDidChangeState = new Emitter<PtyState>();
  readonly onDidWrite = this.#onDidWrite.event;
  readonly onDidClose = this.#onDidClose.event;
  /** For tests and the terminal manager. */
  readonly onDidChangeState = this.#onDidChangeState.event;

  #state: PtyState = "idle";
  #size: TerminalSize = fallbackSize;
  #process: PtyProcess | undefined;
  #abort: AbortController | undefined;
  #exitCode: number | undefined;
  /** Sessions started in this terminal (1 + reconnects). */
  #sessions = 0;
  #decoder = new TextDecoder("utf-8");

  constructor(
    readonly target: TerminalTarget,
    private readonly backend: PtyBackend,
  ) {}

  get state(): PtyState {
    return this.#state;
  }

  get size(): TerminalSize {
    return this.#size;
  }

  /** The exit code of the last process, once it exited. */
  get exitCode(): number | undefined {
    return this.#exitCode;
  }

  open(initialDimensions: vscode.TerminalDimensions | undefined): void {
    if (initialDimensions && initialDimensions.rows > 0 && initialDimensions.columns > 0)
      this.#size = { rows: initialDimensions.rows, columns: initialDimensions.columns };
    void this.#start(); // reports its own failures in the terminal
  }

  setDimensions(dimensions: vscode.TerminalDimensions): void {
    if (dimensions.rows <= 0 || dimensions.columns <= 0) return;
    this.#size = { rows: dimensions.rows, columns: dimensions.columns };
    this.#process?.resize(this.#size);
  }

  handleInput(data: string): void {
    switch (this.#state) {
      case "running":
        this.#process?.write(data);
        break;
      case "exited":
        this.#close(this.#exitCode);
        break;
      case "lost":
        if (data === "\r" || data === "\n")
          void this.#start(); // reports its own failures
        else this.#close(undefined);
        break;
      default:
        break; // keystrokes while connecting have nowhere to go
    }
  }

  /** The user closed the terminal: the remote process gets SIGHUP, as when an SSH session drops. */
  close(): void {
    this.#setState("closed");
    this.#abort?.abort();
    this.#process?.cancel();
    this.#process = undefined;
  }

  async #start(): Promise<void> {
    if (this.#isClosed()) return;
    this.#setState("starting");
    this.#sessions++;
    const abort = new AbortController();
    this.#abort = abort;
    const t = this.target;
    const where = t.workloadId
      ? `workload ${t.workloadName ?? t.workloadId} in zone ${t.zoneName}`
      : `zone ${t.zoneName}`;
    if (this.#sessions > 1) this.#write(dim(`Reconnecting to ${where} on ${t.hostLabel}…\r\n`));
    try {
      const host = await this.backend.host(abort.signal);
      if (this.#isClosed()) return;
      const ids = {
        zoneId: t.zoneId,
        ...(t.workloadId ? { workloadId: t.workloadId } : {}),
        ...(t.user ? { user: t.user } : {}),
      };
      const command = t.shell?.length
        ? [...t.shell]
        : await (this.backend.pickShell ?? pickShell)(host, ids, abort.signal);
      if (this.#isClosed()) return;
      const start = this.backend.start ?? startExec;
      this.#decoder = new TextDecoder("utf-8");
      const output = (data: Uint8Array): void => this.#write(this.#decoder.decode(data, { stream: true }));
      const request: ExecRequest = {
        ...ids,
        command,
        env: { TERM: "xterm-256color", COLORTERM: "truecolor", ...t.env },
        ...(t.workingDirectory ? { workingDirectory: t.workingDirectory } : {}),
        tty: this.#size,
      };
      this.backend.logger.info(
        `[${t.hostId}] terminal in ${where}: ${command.join(" ")} (${this.#size.columns}x${this.#size.rows})`,
      );
      const process = start(host, request, {
        signal: abort.signal,
        onStdout: output,
        onStderr: output,
      });
      this.#process = process;
      this.#setState("running");
      const code = await process.exited;
      if (this.#isClosed()) return;
      this.#process = undefined;
      this.#exitCode = code;
      this.#setState("exited");
      this.#write(`\r\n${dim(`[process exited with code ${code}]`)}\r\n`);
      this.backend.logger.info(`[${t.hostId}] terminal in ${where} exited with code ${code}`);
      if (code === 0) this.#close(0);
      else this.#write(dim("Press any key to close the terminal.\r\n"));
    } catch (err) {
      this.#process = undefined;
      if (this.#isClosed() || (isAbortError(err) && abort.signal.aborted)) return;
      const message = messageOf(err);
      this.backend.logger.warn(`[${t.hostId}] terminal in ${where}: ${message}`);
      this.#setState("lost");
      const head = isConnectionLoss(err)
        ? `[connection to ${t.hostLabel} lost: ${message}]`
        : `[${where}: ${message}]`;
      this.#write(
        `\r\n${yellow(head)}\r\n${dim("Press Enter to start a new shell once the host is back, or any other key to close.")}\r\n`,
      );
    }
  }

  /** A method, not a comparison: the state changes while the awaits above are pending. */
  #isClosed(): boolean {
    return this.#state === "closed";
  }

  #close(code: number | undefined): void {
    this.#setState("closed");
    this.#abort?.abort();
    this.#onDidClose.fire(code);
  }

  #write(text: string): void {
    // VS Code's terminal wants CRLF; a PTY already sends it, and our own lines carry it.
    if (text) this.#onDidWrite.fire(text);
  }

  #setState(state: PtyState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.#onDidChangeState.fire(state);
  }
}
