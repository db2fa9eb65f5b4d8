import { connect } from "node:net";
import type { Socket } from "node:net";
import { chmodSync, existsSync, lstatSync, mkdirSync, rmdirSync, unlinkSync } from "node:fs";
import type { Stats } from "node:fs";
import { dirname } from "node:path";
import * as http2 from "node:http2";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { ServiceImpl } from "@connectrpc/connect";
import type { ControlService } from "../proto/gen/protect/control/v1/control_pb";
import { ControlService as ControlServiceDesc } from "../proto/gen/protect/control/v1/control_pb";
import { DevHostError } from "./errors";

/**
 * The gRPC endpoint: HTTP/2 cleartext on a unix socket (mode 0600, like protect-daemon's
 * root-owned socket), serving ControlService through Connect's node adapter. Methods missing
 * from `impl` are answered UNIMPLEMENTED by Connect.
 */
export class GrpcServer {
  readonly #server: http2.Http2Server;
  readonly #sessions = new Set<http2.ServerHttp2Session>();
  readonly #sockets = new Set<Socket>();
  readonly #shutdown = new AbortController();
  #createdDirs: { top: string | undefined; leaf: string } | undefined;

  constructor(impl: Partial<ServiceImpl<typeof ControlService>>) {
    const handler = connectNodeAdapter({
      routes: (router) => router.service(ControlServiceDesc, impl),
      // Aborts every handler's signal at shutdown, so long-lived streams (WatchEvents) end.
      shutdownSignal: this.#shutdown.signal,
      // Replies go uncompressed, as from a gRPC server that has not enabled compression (tonic's
      // default, so protect-daemon's). Connect's default gzips every reply over 1 KB; on a local
      // socket or an SSH channel that costs more CPU than it saves: 100 MiB of TTY output took
      // 1.5 s of the client's CPU gunzipping, 0.75 s plain (out of 2.6 s wall, on 2 cores).
      acceptCompression: [],
    });
    this.#server = http2.createServer({}, handler);
    this.#server.on("session", (s) => {
      this.#sessions.add(s);
      s.on("close", () => this.#sessions.delete(s));
    });
    this.#server.on("connection", (socket: Socket) => {
      this.#sockets.add(socket);
      socket.on("close", () => this.#sockets.delete(socket));
    });
  }

  async listen(socketPath: string): Promise<void> {
    const dir = dirname(socketPath);
    // Remember what we created (e.g. /var/lib/edera/protect), to leave no empty folders behind.
    if (!existsSync(dir))
      this.#createdDirs = { top: mkdirSync(dir, { recursive: true, mode: 0o700 }), leaf: dir };
    const existing = lstatIfAny(socketPath);
    if (existing) {
      // Only a socket is ours to replace: --socket pointing at a file must never delete it.
      if (!existing.isSocket())
        throw new DevHostError(
          "alreadyExists",
          `${socketPath} exists and is not a socket; refusing to replace it (choose another --socket)`,
        );
      if (await answers(socketPath))
        throw new DevHostError("alreadyExists", `another daemon is already serving ${socketPath}`);
      unlinkSync(socketPath); // stale socket of a process that is gone
    }
    // The socket is created 0600 (umask for the bind), not chmodded after: no window in which
    // anyone else could connect.
    const previous = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        this.#server.once("error", reject);
        this.#server.listen(socketPath, () => {
          this.#server.off("error", reject);
          resolve();
        });
      });
    } finally {
      process.umask(previous);
    }
    chmodSync(socketPath, 0o600);
    this.#listening = true;
  }

  #listening = false;

  /** Stops accepting, ends open streams (WatchEvents would otherwise hold the server open). */
  async close(socketPath: string | undefined): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#shutdown.abort(new DevHostError("unavailable", "the dev host is shutting down"));
    for (const s of this.#sessions) s.close();
    const timer = setTimeout(() => {
      for (const s of this.#sessions) s.destroy();
      for (const sock of this.#sockets) sock.destroy();
    }, 1000);
    await closed;
    clearTimeout(timer);
    if (socketPath && this.#listening) {
      try {
        unlinkSync(socketPath);
      } catch {
        // already removed
      }
    }
    const created = this.#createdDirs;
    if (created?.top) {
      for (let d = created.leaf; d.startsWith(created.top); d = dirname(d)) {
        try {
          rmdirSync(d);
        } catch {
          break; // not empty (someone else's files): keep it and its parents
        }
      }
    }
  }
}

function answers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(socketPath);
    sock.once("connect", () => {
      sock.destroy();
      resolve(true);
    });
    sock.once("error", () => resolve(false));
  });
}

function lstatIfAny(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}
