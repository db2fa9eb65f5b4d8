import { createServer } from "node:net";
import type { Server, Socket } from "node:net";
import type { Duplex } from "node:stream";
import { messageOf } from "../errors";
import { Emitter } from "../events";
import type { Event } from "../events";
import { Disposable, toDisposable } from "../lifecycle";
import type { Logger } from "../log";
import { silentLogger } from "../log";
import { ForwardError } from "./errors";
import type { Dialer } from "./dialers";

/** What to listen on and where it leads. */
export interface ForwardSpec {
  /** Default 127.0.0.1: a forward is for this machine's user, not the network. */
  readonly localAddress?: string;
  /** 0: any free port. */
  readonly localPort: number;
  /** For display: "zone-name:8080". */
  readonly remote: string;
  readonly label?: string;
}

/** A forward as listed to the user. */
export interface ActiveForward {
  readonly localAddress: string;
  readonly localPort: number;
  readonly remote: string;
  readonly label: string | undefined;
  /** Connections open right now. */
  readonly connections: number;
  /** Connections accepted since the forward opened. */
  readonly accepted: number;
}

/** A connection through a forward could not be set up or broke. */
export interface ForwardFailure {
  readonly forward: ActiveForward;
  readonly error: Error;
}

/**
 * One local TCP listener whose every connection is piped to a freshly dialled remote stream.
 * Closing it stops listening and cuts the connections still open.
 */
export class PortForward extends Disposable {
  readonly #server: Server;
  readonly #spec: ForwardSpec;
  readonly #sockets = new Set<Socket>();
  readonly #remotes = new Set<Duplex>();
  readonly #onDidFail = this.register(new Emitter<ForwardFailure>());
  #accepted = 0;
  #closed: Promise<void> | undefined;

  /** A connection through this forward failed (the far end refused, the stream broke). */
  readonly onDidFail: Event<ForwardFailure> = this.#onDidFail.event;

  private constructor(server: Server, spec: ForwardSpec, dial: Dialer, log: Logger) {
    super();
    this.#server = server;
    this.#spec = spec;
    server.on("connection", (socket: Socket) => this.#accept(socket, dial, log));
    this.register(toDisposable(() => void this.close())); // dispose is sync; close() finishes on its own
  }

  /** Starts listening. Rejects with ForwardError `portInUse` / `listenFailed`. */
  static async open(
    spec: ForwardSpec,
    dial: Dialer,
    options: { logger?: Logger } = {},
  ): Promise<PortForward> {
    const server = createServer({ pauseOnConnect: true });
    const address = spec.localAddress ?? "127.0.0.1";
    await new Promise<void>((resolve, reject) => {
      server.once("error", (err: NodeJS.ErrnoException) => {
        const reason = err.code === "EADDRINUSE" ? "portInUse" : "listenFailed";
        reject(
          new ForwardError(
            reason,
            reason === "portInUse"
              ? `local port ${address}:${spec.localPort} is already in use (forward ${spec.remote} to another port: PORT:LOCAL)`
              : `cannot listen on ${address}:${spec.localPort}: ${err.message}`,
            { cause: err },
          ),
        );
      });
      server.listen(spec.localPort, address, () => resolve());
    });
    return new PortForward(server, spec, dial, options.logger ?? silentLogger);
  }

  /** Where it listens, and what it leads to. */
  get info(): ActiveForward {
    const a = this.#server.address();
    const port = a && typeof a === "object" ? a.port : this.#spec.localPort;
    const host = a && typeof a === "object" ? a.address : (this.#spec.localAddress ?? "127.0.0.1");
    return {
      localAddress: host,
      localPort: port,
      remote: this.#spec.remote,
      label: this.#spec.label,
      connections: this.#sockets.size,
      accepted: this.#accepted,
    };
  }

  /** Stops listening and cuts open connections. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      for (const s of this.#sockets) s.destroy();
      for (const r of this.#remotes) r.destroy();
    });
    return this.#closed;
  }

  #accept(socket: Socket, dial: Dialer, log: Logger): void {
    this.#accepted++;
    this.#sockets.add(socket);
    socket.on("close", () => this.#sockets.delete(socket));
    socket.on("error", () => undefined); // a reset by the local client is its own business
    const fail = (error: Error): void => {
      log.debug(
        `forward ${this.info.localAddress}:${this.info.localPort} → ${this.#spec.remote}: ${messageOf(error)}`,
      );
      this.#onDidFail.fire({ forward: this.info, error });
    };
    dial().then(
      (remote) => {
        if (socket.destroyed || this.#closed) {
          remote.destroy();
          return;
        }
        this.#remotes.add(remote);
        remote.on("close", () => {
          this.#remotes.delete(remote);
          if (!socket.destroyed && socket.writableEnded) socket.destroy();
        });
        remote.on("error", (err: Error) => {
          fail(err);
          socket.destroy();
        });
        socket.on("close", () => remote.destroy());
        // pipe() carries each side's end to the other: half-close works both ways.
        socket.pipe(remote);
        remote.pipe(socket);
        socket.resume();
      },
      (err: unknown) => {
        fail(err instanceof Error ? err : new Error(String(err)));
        socket.destroy();
      },
    );
  }
}

/** The forwards of one session (`up --forward`, `zonectl forward`, later the extension). */
export class ForwardSet extends Disposable {
  readonly #forwards: PortForward[] = [];

  add(forward: PortForward): PortForward {
    this.#forwards.push(this.register(forward));
    return forward;
  }

  list(): ActiveForward[] {
    return this.#forwards.filter((f) => !f.isDisposed).map((f) => f.info);
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.#forwards.map((f) => f.close()));
    this.dispose();
  }
}
