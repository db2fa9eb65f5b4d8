import { Duplex } from "node:stream";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { toProtectError } from "../protect/errors";
import type { ControlClient } from "../protect/host";
import type { SshConnection } from "../ssh/connection";
import type { DialNetworkSocketRequestSchema } from "../../proto/gen/protect/control/v1/control_pb";
import { RequestQueue } from "../terminal/requestQueue";

/** Opens one byte stream to the far end of a forward. */
export type Dialer = () => Promise<Duplex>;

type DialRequest = MessageInitShape<typeof DialNetworkSocketRequestSchema>;

/**
 * A DialNetworkSocket stream as a Node Duplex: bytes written go to the TCP connection inside
 * the zone, bytes it sends are read. Ending the write side half-closes the connection (the
 * host closes its write side of the socket); the host ending the stream ends the read side; a
 * failed connect or a broken stream destroys the duplex with a ProtectError.
 */
class DialStream extends Duplex {
  readonly #requests = new RequestQueue<DialRequest>();
  readonly #abort = new AbortController();
  #resume: (() => void) | undefined;

  constructor(client: ControlClient, zoneId: string, address: string, port: number, hostName: string) {
    super({ allowHalfOpen: true });
    this.#requests.push({ request: { case: "start", value: { zoneId, address, port } } });
    void this.#pump(client, `${address}:${port} in zone ${zoneId}`, hostName); // ends or destroys the stream itself
  }

  async #pump(client: ControlClient, what: string, hostName: string): Promise<void> {
    try {
      for await (const reply of client.dialNetworkSocket(this.#requests, { signal: this.#abort.signal })) {
        const content = reply.data?.content;
        if (!content?.length) continue;
        if (!this.push(Buffer.from(content))) await new Promise<void>((resolve) => (this.#resume = resolve));
      }
      this.push(null);
    } catch (err) {
      if (this.destroyed) return;
      const error = toProtectError(err, `DialNetworkSocket to ${what}`, hostName);
      this.destroy(error);
    }
  }

  override _read(): void {
    const resume = this.#resume;
    this.#resume = undefined;
    resume?.();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#requests.push({ request: { case: "data", value: { content: chunk } } });
    // Hold the writer back until the transport took the chunk: a fast local sender must not
    // queue unbounded memory behind a slow zone.
    void this.#requests.waitForDrain().then(() => callback());
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#requests.end();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#requests.end();
    this.#abort.abort();
    this._read();
    callback(error);
  }
}

/** Dials address:port inside a zone through the daemon (DialNetworkSocket). Works wherever the API does. */
export function protectDialer(client: ControlClient, zoneId: string, address: string, port: number, hostName = "the host"): Dialer {
  return async () => new DialStream(client, zoneId, address, port, hostName);
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
