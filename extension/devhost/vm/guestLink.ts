import { connect } from "node:net";
import type { ClientHttp2Stream, ClientSessionRequestOptions, OutgoingHttpHeaders } from "node:http2";
import { createClient } from "@connectrpc/connect";
import type { Client } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { Emitter } from "../../core/events";
import { messageOf } from "../../core/errors";
import { guardClientStream } from "../../core/protect/clientStream";
import { GuestAgent } from "../../proto/gen/styrolite/guest/v1/agent_pb";
import type { SpawnRequest } from "../../proto/gen/styrolite/guest/v1/agent_pb";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { DialRequestSchema, SpawnRequestSchema } from "../../proto/gen/styrolite/guest/v1/agent_pb";
import { AsyncQueue } from "../../core/asyncQueue";
import type { ProcessExit, SandboxProcess } from "../sandbox/processes";

export type GuestClient = Client<typeof GuestAgent>;

/** What a process in the guest runs as: argv, its whole environment, PTY or pipes. */
export interface GuestSpawn {
  argv: string[];
  env: Record<string, string>;
  cwd?: string;
  tty?: { columns: number; rows: number } | undefined;
  stdin: boolean;
}

/** The exit reported when the link to the agent broke before the process's exit came. */
export const lostLinkExit: ProcessExit = { code: 255, signal: undefined };

/**
 * Streams of a session the dev host opens on the VM's agent socket are read through
 * guardClientStream, as the product's own client reads the Protect daemon's.
 */
class LinkSessionManager extends Http2SessionManager {
  readonly #guarded = new WeakSet<object>();

  override async request(
    method: string,
    path: string,
    headers: OutgoingHttpHeaders,
    options: Omit<ClientSessionRequestOptions, "signal">,
  ): Promise<ClientHttp2Stream> {
    const stream = await super.request(method, path, headers, options);
    guardClientStream(stream);
    const session = stream.session;
    if (session && !this.#guarded.has(session)) {
      // A session that ends while nobody listens must not crash the dev host; calls see the error.
      this.#guarded.add(session);
      session.on("error", () => {});
    }
    return stream;
  }
}

/**
 * The dev host's end of a VM's agent link: one HTTP/2 session on QEMU's socket for the
 * virtio-serial port, kept for the VM's life. It never idles out and never pings: the other end
 * is a byte pipe into the guest, and a new connection would land in the middle of the old one's
 * bytes still queued in the guest.
 */
export class GuestLink {
  /** The guest agent's gRPC client (not the Protect daemon's: this one talks to the VM). */
  readonly agent: GuestClient;
  readonly #manager: LinkSessionManager;

  constructor(socketPath: string) {
    this.#manager = new LinkSessionManager(
      "http://guest",
      { idleConnectionTimeoutMs: 2 ** 31 - 1 },
      { createConnection: () => connect({ path: socketPath }), settings: { initialWindowSize: 1024 * 1024 } },
    );
    this.agent = createClient(
      GuestAgent,
      createGrpcTransport({ baseUrl: "http://guest", sessionManager: this.#manager }),
    );
  }

  close(): void {
    this.#manager.abort();
  }

  /** Starts a process in the guest; the result behaves as a local SandboxProcess does. */
  spawn(spec: GuestSpawn): SandboxProcess {
    return spawnInGuest(this.agent, spec);
  }
}

type RequestInit = MessageInitShape<typeof SpawnRequestSchema>;

/**
 * A Spawn call as a SandboxProcess: stdin, resize, signals and hang-up go out as requests;
 * output arrives as replies, and pause() stops reading them so that HTTP/2 flow control reaches
 * the agent, which pauses the process — a slow client slows a process in a VM as it does one on
 * the host.
 */
export function spawnInGuest(client: GuestClient, spec: GuestSpawn): SandboxProcess {
  const requests = new AsyncQueue<RequestInit>();
  const stdout = new Emitter<Buffer>();
  const stderr = new Emitter<Buffer>();
  const abort = new AbortController();
  let pid = -1;
  let paused: { promise: Promise<void>; resume: () => void } | undefined;
  let done = false;
  requests.push({
    request: {
      case: "start",
      value: {
        argv: spec.argv,
        env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
        cwd: spec.cwd ?? "/",
        ...(spec.tty ? { tty: spec.tty } : {}),
        stdin: spec.stdin,
      },
    },
  });
  const send = (request: SpawnRequest["request"] | RequestInit["request"]): void => {
    if (!done) requests.push({ request } as RequestInit);
  };

  const exited = (async (): Promise<ProcessExit> => {
    try {
      for await (const reply of client.spawn(generatorOf(requests), { signal: abort.signal })) {
        const r = reply.reply;
        if (r.case === "started") pid = r.value;
        else if (r.case === "stdout") stdout.fire(Buffer.from(r.value));
        else if (r.case === "stderr") stderr.fire(Buffer.from(r.value));
        else if (r.case === "exited") {
          done = true;
          requests.end();
          return { code: r.value.code, signal: (r.value.signal || undefined) as NodeJS.Signals | undefined };
        }
        if (paused) await paused.promise;
      }
      return lostLinkExit;
    } catch (err) {
      if (!abort.signal.aborted)
        stderr.fire(Buffer.from(`dev host: lost the VM's agent while the process ran: ${messageOf(err)}\n`));
      return lostLinkExit;
    } finally {
      done = true;
      requests.end();
    }
  })();

  return {
    get pid() {
      return pid;
    },
    tty: spec.tty !== undefined,
    onStdout: stdout.event,
    onStderr: stderr.event,
    exited,
    write: (data) => send({ case: "stdin", value: data }),
    endInput: () => send({ case: "closeStdin", value: true }),
    resize: (columns, rows) => send({ case: "resize", value: { columns, rows } }),
    pause: () => {
      if (paused) return;
      let resume = (): void => undefined;
      const promise = new Promise<void>((r) => (resume = r));
      paused = { promise, resume };
    },
    resume: () => {
      const p = paused;
      paused = undefined;
      p?.resume();
    },
    hangUp: () => send({ case: "hangUp", value: true }),
    kill: (signal) => {
      send({ case: "signal", value: signal });
      // A process whose host side is gone for good: the call ends with it.
      if (signal === "SIGKILL") setTimeout(() => abort.abort(), 5000).unref();
    },
  };
}

/**
 * A Dial call as a SandboxProcess, the shape DialNetworkSocket relays: bytes from the guest
 * connection are stdout, writes go to it, endInput half-closes it. A failed connection ends
 * with exit 1 and its reason on stderr.
 */
export function dialInGuest(client: GuestClient, address: string, port: number): SandboxProcess {
  type DialInit = MessageInitShape<typeof DialRequestSchema>;
  const requests = new AsyncQueue<DialInit>();
  const stdout = new Emitter<Buffer>();
  const stderr = new Emitter<Buffer>();
  const abort = new AbortController();
  let paused: { promise: Promise<void>; resume: () => void } | undefined;
  requests.push({ request: { case: "start", value: { address, port } } });
  const exited = (async (): Promise<ProcessExit> => {
    try {
      for await (const reply of client.dial(generatorOf(requests), { signal: abort.signal })) {
        if (reply.reply.case === "data") stdout.fire(Buffer.from(reply.reply.value));
        if (paused) await paused.promise;
      }
      return { code: 0, signal: undefined };
    } catch (err) {
      stderr.fire(Buffer.from(`E ${abort.signal.aborted ? "closed" : messageOf(err)}\n`));
      return { code: 1, signal: undefined };
    } finally {
      requests.end();
    }
  })();
  return {
    pid: -1,
    tty: false,
    onStdout: stdout.event,
    onStderr: stderr.event,
    exited,
    write: (data) => requests.push({ request: { case: "data", value: data } }),
    endInput: () => requests.end(),
    resize: () => undefined,
    pause: () => {
      if (paused) return;
      let resume = (): void => undefined;
      const promise = new Promise<void>((r) => (resume = r));
      paused = { promise, resume };
    },
    resume: () => {
      const p = paused;
      paused = undefined;
      p?.resume();
    },
    hangUp: () => abort.abort(),
    kill: () => abort.abort(),
  };
}

/** Connect ends a request stream with the iterator's throw(), which only generators have. */
async function* generatorOf<T>(queue: AsyncQueue<T>): AsyncGenerator<T> {
  yield* queue;
}
