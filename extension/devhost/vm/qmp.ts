import { connect } from "node:net";
import type { Socket } from "node:net";
import { delay } from "../../core/abort";
import { DevHostError } from "../errors";

type Pending = { resolve: (value: unknown) => void; reject: (err: Error) => void };

/**
 * QEMU's machine protocol (QMP) on its unix socket: one JSON object per line. After the greeting,
 * `qmp_capabilities` leaves negotiation mode; each command carries an id and its answer
 * (`return` or `error`) comes back with it, with asynchronous events interleaved.
 */
export class QmpClient {
  #buffer = "";
  #nextId = 1;
  readonly #pending = new Map<string, Pending>();
  #closed: Error | undefined;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding("utf8");
    socket.on("data", (text: string) => this.#onData(text));
    socket.on("error", () => undefined);
    socket.on("close", () => this.#fail(new DevHostError("unavailable", "QEMU's monitor connection closed")));
  }

  /** Connects, retrying while QEMU has not created the socket yet, and negotiates. */
  static async connect(path: string, timeoutMs: number): Promise<QmpClient> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const socket = await new Promise<Socket>((resolve, reject) => {
          const s = connect({ path });
          s.once("connect", () => resolve(s));
          s.once("error", reject);
        });
        const client = new QmpClient(socket);
        await client.execute("qmp_capabilities");
        return client;
      } catch (err) {
        if (Date.now() > deadline)
          throw new DevHostError(
            "unavailable",
            `QEMU's monitor did not answer on ${path}: ${(err as Error).message}`,
          );
        await delay(50);
      }
    }
  }

  /** Runs a command; resolves with its `return` value, rejects with QEMU's error description. */
  execute(command: string, args?: Record<string, unknown>): Promise<unknown> {
    if (this.#closed) return Promise.reject(this.#closed);
    const id = String(this.#nextId++);
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.socket.write(
        `${JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}), id })}\n`,
      );
    });
  }

  close(): void {
    this.socket.destroy();
  }

  #onData(text: string): void {
    this.#buffer += text;
    for (let nl = this.#buffer.indexOf("\n"); nl >= 0; nl = this.#buffer.indexOf("\n")) {
      const line = this.#buffer.slice(0, nl).trim();
      this.#buffer = this.#buffer.slice(nl + 1);
      if (!line) continue;
      let message: { id?: unknown; return?: unknown; error?: { class?: string; desc?: string } };
      try {
        message = JSON.parse(line) as typeof message;
      } catch {
        continue;
      }
      const id = typeof message.id === "string" ? message.id : undefined;
      const pending = id === undefined ? undefined : this.#pending.get(id);
      if (!pending || id === undefined) continue; // the greeting, or an event
      this.#pending.delete(id);
      if (message.error)
        pending.reject(
          new DevHostError(
            "failedPrecondition",
            `QEMU: ${message.error.desc ?? message.error.class ?? "error"}`,
          ),
        );
      else pending.resolve(message.return);
    }
  }

  #fail(err: Error): void {
    this.#closed = err;
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
  }
}
