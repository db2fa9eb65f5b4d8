/**
 * A TCP proxy on loopback that sits between a client and a server (an sshd) and does to the
 * connection what real networks do: drop it (RST), stall it (a black hole: bytes go in, nothing
 * comes out, no FIN, no RST — what a dead Wi-Fi or a NAT that forgot the flow looks like), slow
 * it (latency and a bandwidth cap), or refuse new connections. It counts connections and bytes
 * each way, so a test can also measure how much a quiet client sends.
 *
 *   const proxy = await startFaultProxy({ port: sshd.port });
 *   … connect to 127.0.0.1:proxy.port …
 *   proxy.drop();            // every open connection is reset
 *   proxy.stall();           // from now on nothing is forwarded (until resume())
 *   await proxy.close();
 *
 * Stall holds the bytes instead of discarding them, so resume() delivers them in order: a
 * stalled connection that recovers in time is exactly what TCP would give.
 */
import { Socket, createServer } from "node:net";
import type { Server } from "node:net";

/** Where the proxy forwards to. */
export interface FaultProxyOptions {
  readonly host?: string;
  readonly port: number;
}

/** Latency (one way, per chunk) and a bandwidth cap (bytes per second, each direction). */
export interface SlowSettings {
  readonly latencyMs?: number;
  readonly bytesPerSecond?: number;
}

/** What went through the proxy so far. */
export interface FaultProxyStats {
  /** Connections accepted since start. */
  readonly connections: number;
  /** Connections open right now. */
  readonly open: number;
  /** Bytes from client to server, and from server to client (forwarded, not held). */
  readonly bytesUp: number;
  readonly bytesDown: number;
  /** Chunks forwarded each way (a rough count of packets/messages). */
  readonly chunksUp: number;
  readonly chunksDown: number;
  /** Faults injected: connections reset by drop(), stall() calls, connections refused. */
  readonly drops: number;
  readonly stalls: number;
  readonly refused: number;
}

/** A running proxy. */
export interface FaultProxy {
  readonly host: "127.0.0.1";
  readonly port: number;
  readonly stats: FaultProxyStats;
  /** Resets every open connection (both sides); returns how many. New connections still work. */
  drop(): number;
  /** Stops forwarding in both directions, on open and new connections, until resume(). */
  stall(): void;
  /** Delivers what was held and forwards normally again (keeps any slow settings). */
  resume(): void;
  /** Adds latency and/or a bandwidth cap; `slow({})` restores full speed. */
  slow(settings: SlowSettings): void;
  /** While true, new connections are accepted and reset at once (a host that is down). */
  refuse(on: boolean): void;
  /** Resets the byte and chunk counters (not the fault counters), e.g. before an idle window. */
  resetCounters(): void;
  /** Closes the listener and resets every connection. Idempotent. */
  close(): Promise<void>;
}

/** Above this many held bytes per direction the source is paused (back-pressure). */
const highWaterBytes = 1 << 20;

interface Mutable {
  connections: number;
  bytesUp: number;
  bytesDown: number;
  chunksUp: number;
  chunksDown: number;
  drops: number;
  stalls: number;
  refused: number;
}

/** Starts a proxy on a free 127.0.0.1 port forwarding to `host:port`. */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const upstreamHost = options.host ?? "127.0.0.1";
  const counters: Mutable = {
    connections: 0,
    bytesUp: 0,
    bytesDown: 0,
    chunksUp: 0,
    chunksDown: 0,
    drops: 0,
    stalls: 0,
    refused: 0,
  };
  const pairs = new Set<Pair>();
  let stalled = false;
  let refusing = false;
  let slow: Required<SlowSettings> = { latencyMs: 0, bytesPerSecond: 0 };
  let closed = false;

  const conditions: Conditions = {
    get stalled() {
      return stalled;
    },
    get slow() {
      return slow;
    },
  };

  const server: Server = createServer({ pauseOnConnect: true }, (client) => {
    if (refusing || closed) {
      counters.refused++;
      resetSocket(client);
      return;
    }
    counters.connections++;
    const pair = new Pair(client, upstreamHost, options.port, conditions, counters, () => pairs.delete(pair));
    pairs.add(pair);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  if (!address || typeof address !== "object") throw new Error("fault proxy: no address");

  return {
    host: "127.0.0.1",
    port: address.port,
    get stats(): FaultProxyStats {
      return { ...counters, open: pairs.size };
    },
    drop() {
      const n = pairs.size;
      for (const pair of [...pairs]) pair.reset();
      counters.drops += n;
      return n;
    },
    stall() {
      stalled = true;
      counters.stalls++;
    },
    resume() {
      stalled = false;
      for (const pair of pairs) pair.kick();
    },
    slow(settings) {
      slow = { latencyMs: settings.latencyMs ?? 0, bytesPerSecond: settings.bytesPerSecond ?? 0 };
      for (const pair of pairs) pair.kick();
    },
    refuse(on) {
      refusing = on;
    },
    resetCounters() {
      counters.bytesUp = counters.bytesDown = counters.chunksUp = counters.chunksDown = 0;
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const pair of [...pairs]) pair.reset();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Ends a connection with a reset (RST), as a dropped link looks to both ends. Once `end()` has
 * been called the reset is refused (EINVAL) and Node still marks the handle closing without
 * closing it, which makes the process spin at 100 % CPU when it exits; such a socket is
 * destroyed plainly (its FIN is already on the way).
 */
export function resetSocket(socket: Socket): void {
  if (socket.writableEnded || socket.destroyed) socket.destroy();
  else socket.resetAndDestroy();
}

interface Conditions {
  readonly stalled: boolean;
  readonly slow: Required<SlowSettings>;
}

/** A client socket and its upstream socket, with one {@link Direction} each way. */
class Pair {
  readonly #client: Socket;
  readonly #upstream: Socket;
  readonly #up: Direction;
  readonly #down: Direction;
  #done = false;

  constructor(
    client: Socket,
    host: string,
    port: number,
    conditions: Conditions,
    counters: Mutable,
    onGone: () => void,
  ) {
    this.#client = client;
    this.#upstream = new Socket();
    this.#up = new Direction(client, this.#upstream, conditions, (n) => {
      counters.bytesUp += n;
      counters.chunksUp++;
    });
    this.#down = new Direction(this.#upstream, client, conditions, (n) => {
      counters.bytesDown += n;
      counters.chunksDown++;
    });
    const finish = (): void => {
      if (this.#done) return;
      this.#done = true;
      this.#up.stop();
      this.#down.stop();
      this.#client.destroy();
      this.#upstream.destroy();
      onGone();
    };
    // Any error or close on either side ends the pair; a drop must look like a reset to both.
    for (const s of [client, this.#upstream]) {
      s.on("error", () => finish());
      s.on("close", () => finish());
    }
    this.#upstream.setNoDelay(true);
    client.setNoDelay(true);
    this.#upstream.connect(port, host, () => {
      client.resume();
    });
  }

  reset(): void {
    if (this.#done) return;
    resetSocket(this.#client);
    resetSocket(this.#upstream);
  }

  kick(): void {
    this.#up.pump();
    this.#down.pump();
  }
}

/** One direction of a pair: chunks are queued with their release time and forwarded in order. */
class Direction {
  readonly #queue: { data: Buffer; at: number }[] = [];
  #queued = 0;
  #timer: NodeJS.Timeout | undefined;
  #waitingForDrain = false;
  /** When the bandwidth cap lets the next byte go. */
  #nextFree = 0;
  #ended = false;
  #stopped = false;

  constructor(
    private readonly from: Socket,
    private readonly to: Socket,
    private readonly conditions: Conditions,
    private readonly count: (bytes: number) => void,
  ) {
    from.on("data", (chunk: Buffer) => {
      this.#queue.push({ data: chunk, at: Date.now() + conditions.slow.latencyMs });
      this.#queued += chunk.length;
      if (this.#queued > highWaterBytes) from.pause();
      this.pump();
    });
    from.on("end", () => {
      this.#ended = true;
      this.pump();
    });
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  pump(): void {
    if (this.#stopped || this.#timer || this.#waitingForDrain || this.conditions.stalled) return;
    const { bytesPerSecond } = this.conditions.slow;
    while (this.#queue.length) {
      const head = this.#queue[0]!;
      const now = Date.now();
      const due = Math.max(head.at, bytesPerSecond ? this.#nextFree : 0);
      if (due > now) {
        this.#timer = setTimeout(() => {
          this.#timer = undefined;
          this.pump();
        }, due - now);
        return;
      }
      // Under a cap, send at most ~10 ms worth at a time so the rate stays smooth.
      let data = head.data;
      if (bytesPerSecond) {
        const slice = Math.max(1, Math.floor(bytesPerSecond / 100));
        if (data.length > slice) {
          head.data = data.subarray(slice);
          data = data.subarray(0, slice);
        } else {
          this.#queue.shift();
        }
        this.#nextFree = Math.max(now, this.#nextFree) + (data.length * 1000) / bytesPerSecond;
      } else {
        this.#queue.shift();
      }
      this.#queued -= data.length;
      this.count(data.length);
      const ok = this.to.write(data);
      if (this.#queued <= highWaterBytes / 2 && this.from.isPaused()) this.from.resume();
      if (!ok) {
        this.#waitingForDrain = true;
        this.to.once("drain", () => {
          this.#waitingForDrain = false;
          this.pump();
        });
        return;
      }
      if (this.conditions.stalled) return;
    }
    if (this.#ended && !this.#queue.length) this.to.end();
  }
}
