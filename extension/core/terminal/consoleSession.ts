import type { MessageInitShape } from "@bufbuild/protobuf";
import { anySignal } from "../abort";
import type { StreamOpts } from "../protect/callOptions";
import type {
  WorkloadConsoleReply,
  WorkloadConsoleRequestSchema,
  ZoneConsoleReply,
  ZoneConsoleRequestSchema,
} from "../../proto/gen/protect/control/v1/control_pb";
import type { TerminalSize } from "./execSession";
import { RequestQueue } from "./requestQueue";

/** Options of the console attaches. */
export interface ConsoleOptions {
  readonly signal?: AbortSignal;
  onStdout?(data: Uint8Array): void;
  onStderr?(data: Uint8Array): void;
}

/** The RPCs consoles follow: ProtectHost's (errors arrive mapped), or a test's fake. */
export interface ConsoleRpc {
  attachZoneConsole(
    requests: AsyncIterable<MessageInitShape<typeof ZoneConsoleRequestSchema>>,
    opts?: StreamOpts,
  ): AsyncIterable<ZoneConsoleReply>;
  attachWorkloadConsole(
    requests: AsyncIterable<MessageInitShape<typeof WorkloadConsoleRequestSchema>>,
    opts?: StreamOpts,
  ): AsyncIterable<WorkloadConsoleReply>;
}

/**
 * A workload's own stdio (AttachWorkloadConsole): what its main process printed (the host
 * replays what it kept, then live output), and its stdin. `ended` resolves when the host ends
 * the stream — the workload's process exited — or the caller detached.
 */
export class WorkloadConsole {
  readonly ended: Promise<void>;
  readonly #requests = new RequestQueue<MessageInitShape<typeof WorkloadConsoleRequestSchema>>();
  readonly #cancel = new AbortController();
  readonly #workloadId: string;

  constructor(
    rpc: Pick<ConsoleRpc, "attachWorkloadConsole">,
    workloadId: string,
    options: ConsoleOptions & { readonly size?: TerminalSize } = {},
  ) {
    this.#workloadId = workloadId;
    this.#requests.push({
      workloadId,
      ...(options.size ? { terminalResize: { rows: options.size.rows, columns: options.size.columns } } : {}),
    });
    const signal = anySignal(options.signal, this.#cancel.signal);
    this.ended = (async () => {
      try {
        for await (const reply of rpc.attachWorkloadConsole(this.#requests, { signal })) {
          if (reply.stdout.length) options.onStdout?.(reply.stdout);
          if (reply.stderr.length) options.onStderr?.(reply.stderr);
        }
      } catch (err) {
        if (this.#cancel.signal.aborted) return;
        throw err;
      } finally {
        this.#requests.end();
      }
    })();
    this.ended.catch(() => undefined); // observed by callers that await it; never crash on an unobserved one
  }

  write(data: Uint8Array): void {
    if (data.length) this.#requests.push({ workloadId: this.#workloadId, stdin: data });
  }

  endInput(): void {
    this.#requests.push({ workloadId: this.#workloadId, stdinClosed: true });
  }

  resize(size: TerminalSize): void {
    this.#requests.push({
      workloadId: this.#workloadId,
      terminalResize: { rows: size.rows, columns: size.columns },
    });
  }

  /** Detaches; the workload keeps running. */
  detach(): void {
    this.#cancel.abort();
  }
}

/**
 * A zone's kernel console (AttachZoneConsole, hvc0): the history the host kept, then live
 * output. No resize: it is a serial console, not a PTY.
 */
export class ZoneConsole {
  readonly ended: Promise<void>;
  readonly #requests = new RequestQueue<MessageInitShape<typeof ZoneConsoleRequestSchema>>();
  readonly #cancel = new AbortController();
  readonly #zoneId: string;

  constructor(
    rpc: Pick<ConsoleRpc, "attachZoneConsole">,
    zoneId: string,
    options: ConsoleOptions & { readonly replayHistory?: boolean } = {},
  ) {
    this.#zoneId = zoneId;
    this.#requests.push({ zoneId, replayHistory: options.replayHistory ?? true });
    const signal = anySignal(options.signal, this.#cancel.signal);
    this.ended = (async () => {
      try {
        for await (const reply of rpc.attachZoneConsole(this.#requests, { signal })) {
          if (reply.data.length) options.onStdout?.(reply.data);
        }
      } catch (err) {
        if (this.#cancel.signal.aborted) return;
        throw err;
      } finally {
        this.#requests.end();
      }
    })();
    this.ended.catch(() => undefined); // observed by callers that await it
  }

  write(data: Uint8Array): void {
    if (data.length) this.#requests.push({ zoneId: this.#zoneId, data });
  }

  detach(): void {
    this.#cancel.abort();
  }
}
