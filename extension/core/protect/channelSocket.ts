/**
 * A Duplex that stands in for a socket under an HTTP/2 session while the SSH channel behind it
 * opens. http2's createConnection must return synchronously but ssh2 opens channels
 * asynchronously, so writes queue until the channel is there; afterwards data flows both ways
 * with backpressure (a full HTTP/2 buffer pauses the channel; the SSH window holds back our
 * write callbacks).
 *
 * Failure handling (each line is a trap a prototype hit):
 * - a channel that closes while we did not ask for it destroys this stream with a
 *   TransportFailure whose code is ECONNREFUSED, so Connect reports Unavailable, not Canceled;
 *   the far side's EOF is held back until 'close' so that http2 hears the reason first;
 * - ssh2 never calls back a write once its channel is closed, so pending write callbacks are
 *   failed on 'close' or HTTP/2 would wait forever;
 * - open failures are delivered on a later turn (setImmediate), after http2 attached its handlers;
 * - a bridge process's stderr is drained (a full window would stall it) and its tail kept, so a
 *   non-zero exit becomes an error that says what the bridge said.
 */
import { SocketShapedDuplex } from "../socketShapedDuplex";
import type { ClientChannel } from "ssh2";
import { exitOf } from "../ssh/connection";
import { TransportFailure } from "./errors";

/** How the bridge ended, for classifying its failure. */
export interface BridgeExit {
  readonly code: number | undefined;
  readonly signal: string | undefined;
  readonly stderr: string;
}

export interface ChannelSocketOptions {
  /** What the channel goes to, for messages ("unix socket /x on host"). */
  readonly describe: string;
  /** For exec bridges: turns an exit into the error to report. */
  readonly onBridgeExit?: (exit: BridgeExit) => TransportFailure;
  /** Called once, when the first byte arrives from the far side (the tunnel demonstrably works). */
  readonly onFirstData?: () => void;
}

const stderrTailBytes = 4096;

export class ChannelSocket extends SocketShapedDuplex {
  #channel: ClientChannel | undefined;
  #queue: { chunk: Buffer; callback: (err?: Error | null) => void }[] = [];
  #pendingCallbacks = new Set<(err?: Error | null) => void>();
  #endRequested = false;
  #destroyedByUs = false;
  #remoteEnded = false;
  #stderrTail = "";
  #exit: { code: number | undefined; signal: string | undefined } | undefined;
  #sawData = false;
  readonly #options: ChannelSocketOptions;

  constructor(open: () => Promise<ClientChannel>, options: ChannelSocketOptions) {
    super({ allowHalfOpen: true });
    this.#options = options;
    open().then(
      (channel) => this.#attach(channel),
      (err: unknown) => {
        // Deferred: http2 must have attached its listeners before it hears about the failure.
        setImmediate(() =>
          this.destroy(
            err instanceof TransportFailure
              ? err
              : new TransportFailure(
                  "unreachable",
                  `cannot open ${options.describe}: ${(err as Error).message}`,
                  "other",
                  { cause: err },
                ),
          ),
        );
      },
    );
  }

  #attach(channel: ClientChannel): void {
    if (this.destroyed || this.#destroyedByUs) {
      channel.on("error", () => {});
      channel.close();
      return;
    }
    this.#channel = channel;
    channel.on("data", (data: Buffer) => {
      if (!this.#sawData) {
        this.#sawData = true;
        this.#options.onFirstData?.();
      }
      if (!this.push(data)) channel.pause();
    });
    channel.on("end", () => {
      // Not passed on yet: an EOF reaching http2 now would reset the streams with CANCEL before
      // 'close' tells us (exit status, stderr) why the far side went away.
      this.#remoteEnded = true;
    });
    channel.stderr.on("data", (data: Buffer) => {
      this.#stderrTail = (this.#stderrTail + data.toString("utf8")).slice(-stderrTailBytes);
    });
    channel.on("exit", (code: number | null, signal?: string) => {
      this.#exit = { code: code ?? undefined, signal: signal ?? undefined };
    });
    channel.on("error", (err: Error) => {
      if (!this.#destroyedByUs)
        this.destroy(
          new TransportFailure("lost", `${this.#options.describe}: ${err.message}`, undefined, {
            cause: err,
          }),
        );
    });
    channel.on("close", () => this.#onChannelClose());
    const queued = this.#queue;
    this.#queue = [];
    for (const { chunk, callback } of queued) this.#writeToChannel(chunk, callback);
    if (this.#endRequested) channel.end();
  }

  #onChannelClose(): void {
    const failure = this.#closeFailure();
    const pending = [...this.#pendingCallbacks];
    this.#pendingCallbacks.clear();
    for (const cb of pending) cb(failure ?? new TransportFailure("lost", `${this.#options.describe} closed`));
    if (this.#destroyedByUs || this.destroyed) return;
    if (failure) {
      this.destroy(failure);
    } else {
      // Both sides finished normally.
      this.push(null);
      this.destroy();
    }
  }

  /** Undefined when the close was the orderly end of a conversation we ended. */
  #closeFailure(): TransportFailure | undefined {
    const exit = this.#exit ?? (this.#channel ? exitOf(this.#channel) : undefined);
    if (this.#options.onBridgeExit && exit && (exit.code !== 0 || exit.signal)) {
      return this.#options.onBridgeExit({ ...exit, stderr: this.#stderrTail });
    }
    if (this.#endRequested && this.#remoteEnded) return undefined;
    if (this.#options.onBridgeExit && exit && !this.#sawData) {
      return this.#options.onBridgeExit({ ...exit, stderr: this.#stderrTail });
    }
    return new TransportFailure(
      "lost",
      `${this.#options.describe} closed unexpectedly${this.#stderrTail ? `: ${lastLine(this.#stderrTail)}` : ""}`,
    );
  }

  #writeToChannel(chunk: Buffer, callback: (err?: Error | null) => void): void {
    const channel = this.#channel!;
    this.#pendingCallbacks.add(callback);
    channel.write(chunk, (err?: Error | null) => {
      if (!this.#pendingCallbacks.delete(callback)) return; // already failed by close
      callback(err);
    });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    if (!this.#channel) this.#queue.push({ chunk, callback });
    else this.#writeToChannel(chunk, callback);
  }

  /**
   * HTTP/2 writes a call as several frames in one corked burst (HEADERS, DATA, WINDOW_UPDATE…):
   * joined, they leave as one SSH packet and one socket write instead of one each.
   */
  override _writev(chunks: { chunk: Buffer }[], callback: (err?: Error | null) => void): void {
    const data = chunks.length === 1 ? chunks[0]!.chunk : Buffer.concat(chunks.map((c) => c.chunk));
    this._write(data, "binary", callback);
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.#endRequested = true;
    this.#channel?.end();
    callback();
  }

  override _read(): void {
    this.#channel?.resume();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.#destroyedByUs = true;
    const failure = err ?? new TransportFailure("cancelled", `${this.#options.describe} closed`);
    for (const { callback: cb } of this.#queue) cb(failure);
    this.#queue = [];
    const pending = [...this.#pendingCallbacks];
    this.#pendingCallbacks.clear();
    for (const cb of pending) cb(failure);
    if (this.#channel) {
      this.#channel.on("error", () => {});
      this.#channel.close();
    }
    callback(err);
  }
}

function lastLine(text: string): string {
  const lines = text.trim().split("\n");
  return lines[lines.length - 1] ?? "";
}
