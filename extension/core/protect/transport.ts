/**
 * The gRPC transport to a Protect daemon: Connect's gRPC protocol over HTTP/2, whose socket is
 * either a local unix socket or an SSH channel to the daemon socket on the host. Over SSH the
 * channel is `direct-streamlocal@openssh.com` when the server allows it and the SSH user may open
 * the socket; otherwise an exec channel running a bridge command (default
 * `sudo -n socat - UNIX-CONNECT:<socket>`). One HTTP/2 session — one channel — carries every RPC;
 * a new channel is opened only when the session manager reconnects.
 */
import { connect as netConnect } from "node:net";
import type {
  ClientHttp2Stream,
  Http2Session,
  ClientSessionRequestOptions,
  OutgoingHttpHeaders,
} from "node:http2";
import type { Duplex } from "node:stream";
import type { Interceptor, Transport } from "@connectrpc/connect";
import type { ClientChannel } from "ssh2";
import { Http2SessionManager, createGrpcTransport } from "@connectrpc/connect-node";
import type { Logger } from "../log";
import { silentLogger } from "../log";
import type { SshConnection } from "../ssh/connection";
import { SshError } from "../ssh/errors";
import { printable } from "../ssh/printable";
import { shellQuote } from "../ssh/shellQuote";
import { ChannelSocket } from "./channelSocket";
import type { BridgeExit } from "./channelSocket";
import { ProtectError, TransportFailure } from "./errors";
import { guardClientStream } from "./clientStream";

/** Where protect-daemon listens on a Styrolite host. */
export const defaultSocketPath = "/var/lib/edera/protect/daemon.socket";

/** The exec bridge; `{socket}` becomes the shell-quoted socket path. */
export const defaultBridgeCommand = "sudo -n socat - UNIX-CONNECT:{socket}";

/** How to reach the socket over SSH: try streamlocal then the bridge, or force one. */
export type ChannelMode = "auto" | "streamlocal" | "bridge";

/** Which way the current tunnel goes. */
export type DaemonRoute = "unix" | "streamlocal" | "bridge";

/** A transport plus the handle to close it (Connect transports have no close()). */
export interface DaemonTransport {
  readonly transport: Transport;
  /** The route of the tunnel most recently opened, undefined before the first call. */
  readonly route: DaemonRoute | undefined;
  /** Closes the HTTP/2 session and its channel; in-flight calls fail with `cancelled`. */
  close(): void;
}

/**
 * Connect's session manager, with two guards on what it hands out:
 * - a no-op 'error' listener on every HTTP/2 session: after abort() or a PING timeout a dead
 *   session may emit 'error' when nobody listens any more, which would crash the process.
 *   Stream errors still reach the RPCs;
 * - every stream is guarded by {@link guardClientStream}: Node's own reading of a response
 *   reports "Premature close" for complete responses in several ways (see clientStream.ts).
 */
class GuardedSessionManager extends Http2SessionManager {
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
      this.#guarded.add(session);
      session.on("error", () => {});
      widenConnectionWindow(session);
    }
    return stream;
  }
}

/**
 * HTTP/2 receive windows. The protocol's default, 64 KiB for a stream and for the whole
 * connection, lets the daemon send only that much before our WINDOW_UPDATE comes back through
 * the SSH channel: a terminal printing a big file then waits a round trip per 64 KiB. A stream
 * may hold 1 MiB unread (what a slow reader can leave buffered per stream), the connection 8 MiB.
 */
export const streamWindowBytes = 1024 * 1024;
export const connectionWindowBytes = 8 * 1024 * 1024;

function widenConnectionWindow(session: Http2Session): void {
  const apply = (): void => {
    try {
      session.setLocalWindowSize(connectionWindowBytes);
    } catch {
      // a session already closing: nothing to widen
    }
  };
  if (session.connecting) session.once("connect", apply);
  else apply();
}

function makeTransport(
  createConnection: () => Duplex,
  getRoute: () => DaemonRoute | undefined,
  interceptors: Interceptor[],
): DaemonTransport {
  const manager = new GuardedSessionManager("http://protect-daemon", undefined, {
    createConnection,
    settings: { initialWindowSize: streamWindowBytes },
  });
  const transport = createGrpcTransport({
    baseUrl: "http://protect-daemon",
    sessionManager: manager,
    interceptors,
  });
  return {
    transport,
    get route() {
      return getRoute();
    },
    close: () => manager.abort(),
  };
}

/** A transport to a daemon socket on this machine. */
export function createUnixTransport(socketPath: string, interceptors: Interceptor[] = []): DaemonTransport {
  return makeTransport(
    () => netConnect({ path: socketPath }),
    () => "unix",
    interceptors,
  );
}

/** Options for {@link createSshTransport}. */
export interface SshTransportOptions {
  /** The daemon socket on the host. Default {@link defaultSocketPath}. */
  readonly socketPath?: string;
  /** Bridge command template; `{socket}` is replaced by the shell-quoted path. Default {@link defaultBridgeCommand}. */
  readonly bridgeCommand?: string;
  readonly mode?: ChannelMode;
  readonly logger?: Logger;
  /** Connect interceptors, outermost first. */
  readonly interceptors?: Interceptor[];
}

/**
 * A transport to the daemon socket on an SSH host. `current()` returns the live SSH connection
 * (or undefined while there is none): each new HTTP/2 session opens its channel on it.
 */
export function createSshTransport(
  current: () => SshConnection | undefined,
  options: SshTransportOptions = {},
): DaemonTransport {
  const socketPath = options.socketPath ?? defaultSocketPath;
  const log = options.logger ?? silentLogger;
  const template = options.bridgeCommand ?? defaultBridgeCommand;
  checkSocketPath(socketPath);
  // The path as messages show it: it is the user's, and may hold line breaks or escapes.
  const shown = printable(socketPath);
  let mode: ChannelMode = options.mode ?? "auto";
  if (mode !== "streamlocal") checkBridgeTemplate(template);
  let route: DaemonRoute | undefined;
  // Expanded only when the bridge is the route: direct-streamlocal carries the path as protocol
  // data, so a path the bridge cannot take must not stop streamlocal from working.
  let bridge: string | undefined;
  const bridgeCommand = (): string => (bridge ??= bridgeCommandFor(template, socketPath));

  const open = async (conn: SshConnection): Promise<ClientChannel> => {
    if (mode !== "bridge") {
      try {
        const channel = await conn.openStreamLocal(socketPath);
        route = "streamlocal";
        return channel;
      } catch (err) {
        if (!SshError.is(err, "channelRefused") || mode === "streamlocal") {
          throw new TransportFailure(
            SshError.is(err, "lost") ? "lost" : "unreachable",
            `cannot open the daemon socket ${shown} on ${conn.key}: ${(err as Error).message}`,
            "other",
            { cause: err },
          );
        }
        // OpenSSH answers "open failed" alike for a missing socket, a socket we may not open,
        // and forwarding switched off: ask the host which it is.
        const probe = await probeSocket(conn, socketPath, log);
        if (probe === "missing") {
          throw new TransportFailure(
            "unreachable",
            `the daemon socket ${shown} does not exist on ${conn.config.hostName} (is protect-daemon running?)`,
            "socketMissing",
          );
        }
        if (probe === "notSocket") {
          throw new TransportFailure(
            "unreachable",
            `${shown} on ${conn.config.hostName} is not a socket`,
            "other",
          );
        }
        log.info(
          `ssh ${conn.key}: direct-streamlocal to ${shown} refused (${probe === "denied" ? "the SSH user may not open the socket" : probe === "writable" ? "forwarding disabled by sshd, or the daemon refused" : "the socket is not visible to the SSH user"}); using the exec bridge`,
        );
      }
    }
    let command: string;
    try {
      command = bridgeCommand();
    } catch (err) {
      throw new TransportFailure("invalidArgument", (err as Error).message, undefined, { cause: err });
    }
    const channel = await conn.exec(command);
    route = "bridge";
    return channel;
  };

  return makeTransport(
    () => {
      const conn = current();
      if (!conn?.isConnected) {
        // Thrown synchronously on purpose: connect-node must not get a socket that is already dead.
        throw new TransportFailure("lost", "the SSH connection is down");
      }
      const describe = `the daemon socket ${shown} on ${conn.key}`;
      return new ChannelSocket(() => open(conn), {
        describe,
        onBridgeExit: (exit) => classifyBridgeExit(exit, socketPath, conn.config.hostName, bridgeCommand()),
        onFirstData: () => {
          // The tunnel demonstrably works: keep using this route for later sessions.
          if (mode === "auto" && route === "bridge") {
            mode = "bridge";
            log.debug(`ssh ${conn.key}: the exec bridge works; using it from now on`);
          }
        },
      });
    },
    () => route,
    options.interceptors ?? [],
  );
}

/**
 * Refuses socket paths no route can take: empty, relative (it would resolve against whatever
 * directory sshd or the bridge starts in, and a leading `-` could pass for an option), or with
 * a NUL byte (the SSH string would be cut there).
 */
function checkSocketPath(socketPath: string): void {
  if (!socketPath.startsWith("/") || socketPath.includes("\0")) {
    throw new ProtectError(
      "invalidArgument",
      `the daemon socket path ${JSON.stringify(socketPath)} must be an absolute path without NUL bytes.`,
    );
  }
}

function checkBridgeTemplate(template: string): void {
  if (!template.includes("{socket}")) {
    throw new ProtectError(
      "invalidArgument",
      `the bridge command '${template}' has no {socket} placeholder for the socket path.`,
    );
  }
}

/**
 * A socat address keyword right before the placeholder (`UNIX-CONNECT:{socket}`): the path is
 * then parsed by socat as well as by the shell.
 */
const socatAddressBefore = /(?:^|[\s'"])[A-Za-z][A-Za-z0-9-]*:$/;

/**
 * Escapes what socat's address parser reads specially: `:` and `,` separate options, `!!`
 * splits read and write addresses, quotes and brackets group (socat 1.7.4+), `%` and `\`
 * escape. A backslash before any of them makes socat take it literally.
 */
export function socatEscape(value: string): string {
  return value.replace(/[\\:,!"'()[\]{}%]/g, (c) => `\\${c}`);
}

/**
 * Expands the bridge template: `{socket}` becomes the socket path, shell-quoted (POSIX single
 * quotes), and socat-escaped first when it follows a socat address keyword such as
 * `UNIX-CONNECT:`. Any absolute path passes through unchanged and injects nothing; paths with a
 * NUL, a newline or a carriage return are refused (login shells other than sh differ on
 * newlines inside quotes).
 */
export function bridgeCommandFor(template: string, socketPath: string): string {
  checkSocketPath(socketPath);
  if (/[\n\r]/.test(socketPath)) {
    throw new ProtectError(
      "invalidArgument",
      `the daemon socket path ${JSON.stringify(socketPath)} contains a line break, which the bridge command cannot pass safely; use direct-streamlocal or another path.`,
    );
  }
  checkBridgeTemplate(template);
  const [first, ...rest] = template.split("{socket}");
  let command = first ?? "";
  for (const next of rest) {
    const forSocat = socatAddressBefore.test(command);
    command += shellQuote(forSocat ? socatEscape(socketPath) : socketPath) + next;
  }
  return command;
}

/** What the SSH user sees at the socket path. */
type SocketProbe = "missing" | "notSocket" | "writable" | "denied" | "hidden" | "unknown";

async function probeSocket(conn: SshConnection, socketPath: string, log: Logger): Promise<SocketProbe> {
  const p = shellQuote(socketPath);
  // "hidden": some directory on the way is not searchable for this user, so only root can tell.
  const script =
    `p=${p}; if [ -S "$p" ]; then if [ -w "$p" ]; then echo writable; else echo denied; fi; ` +
    `elif [ -e "$p" ]; then echo notSocket; ` +
    `else d=$(dirname "$p"); while [ ! -d "$d" ]; do d=$(dirname "$d"); done; if [ -x "$d" ] && [ -r "$d" ]; then echo missing; else echo hidden; fi; fi`;
  try {
    // A login shell with heavy rc files can take long (or hang): do not let the probe block the fallback.
    const result = await conn.run(script, { signal: AbortSignal.timeout(10_000) });
    const answer = result.stdout.trim();
    if (["missing", "notSocket", "writable", "denied", "hidden"].includes(answer))
      return answer as SocketProbe;
    log.debug(`ssh ${conn.key}: socket probe said '${answer}' (exit ${result.code})`);
  } catch (err) {
    log.debug(`ssh ${conn.key}: socket probe failed: ${(err as Error).message}`);
  }
  return "unknown";
}

/** Turns a failed bridge (sudo, socat) into an error that says what to do. */
export function classifyBridgeExit(
  exit: BridgeExit,
  path: string,
  host: string,
  bridgeCommand: string,
): TransportFailure {
  // What the host printed, and the path it names, go into one line of the user's terminal.
  const said = printable(exit.stderr.trim().split("\n").filter(Boolean).slice(-3).join(" / "));
  const socketPath = printable(path);
  const command = printable(bridgeCommand);
  const how = exit.signal ? `was killed by ${exit.signal}` : `exited with ${exit.code ?? "no status"}`;
  const tail = said ? `: ${said}` : "";
  if (
    /password is required|a terminal is required|askpass|not in the sudoers|may not run sudo|not allowed to execute/i.test(
      said,
    )
  ) {
    return new TransportFailure(
      "permissionDenied",
      `the bridge to ${socketPath} on ${host} needs sudo without a password (sudo said${tail.slice(1)}); allow NOPASSWD for the bridge, or connect as a user who may open the socket`,
    );
  }
  if (/Permission denied/i.test(said)) {
    return new TransportFailure(
      "permissionDenied",
      `permission denied opening ${socketPath} on ${host}${tail}`,
    );
  }
  if (/No such file or directory/i.test(said) && /connect|UNIX/i.test(said)) {
    return new TransportFailure(
      "unreachable",
      `the daemon socket ${socketPath} does not exist on ${host} (is protect-daemon running?)`,
      "socketMissing",
    );
  }
  if (/Connection refused/i.test(said)) {
    return new TransportFailure(
      "unreachable",
      `nothing listens on ${socketPath} on ${host}: protect-daemon is not running`,
      "daemonNotRunning",
    );
  }
  if (exit.code === 127 || /command not found|not found/i.test(said)) {
    return new TransportFailure(
      "unreachable",
      `the bridge command '${command}' cannot run on ${host}${tail} (install socat, or set another bridge command)`,
      "bridgeFailed",
    );
  }
  return new TransportFailure(
    "unreachable",
    `the bridge to ${socketPath} on ${host} ${how}${tail}`,
    "bridgeFailed",
  );
}
