import type { MessageInitShape } from "@bufbuild/protobuf";
import { userSpec } from "../devcontainer/translate/workload";
import { anySignal } from "../abort";
import { ProtectError } from "../protect/errors";
import type { StreamOpts } from "../protect/callOptions";
import type {
  ExecuteZoneCommandReply,
  ExecuteZoneCommandRequestSchema,
} from "../../proto/gen/protect/control/v1/control_pb";
import { RequestQueue } from "./requestQueue";

/** Rows and columns of a terminal. */
export interface TerminalSize {
  readonly rows: number;
  readonly columns: number;
}

/** What to run with ExecuteZoneCommand. */
export interface ExecRequest {
  readonly zoneId: string;
  /** Run inside this workload's container (its root, env, user); empty or absent: in the zone itself. */
  readonly workloadId?: string;
  /** The exact argv; never joined into a shell string. */
  readonly command: readonly string[];
  /** Added to (and overriding) the workload's environment. */
  readonly env?: Readonly<Record<string, string>>;
  readonly workingDirectory?: string;
  /** "name", "uid", "user:group": as containerUser/remoteUser are written. */
  readonly user?: string;
  /** Allocate a PTY of this size (stdout and stderr then arrive merged on stdout). */
  readonly tty?: TerminalSize;
}

/** Options of {@link startExec}. */
export interface ExecOptions {
  readonly signal?: AbortSignal | undefined;
  /** Output; a returned promise holds further output back until it settles (back-pressure). */
  onStdout?(data: Uint8Array): unknown;
  onStderr?(data: Uint8Array): unknown;
}

type Request = MessageInitShape<typeof ExecuteZoneCommandRequestSchema>;

/** The RPC an exec session runs over: ProtectHost's (whose errors arrive mapped), or a test's fake. */
export interface ExecRpc {
  readonly name: string;
  executeZoneCommand(
    requests: AsyncIterable<Request>,
    opts?: StreamOpts,
  ): AsyncIterable<ExecuteZoneCommandReply>;
}

/**
 * One running ExecuteZoneCommand: stdin in, output out, resizes, and the exit code. Shared by
 * hooks (no stdin), `zonectl exec`/`shell` and, later, VS Code terminals.
 */
export class ExecSession {
  /** The process's exit code (128 + n for a signal death). Rejects with ProtectError. */
  readonly exited: Promise<number>;
  readonly #requests = new RequestQueue<Request>();
  readonly #cancel = new AbortController();
  #inputClosed = false;

  /** @internal use {@link startExec} */
  constructor(rpc: ExecRpc, request: ExecRequest, options: ExecOptions) {
    const user = request.user !== undefined && request.user !== "" ? userSpec(request.user) : undefined;
    this.#requests.push({
      request: {
        case: "start",
        value: {
          zoneId: request.zoneId,
          workloadId: request.workloadId ?? "",
          process: {
            command: [...request.command],
            environment: Object.entries(request.env ?? {}).map(([key, value]) => ({ key, value })),
            workingDirectory: request.workingDirectory ?? "",
            tty: request.tty !== undefined,
            ...(request.tty
              ? { terminalSize: { rows: request.tty.rows, columns: request.tty.columns } }
              : {}),
            stdin: true,
            stdout: true,
            stderr: true,
            ...(user ? { user: user.user, ...(user.group ? { group: user.group } : {}) } : {}),
          },
        },
      },
    });
    const host = rpc.name;
    const signal = anySignal(options.signal, this.#cancel.signal);
    this.exited = (async () => {
      let exitCode: number | undefined;
      try {
        for await (const reply of rpc.executeZoneCommand(this.#requests, { signal })) {
          if (reply.reply.case === "output") {
            const { stdout, stderr } = reply.reply.value;
            // A slow consumer stops the loop, so HTTP/2 flow control slows the host down.
            if (stdout.length) await paced(options.onStdout?.(stdout));
            if (stderr.length) await paced(options.onStderr?.(stderr));
          } else if (reply.reply.case === "exited") {
            exitCode = reply.reply.value.exitCode;
            // Nothing more to send once the process is gone: half-close now, so the host can
            // finish the call at once instead of waiting for our side to end the stream.
            this.#requests.end();
          }
        }
      } finally {
        this.#requests.end();
      }
      if (exitCode === undefined) {
        throw new ProtectError(
          "lost",
          `ExecuteZoneCommand on ${host}: the stream ended without an exit status.`,
          { host, operation: "ExecuteZoneCommand" },
        );
      }
      return exitCode;
    })();
    // Callers that only care about output still learn of failure through `exited`; this keeps
    // an unobserved rejection from crashing the process when they stop listening early.
    this.exited.catch(() => undefined);
  }

  /** Sends bytes to the process's stdin (ignored after endInput). */
  write(data: Uint8Array | string): void {
    if (this.#inputClosed) return;
    const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    if (bytes.length) this.#requests.push({ request: { case: "stdin", value: { stdin: bytes } } });
  }

  /** Closes stdin: the process reads EOF. The request stream stays open for resizes. */
  endInput(): void {
    if (this.#inputClosed) return;
    this.#inputClosed = true;
    this.#requests.push({ request: { case: "stdin", value: { stdin: new Uint8Array(), closed: true } } });
  }

  /** Tells the PTY its new size (the process gets SIGWINCH). */
  resize(size: TerminalSize): void {
    if (size.rows > 0 && size.columns > 0)
      this.#requests.push({
        request: { case: "terminalResize", value: { size: { rows: size.rows, columns: size.columns } } },
      });
  }

  /** Resolves once every queued stdin chunk was handed to the transport (back-pressure for big inputs). */
  drained(): Promise<void> {
    return this.#requests.waitForDrain();
  }

  /** Abandons the stream; the host ends the process (SIGHUP, as when an SSH session drops). */
  cancel(): void {
    this.#cancel.abort();
  }
}

/** A callback's promise, or nothing to wait for when it returned anything else. */
function paced(result: unknown): Promise<unknown> | undefined {
  return result instanceof Promise ? result : undefined;
}

/** Starts a command in a zone or workload. */
export function startExec(rpc: ExecRpc, request: ExecRequest, options: ExecOptions = {}): ExecSession {
  return new ExecSession(rpc, request, options);
}
