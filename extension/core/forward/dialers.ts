import { Duplex } from "node:stream";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { ProtectError } from "../protect/errors";
import type { StreamOpts } from "../protect/callOptions";
import type { SshConnection } from "../ssh/connection";
import type {
  DialNetworkSocketReply,
  DialNetworkSocketRequestSchema,
} from "../../proto/gen/protect/control/v1/control_pb";
import { RequestQueue } from "../terminal/requestQueue";

/** Opens one byte stream to the far end of a forward. */
export type Dialer = () => Promise<Duplex>;

type DialRequest = MessageInitShape<typeof DialNetworkSocketRequestSchema>;

/** The RPC a dial runs over: ProtectHost's (errors arrive mapped), or a test's fake. */
export interface DialRpc {
  readonly name: string;
  dialNetworkSocket(
    requests: AsyncIterable<DialRequest>,
    opts?: StreamOpts,
  ): AsyncIterable<DialNetworkSocketReply>;
}

/**
 * A DialNetworkSocket stream as a Node Duplex: bytes written go to the TCP connection inside
 * the zone, bytes it sends are read. Ending the write side half-closes the connection (the
 * host closes its write side of the socket). The host ending the stream means the connection
 * is gone both ways (the RPC is over: nothing more is read from us), so the read side ends and,
 * once what the host sent has been read, the stream closes like a socket whose peer left;
 * writes still waiting then fail (ProtectError `lost`) instead of waiting for ever. A failed
 * connect or a broken stream destroys the duplex with a ProtectError.
 */
class DialStream extends Duplex {
  readonly #requests = new RequestQueue<DialRequest>();
  readonly #abort = new AbortController();
  readonly #what: string;
  readonly #hostName: string;
  #resume: (() => void) | undefined;
  /** The write whose chunk the transport has not taken yet (Writable runs one _write at a time). */
  #inFlight: { callback: (error?: Error | null) => void; bytes: number } | undefined;
  /** Writes that can no longer be delivered: failed when the stream closes. */
  readonly #undeliverable: { callback: (error?: Error | null) => void; bytes: number }[] = [];
  #hostEnded = false;

  constructor(rpc: DialRpc, zoneId: string, address: string, port: number) {
    super({ allowHalfOpen: true });
    this.#what = `${address}:${port} in zone ${zoneId}`;
    this.#hostName = rpc.name;
    this.#requests.push({ request: { case: "start", value: { zoneId, address, port } } });
    void this.#pump(rpc); // ends or destroys the stream itself
  }

  async #pump(rpc: DialRpc): Promise<void> {
    try {
      const replies = rpc.dialNetworkSocket(this.#requests, {
        signal: this.#abort.signal,
        about: `to ${this.#what}`,
      });
      for await (const reply of replies) {
        const content = reply.data?.content;
        if (!content?.length) continue;
        if (!this.push(Buffer.from(content))) await new Promise<void>((resolve) => (this.#resume = resolve));
      }
      this.#hostEnded = true;
      // Taken before the queue ends: ending it releases drain waiters as if their chunk had been sent.
      if (this.#inFlight) this.#undeliverable.push(this.#inFlight);
      this.#inFlight = undefined;
      this.#requests.end();
      this.push(null);
      if (this.destroyed) return;
      // Close only once the reader has had everything the host sent: destroying now would drop it.
      if (this.readableEnded) this.destroy();
      else this.once("end", () => this.destroy());
    } catch (err) {
      if (this.destroyed) return;
      this.destroy(err as Error);
    }
  }

  override _read(): void {
    const resume = this.#resume;
    this.#resume = undefined;
    resume?.();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const write = { callback, bytes: chunk.length };
    if (this.#hostEnded) {
      this.#undeliverable.push(write);
      return;
    }
    this.#requests.push({ request: { case: "data", value: { content: chunk } } });
    this.#inFlight = write;
    // Hold the writer back until the transport took the chunk: a fast local sender must not
    // queue unbounded memory behind a slow zone.
    void this.#requests.waitForDrain().then(() => {
      if (this.#inFlight !== write) return; // the host ended first: failed on close
      this.#inFlight = undefined;
      callback();
    });
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#requests.end();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.#inFlight) this.#undeliverable.push(this.#inFlight);
    this.#inFlight = undefined;
    this.#requests.end();
    this.#abort.abort();
    this._read();
    callback(error);
    // After destroy(): the writer hears of its lost bytes; the stream itself emits no 'error' for it.
    const failed = this.#undeliverable.splice(0);
    const bytes = failed.reduce((n, w) => n + w.bytes, 0);
    const lost =
      error ??
      new ProtectError(
        "lost",
        `DialNetworkSocket to ${this.#what} on ${this.#hostName}: the connection was closed; ${bytes} byte(s) written were not delivered.`,
        {
          host: this.#hostName,
          operation: "DialNetworkSocket",
        },
      );
    for (const w of failed) w.callback(lost);
  }
}

/** Dials address:port inside a zone through the daemon (DialNetworkSocket). Works wherever the API does. */
export function protectDialer(rpc: DialRpc, zoneId: string, address: string, port: number): Dialer {
  return async () => new DialStream(rpc, zoneId, address, port);
}

/**
 * Dials address:port as seen from the SSH server (a direct-tcpip channel): for a zone, its IP
 * on the host's bridge. Needs AllowTcpForwarding on the host; no daemon round trip per byte.
 */
export function sshDialer(ssh: () => SshConnection | undefined, address: string, port: number): Dialer {
  return async () => {
    const conn = ssh();
    if (!conn) throw new Error(`no SSH connection to forward ${address}:${port} through`);
    return conn.forwardOut(address, port);
  };
}
