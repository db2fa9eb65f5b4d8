/**
 * Console streams for the console panel: a zone's kernel console (AttachZoneConsole, with the
 * history the host kept) and a workload's console (AttachWorkloadConsole: its main process's
 * stdio, resizable when it has a TTY). Each source follows its stream across connection losses:
 * it waits for the host to be back, attaches again with history replay, and lets
 * ConsoleTranscript drop what was already shown, so no line appears twice.
 */
import { delay } from "../../core/abort";
import { messageOf } from "../../core/errors";
import { Emitter } from "../../core/events";
import type { Logger } from "../../core/log";
import { ProtectError } from "../../core/protect/errors";
import { SshError } from "../../core/ssh/errors";
import { WorkloadConsole, ZoneConsole } from "../../core/terminal/consoleSession";
import type { ConsoleRpc } from "../../core/terminal/consoleSession";
import type { ConsoleTarget } from "../../../webview/console/protocol";
import type { HostAccess } from "../hostAccess";
import type { ZonesModel } from "../model/zonesModel";
import { ConsoleTranscript } from "./consolePanel";
import type { ConsoleChunk, ConsoleSource, ConsoleStatus } from "./consolePanel";

/** A replay is over once the stream has been quiet this long (history arrives first, and fast). */
const replayQuietMs = 300;
/** How long a lost console waits for its host before giving up. */
const reconnectWaitMs = 5 * 60_000;

interface Stream {
  readonly ended: Promise<void>;
  write(data: Uint8Array): void;
  resize?(size: { rows: number; columns: number }): void;
  detach(): void;
}

function isLoss(err: unknown): boolean {
  return (
    err instanceof SshError ||
    ProtectError.is(err, "lost") ||
    ProtectError.is(err, "unreachable") ||
    ProtectError.is(err, "deadline")
  );
}

/** The stream-following part shared by both console kinds. */
abstract class FollowingSource implements ConsoleSource {
  abstract readonly title: string;
  abstract readonly canResize: boolean;
  abstract readonly isTerminal: boolean;
  readonly canWrite = true;
  status: ConsoleStatus = { state: "connecting" };
  readonly transcript = new ConsoleTranscript();
  readonly #onOutput = new Emitter<ConsoleChunk>();
  readonly onOutput = this.#onOutput.event;
  readonly #onStatus = new Emitter<ConsoleStatus>();
  readonly onStatus = this.#onStatus.event;
  #stream: Stream | undefined;
  #quiet: ReturnType<typeof setTimeout> | undefined;
  readonly #disposed = new AbortController();
  #size: { rows: number; columns: number } | undefined;

  constructor(
    protected readonly hosts: HostAccess,
    protected readonly hostId: string,
    protected readonly logger: Logger,
  ) {}

  /** Starts following; subclasses call this once constructed. */
  protected start(): void {
    void this.#follow(); // reports through status
  }

  protected abstract attach(
    host: ConsoleRpc,
    onData: (data: Uint8Array) => void,
    signal: AbortSignal,
    size: { rows: number; columns: number } | undefined,
  ): Stream;

  /** What the status says once the host ended the stream by itself. */
  protected abstract endedStatus(): ConsoleStatus;

  async #follow(): Promise<void> {
    let attempt = 0;
    const signal = this.#disposed.signal;
    while (!signal.aborted) {
      let host;
      try {
        host = await this.hosts.wait(this.hostId, signal, attempt === 0 ? 30_000 : reconnectWaitMs);
      } catch (err) {
        if (signal.aborted) return;
        this.#setStatus({ state: "ended", message: messageOf(err) });
        return;
      }
      const replaying = attempt > 0;
      if (replaying) this.transcript.beginReplay();
      attempt++;
      const stream = this.attach(
        host,
        (data) => {
          if (this.status.state !== "connected") this.#setStatus({ state: "connected" });
          this.#emit(this.transcript.append(data));
          if (this.transcript.isReplaying) {
            clearTimeout(this.#quiet);
            this.#quiet = setTimeout(() => this.#emit(this.transcript.endReplay()), replayQuietMs);
          }
        },
        signal,
        this.#size,
      );
      this.#stream = stream;
      try {
        await stream.ended;
        if (signal.aborted) return;
        this.#emit(this.transcript.endReplay());
        this.#setStatus(this.endedStatus());
        return;
      } catch (err) {
        if (signal.aborted) return;
        this.#emit(this.transcript.endReplay());
        if (!isLoss(err)) {
          this.#setStatus({ state: "ended", message: messageOf(err) });
          return;
        }
        this.logger.info(
          `[${this.hostId}] ${this.title}: ${messageOf(err)}; attaching again when the host is back`,
        );
        this.#setStatus({ state: "reconnecting", message: messageOf(err) });
        await delay(500, signal).catch(() => undefined);
      } finally {
        if (this.#stream === stream) this.#stream = undefined;
      }
    }
  }

  #emit(chunks: ConsoleChunk[]): void {
    for (const chunk of chunks) this.#onOutput.fire(chunk);
  }

  #setStatus(status: ConsoleStatus): void {
    this.status = status;
    this.#onStatus.fire(status);
  }

  replay(fromOffset: number): ConsoleChunk[] {
    return this.transcript.replay(fromOffset);
  }

  async write(data: string): Promise<void> {
    const stream = this.#stream;
    if (!stream) throw new Error("the console is not connected");
    stream.write(new TextEncoder().encode(data));
  }

  async resize(cols: number, rows: number): Promise<void> {
    if (!this.canResize) throw new Error("this console has no size");
    this.#size = { rows, columns: cols };
    this.#stream?.resize?.(this.#size);
  }

  dispose(): void {
    clearTimeout(this.#quiet);
    this.#disposed.abort();
    this.#stream?.detach();
    this.#onOutput.dispose();
    this.#onStatus.dispose();
  }
}

/** A zone's kernel console (hvc0): history, then live; input goes to the console; no size. */
export class ZoneConsoleSource extends FollowingSource {
  readonly title: string;
  readonly canResize = false;
  /**
   * A real host's hvc0 is a terminal line; the dev host's zone console is a pipe, where a bare
   * LF must start a new line.
   */
  readonly isTerminal: boolean;

  constructor(
    hosts: HostAccess,
    model: ZonesModel,
    hostId: string,
    readonly zoneId: string,
    logger: Logger,
  ) {
    super(hosts, hostId, logger);
    const zone = model.zone(hostId, zoneId);
    this.title = `Console: ${zone?.spec?.name || zoneId.slice(0, 8)}`;
    const record = model.host(hostId);
    this.isTerminal = !(record?.connection.kind === "connected" && record.connection.info.devHost);
    this.start();
  }

  protected attach(host: ConsoleRpc, onData: (data: Uint8Array) => void, signal: AbortSignal): Stream {
    return new ZoneConsole(host, this.zoneId, {
      signal,
      replayHistory: true,
      onStdout: onData,
    });
  }

  protected endedStatus(): ConsoleStatus {
    return { state: "ended", message: "The zone's console closed: the zone stopped." };
  }
}

/** A workload's own stdio: what its main process printed (history, then live), and its stdin. */
export class WorkloadConsoleSource extends FollowingSource {
  readonly title: string;
  readonly canResize: boolean;
  readonly isTerminal: boolean;

  constructor(
    hosts: HostAccess,
    private readonly model: ZonesModel,
    hostId: string,
    readonly workloadId: string,
    logger: Logger,
  ) {
    super(hosts, hostId, logger);
    const workload = model.workload(hostId, workloadId);
    const tty = workload?.spec?.process?.tty === true;
    this.canResize = tty;
    this.isTerminal = tty;
    this.title = `Console: ${workload?.spec?.name || workloadId.slice(0, 8)}`;
    this.start();
  }

  protected attach(
    host: ConsoleRpc,
    onData: (data: Uint8Array) => void,
    signal: AbortSignal,
    size: { rows: number; columns: number } | undefined,
  ): Stream {
    return new WorkloadConsole(host, this.workloadId, {
      signal,
      onStdout: onData,
      onStderr: onData,
      ...(size ? { size } : {}),
    });
  }

  protected endedStatus(): ConsoleStatus {
    const exit = this.model.workload(this.hostId, this.workloadId)?.status?.exitStatus;
    return exit
      ? {
          state: "ended",
          message: `The workload's process exited with code ${exit.code}.`,
          exitCode: exit.code,
        }
      : { state: "ended", message: "The workload's process ended." };
  }
}

/** Opens the source for a console panel's target; undefined for a target the model does not know. */
export function openConsoleSource(
  hosts: HostAccess,
  model: ZonesModel,
  logger: Logger,
  target: ConsoleTarget,
): ConsoleSource | undefined {
  if (target.kind === "zone") {
    if (!model.host(target.hostId)) return undefined;
    return new ZoneConsoleSource(hosts, model, target.hostId, target.zoneId, logger);
  }
  if (!model.host(target.hostId)) return undefined;
  return new WorkloadConsoleSource(hosts, model, target.hostId, target.workloadId, logger);
}
