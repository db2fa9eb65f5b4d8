/**
 * One SSH connection to one host, carrying every channel: exec, PTY shells, SFTP, TCP forwards
 * and unix-socket forwards (direct-streamlocal). Connecting resolves ssh config, hops through
 * ProxyJump hosts (each tunnelled with forwardOut on the previous one), verifies the host key
 * against known_hosts, and authenticates. Closing it closes its jump hosts too.
 */
import { connect as netConnect } from "node:net";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { Client } from "ssh2";
import type { ClientChannel, ConnectConfig, ExecOptions, PseudoTtyOptions, SFTPWrapper } from "ssh2";
import { Emitter } from "../events";
import type { Event } from "../events";
import { Disposable } from "../lifecycle";
import type { Logger } from "../log";
import { scopedLogger, silentLogger } from "../log";
import type { AuthCallbacks } from "./auth";
import { createAuthHandler } from "./auth";
import type { ResolvedSshConfig, SshConfigOptions } from "./config";
import { resolveSshConfig } from "./config";
import type { SshDestination } from "./destination";
import { formatDestination, parseDestination } from "./destination";
import { SshError, channelOpenFailure } from "./errors";
import { hostKeyVerifier } from "./hostKeyCheck";
import type { HostKeyQuestion } from "./hostKeyCheck";
import { printable } from "./printable";
import { startProxyCommand } from "./proxyCommand";
import { SftpSession } from "./sftpSession";
import { KnownHosts, knownHostsNameFor, preferredHostKeyAlgorithms } from "./knownHosts";

/** Questions a connection may ask the user. Any left out answers "no". */
export interface SshCallbacks extends AuthCallbacks {
  /** An unknown host key (StrictHostKeyChecking ask): resolve true to trust and record it. */
  confirmHostKey?(question: HostKeyQuestion): Promise<boolean>;
}

/** Options for {@link SshConnection.connect}. */
export interface SshConnectOptions extends SshConfigOptions {
  readonly callbacks?: SshCallbacks;
  readonly logger?: Logger;
  readonly signal?: AbortSignal;
  /** Handshake timeout when ssh config has no ConnectTimeout. Default 30 s. Time spent waiting on the user does not count. */
  readonly defaultTimeoutMs?: number;
  /** Overrides ServerAliveInterval (ms; 0 disables), mostly for tests. */
  readonly keepaliveIntervalMs?: number;
  /** Overrides ServerAliveCountMax. */
  readonly keepaliveCountMax?: number;
}

/** How an exec'd command ended. Exactly one of code and signal is set, unless the channel just closed. */
export interface ExecExit {
  readonly code: number | undefined;
  readonly signal: string | undefined;
}

/** Output of {@link SshConnection.run}. */
export interface RunResult extends ExecExit {
  readonly stdout: string;
  readonly stderr: string;
}

const maxJumpDepth = 8;

const exits = new WeakMap<ClientChannel, ExecExit>();

/**
 * How the command of a channel from {@link SshConnection.exec} ended, once the server said so
 * (undefined before). Prefer this to an 'exit' listener added after awaiting exec(): by then the
 * event may have fired already.
 */
export function exitOf(channel: ClientChannel): ExecExit | undefined {
  return exits.get(channel);
}

/** A live SSH connection. Create with {@link SshConnection.connect}. */
export class SshConnection extends Disposable {
  readonly #client: Client;
  readonly #jumps: readonly SshConnection[];
  readonly #log: Logger;
  readonly #onDidClose = this.register(new Emitter<SshError | undefined>());
  #closed = false;
  #closedByUs = false;

  /** Fires once when the connection ends: with an SshError `lost` if it died, undefined if closed by us. */
  readonly onDidClose: Event<SshError | undefined> = this.#onDidClose.event;

  private constructor(
    client: Client,
    readonly config: ResolvedSshConfig,
    jumps: readonly SshConnection[],
    logger: Logger,
  ) {
    super();
    this.#client = client;
    this.#jumps = jumps;
    this.#log = logger;
    client.on("error", (err: Error & { level?: string }) => {
      // After 'ready' errors are followed by 'close'; remember why for the close event.
      this.#lastError = err;
      this.#log.debug(`ssh ${this.key}: ${err.level ?? "error"}: ${err.message}`);
    });
    client.on("close", () => this.#handleClose());
    for (const jump of jumps) {
      // A dead jump host takes this connection with it (its forwarded channel closes); make
      // sure we notice promptly even if the channel close is delayed.
      this.register(
        jump.onDidClose((err) =>
          err
            ? this.#fail(
                new SshError(
                  "lost",
                  `ssh ${this.key}: jump host ${jump.key} was lost: ${err.message}`,
                  { host: this.key },
                  { cause: err },
                ),
              )
            : undefined,
        ),
      );
    }
  }

  #lastError: (Error & { level?: string }) | undefined;

  /** `user@host:port` — the pool key and the name used in messages. */
  get key(): string {
    return connectionKey(this.config);
  }

  get isConnected(): boolean {
    return !this.#closed;
  }

  /**
   * Connects to a destination (alias, `user@host:port`, `ssh://…`). Rejects with SshError:
   * hostKeyUnknown/Changed/Revoked, authFailed, connectFailed, timeout, configInvalid, cancelled.
   */
  static async connect(
    destination: string | SshDestination,
    options: SshConnectOptions = {},
  ): Promise<SshConnection> {
    return connectAt(
      typeof destination === "string" ? parseDestination(destination) : destination,
      options,
      0,
    );
  }

  /** Starts a command. Read how it ended with {@link exitOf} once the channel closes; see also {@link run}. */
  exec(
    command: string,
    options: { pty?: PseudoTtyOptions | boolean; env?: Record<string, string> } = {},
  ): Promise<ClientChannel> {
    this.#log.debug(`ssh ${this.key}: exec ${command}`);
    const execOptions: ExecOptions = {};
    if (options.pty) execOptions.pty = options.pty === true ? {} : options.pty;
    if (options.env) execOptions.env = options.env;
    return this.#open<ClientChannel>("exec", (cb) =>
      this.#client.exec(command, execOptions, (err, channel) => {
        // Recorded before anyone awaits the channel: a fast command's exit-status can arrive in
        // the same packet batch as the channel confirmation, before a later listener exists.
        if (!err)
          channel.once("exit", (code: number | null, signal?: string) =>
            exits.set(channel, { code: code ?? undefined, signal: signal ?? undefined }),
          );
        cb(err, channel);
      }),
    );
  }

  /** Runs a command to completion, collecting output (capped at 1 MiB per stream). */
  async run(
    command: string,
    options: { stdin?: string | Buffer; signal?: AbortSignal } = {},
  ): Promise<RunResult> {
    const channel = await this.exec(command);
    return new Promise<RunResult>((resolve, reject) => {
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let outLen = 0;
      let errLen = 0;
      const cap = 1 << 20;
      channel.on("data", (d: Buffer) => {
        if (outLen < cap) out.push(d);
        outLen += d.length;
      });
      channel.stderr.on("data", (d: Buffer) => {
        if (errLen < cap) err.push(d);
        errLen += d.length;
      });
      const onAbort = (): void => {
        channel.close();
        reject(new SshError("cancelled", `ssh ${this.key}: '${command}' was cancelled.`, { host: this.key }));
      };
      options.signal?.addEventListener("abort", onAbort, { once: true });
      channel.on("error", (e: Error) => {
        options.signal?.removeEventListener("abort", onAbort);
        reject(
          new SshError(
            "lost",
            `ssh ${this.key}: '${command}' failed: ${e.message}.`,
            { host: this.key },
            { cause: e },
          ),
        );
      });
      channel.on("close", () => {
        options.signal?.removeEventListener("abort", onAbort);
        const exit = exitOf(channel) ?? { code: undefined, signal: undefined };
        resolve({
          ...exit,
          stdout: Buffer.concat(out).toString("utf8"),
          stderr: Buffer.concat(err).toString("utf8"),
        });
      });
      if (options.stdin !== undefined) channel.end(options.stdin);
      else channel.end();
    });
  }

  /** An interactive login shell on a PTY. */
  shell(pty: PseudoTtyOptions = {}): Promise<ClientChannel> {
    this.#log.debug(`ssh ${this.key}: shell`);
    return this.#open("shell", (cb) => this.#client.shell(pty, cb));
  }

  /** A new SFTP session of its own (a channel: counts against sshd's MaxSessions). Prefer {@link sftpSession}. */
  sftp(): Promise<SFTPWrapper> {
    this.#log.debug(`ssh ${this.key}: sftp`);
    return this.#open("sftp", (cb) => this.#client.sftp(cb));
  }

  /**
   * The connection's shared SFTP session: opened on first use, opened again when the previous
   * one ended while the connection lives on, closed with the connection. Every user shares the
   * one channel (sshd's MaxSessions would refuse one per user); its requests reject with
   * SshError `lost` when it ends, instead of never settling. Do not close it: it is shared.
   */
  sftpSession(): Promise<SftpSession> {
    const current = this.#sftpSession;
    if (current) {
      // A settled, still-open session is reused; a failed or ended one is replaced.
      const reuse = current.then(
        (s) => s.isOpen,
        () => false,
      );
      return reuse.then((ok) => (ok ? current : this.#openSftpSession(current)));
    }
    return this.#openSftpSession(undefined);
  }

  #sftpSession: Promise<SftpSession> | undefined;
  /** The opened session, for telling it synchronously that the connection closed (before ssh2 ends its channel). */
  #sftpOpen: SftpSession | undefined;

  #openSftpSession(replacing: Promise<SftpSession> | undefined): Promise<SftpSession> {
    // Another caller may have replaced it while we checked: share theirs.
    if (this.#sftpSession !== replacing && this.#sftpSession) return this.sftpSession();
    const opening = this.sftp().then((raw) => {
      const session = new SftpSession(raw, this.key);
      if (this.#closed) session.connectionClosed(undefined);
      else this.#sftpOpen = session;
      return session;
    });
    this.#sftpSession = opening;
    // A refused open is not remembered: the next caller tries again.
    opening.catch(() => {
      if (this.#sftpSession === opening) this.#sftpSession = undefined;
    });
    return opening;
  }

  /** A direct-tcpip channel to host:port as seen from the server. */
  forwardOut(host: string, port: number): Promise<ClientChannel> {
    this.#log.debug(`ssh ${this.key}: forward to ${host}:${port}`);
    return this.#open(
      `forward to ${host}:${port}`,
      (cb) => this.#client.forwardOut("127.0.0.1", 0, host, port, cb),
      "forward",
    );
  }

  /** A direct-streamlocal@openssh.com channel to a unix socket on the server. */
  openStreamLocal(socketPath: string): Promise<ClientChannel> {
    this.#log.debug(`ssh ${this.key}: streamlocal to ${printable(socketPath)}`);
    return this.#open(
      `unix socket ${printable(socketPath)}`,
      (cb) => this.#client.openssh_forwardOutStreamLocal(socketPath, cb),
      "forward",
    );
  }

  /** Closes the connection (and its jump hosts). onDidClose fires with undefined. */
  close(): void {
    if (this.#closed) return;
    this.#closedByUs = true;
    this.#client.end();
    // end() waits for the server; if the socket is wedged, destroy it shortly after.
    const timer = setTimeout(() => this.#client.destroy(), 1_000);
    timer.unref();
    this.#handleClose();
  }

  override dispose(): void {
    this.close();
    super.dispose();
  }

  /** Kills the transport without the SSH goodbye, as a network failure would (for tests and "reconnect now"). */
  destroy(): void {
    this.#client.destroy();
  }

  /** `kind`: exec, shell and sftp ride session channels; forwards have channels of their own. */
  #open<T>(
    what: string,
    start: (cb: (err: Error | undefined, value: T) => void) => unknown,
    kind: "session" | "forward" = "session",
  ): Promise<T> {
    if (this.#closed) {
      return Promise.reject(
        new SshError("lost", `ssh ${this.key}: cannot open ${what}: the connection is closed.`, {
          host: this.key,
        }),
      );
    }
    return new Promise<T>((resolve, reject) => {
      const cb = (err: (Error & { reason?: number | string }) | undefined, value: T): void => {
        if (!err) {
          resolve(value);
          return;
        }
        if (this.#closed) {
          reject(
            new SshError(
              "lost",
              `ssh ${this.key}: cannot open ${what}: the connection was lost.`,
              { host: this.key },
              { cause: err },
            ),
          );
          return;
        }
        const code = typeof err.reason === "number" ? err.reason : undefined;
        const description = err.message.replace(/^\(SSH\) Channel open failure: /, "");
        const why =
          code === channelOpenFailure.administrativelyProhibited
            ? "administratively prohibited by the server"
            : code === channelOpenFailure.connectFailed
              ? kind === "session"
                ? "the server could not open a session (OpenSSH answers this when MaxSessions is reached)"
                : "the server could not open it (forwarding disabled, or nothing listening there)"
              : code === channelOpenFailure.resourceShortage
                ? "the server is out of sessions (MaxSessions)"
                : description;
        reject(
          new SshError(
            "channelRefused",
            `ssh ${this.key}: ${what} refused: ${why}.`,
            {
              host: this.key,
              ...(code !== undefined ? { channelFailureCode: code } : {}),
              channelFailureDescription: description,
            },
            { cause: err },
          ),
        );
      };
      try {
        start(cb);
      } catch (err) {
        // ssh2 throws synchronously when the socket is no longer writable.
        reject(
          new SshError(
            "lost",
            `ssh ${this.key}: cannot open ${what}: ${(err as Error).message}.`,
            { host: this.key },
            { cause: err },
          ),
        );
      }
    });
  }

  #fail(error: SshError): void {
    if (this.#closed) return;
    this.#lastError = error;
    this.#client.destroy();
    this.#handleClose();
  }

  #handleClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    let error: SshError | undefined;
    if (!this.#closedByUs) {
      const last = this.#lastError;
      const why =
        last?.level === "client-timeout"
          ? "no reply to keepalive"
          : last
            ? last.message
            : "the server closed the connection";
      error = SshError.is(last)
        ? last
        : new SshError(
            "lost",
            `ssh ${this.key}: connection lost (${why}).`,
            { host: this.key },
            last ? { cause: last } : undefined,
          );
      this.#log.info(error.message);
    } else {
      this.#log.debug(`ssh ${this.key}: closed`);
    }
    for (const jump of [...this.#jumps].reverse()) jump.close();
    // Synchronously: ssh2 ends the channels right after this, and pending SFTP calls should
    // hear that the connection died, not merely that their session ended.
    this.#sftpOpen?.connectionClosed(error);
    this.#onDidClose.fire(error);
  }

  /** @internal used by connectAt to build the object once the handshake succeeded. */
  static _create(
    client: Client,
    config: ResolvedSshConfig,
    jumps: readonly SshConnection[],
    logger: Logger,
  ): SshConnection {
    return new SshConnection(client, config, jumps, logger);
  }
}

/** The pool key of a resolved host: `user@host:port`. */
export function connectionKey(config: Pick<ResolvedSshConfig, "user" | "hostName" | "port">): string {
  return formatDestination({ user: config.user, host: config.hostName, port: config.port });
}

async function connectAt(
  destination: SshDestination,
  options: SshConnectOptions,
  depth: number,
  configOverride?: ResolvedSshConfig,
): Promise<SshConnection> {
  const baseLog = options.logger ?? silentLogger;
  const config = configOverride ?? resolveSshConfig(destination, { ...options, logger: baseLog });
  if (options.signal?.aborted) throw cancelled(config);
  const jumps: SshConnection[] = [];
  try {
    let sock: Duplex;
    if (config.proxyJump.length) {
      if (depth >= maxJumpDepth) {
        throw new SshError(
          "configInvalid",
          `ssh config: ProxyJump for ${destination.host} nests more than ${maxJumpDepth} hops (a loop?).`,
          { host: destination.host },
        );
      }
      const [first, ...rest] = config.proxyJump;
      // The first hop is resolved with its own ProxyJump; later hops are reached through the
      // previous one and their own ProxyJump is ignored — what `ssh -J a,b` does.
      let hop = await connectAt(first!, options, depth + 1);
      jumps.push(hop);
      for (const next of rest) {
        const nextConfig = { ...resolveSshConfig(next, { ...options, logger: baseLog }), proxyJump: [] };
        const channel = await forwardWithTimeout(hop, nextConfig, options);
        hop = await handshake(nextConfig, channel, options, [], `via ${hop.key}`);
        jumps.push(hop);
      }
      sock = await forwardWithTimeout(hop, config, options);
    } else if (config.proxyCommand) {
      sock = await startProxyCommand(config, connectionKey(config), baseLog);
    } else {
      sock = await tcpConnect(config, options);
    }
    const route = jumps.length
      ? `via ${jumps.map((j) => j.key).join(" → ")}`
      : config.proxyCommand && !config.proxyJump.length
        ? "via ProxyCommand"
        : "";
    return await handshake(config, sock, options, jumps, route);
  } catch (err) {
    for (const jump of jumps.reverse()) jump.close();
    throw err;
  }
}

/** The jump host's TCP connect to the next hop, bounded like our own connect (ConnectTimeout). */
function forwardWithTimeout(
  hop: SshConnection,
  config: ResolvedSshConfig,
  options: SshConnectOptions,
): Promise<Duplex> {
  const timeoutMs = timeoutMsOf(config, options);
  const key = connectionKey(config);
  return new Promise<Duplex>((resolve, reject) => {
    let done = false;
    const finish = (err: SshError | undefined, channel?: Duplex): void => {
      if (done) {
        channel?.destroy(); // arrived too late
        return;
      }
      done = true;
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      if (err) reject(err);
      else resolve(channel!);
    };
    const onAbort = (): void => finish(cancelled(config));
    const timer = setTimeout(
      () =>
        finish(
          new SshError(
            "timeout",
            `ssh ${key}: the jump host ${hop.key} did not reach ${config.hostName} port ${config.port} within ${Math.round(timeoutMs / 1000)} s.`,
            { host: key },
          ),
        ),
      timeoutMs,
    );
    options.signal?.addEventListener("abort", onAbort, { once: true });
    hop.forwardOut(config.hostName, config.port).then(
      (channel) => finish(undefined, channel),
      (err: unknown) =>
        finish(
          SshError.is(err, "channelRefused")
            ? new SshError(
                "connectFailed",
                `ssh ${key}: the jump host ${hop.key} could not connect to ${config.hostName} port ${config.port} (${err.details.channelFailureDescription ?? "refused"}).`,
                { host: key },
                { cause: err },
              )
            : SshError.is(err)
              ? err
              : new SshError(
                  "connectFailed",
                  `ssh ${key}: ${(err as Error).message}`,
                  { host: key },
                  { cause: err },
                ),
        ),
    );
  });
}

function cancelled(config: ResolvedSshConfig): SshError {
  return new SshError("cancelled", `ssh ${connectionKey(config)}: connecting was cancelled.`, {
    host: connectionKey(config),
  });
}

function timeoutMsOf(config: ResolvedSshConfig, options: SshConnectOptions): number {
  return config.connectTimeoutMs ?? options.defaultTimeoutMs ?? 30_000;
}

function tcpConnect(config: ResolvedSshConfig, options: SshConnectOptions): Promise<Socket> {
  const key = connectionKey(config);
  const timeoutMs = timeoutMsOf(config, options);
  return new Promise<Socket>((resolve, reject) => {
    const socket = netConnect({ host: config.hostName, port: config.port });
    const done = (err?: SshError): void => {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      socket.off("error", onError);
      socket.off("connect", onConnect);
      if (err) {
        socket.destroy();
        reject(err);
      } else {
        resolve(socket);
      }
    };
    const onAbort = (): void => done(cancelled(config));
    const onError = (err: NodeJS.ErrnoException): void =>
      done(
        new SshError(
          "connectFailed",
          `ssh ${key}: cannot connect to ${config.hostName} port ${config.port}: ${describeErrno(err)}.`,
          { host: key, ...(err.code ? { errno: err.code } : {}) },
          { cause: err },
        ),
      );
    const onConnect = (): void => done();
    const timer = setTimeout(
      () =>
        done(
          new SshError(
            "timeout",
            `ssh ${key}: connecting to ${config.hostName} port ${config.port} timed out after ${Math.round(timeoutMs / 1000)} s.`,
            { host: key },
          ),
        ),
      timeoutMs,
    );
    options.signal?.addEventListener("abort", onAbort, { once: true });
    socket.once("error", onError);
    socket.once("connect", onConnect);
  });
}

function describeErrno(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case "ECONNREFUSED":
      return "connection refused";
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "host name not found";
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return "host unreachable";
    case "ETIMEDOUT":
      return "timed out";
    default:
      return err.code ? `${err.code} (${err.message})` : err.message;
  }
}

/** A timer that stops counting while the user is being asked something. */
class PausableTimer {
  #remaining: number;
  #startedAt = 0;
  #timer: NodeJS.Timeout | undefined;
  #waiting = 0;

  constructor(
    ms: number,
    private readonly onFire: () => void,
  ) {
    this.#remaining = ms;
    this.#start();
  }

  waiting(on: boolean): void {
    this.#waiting += on ? 1 : -1;
    if (on && this.#waiting === 1) this.#pause();
    if (!on && this.#waiting === 0) this.#start();
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#remaining = Infinity;
  }

  #start(): void {
    if (this.#remaining === Infinity) return;
    this.#startedAt = Date.now();
    this.#timer = setTimeout(this.onFire, this.#remaining);
  }

  #pause(): void {
    if (this.#timer === undefined) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#remaining = Math.max(0, this.#remaining - (Date.now() - this.#startedAt));
  }
}

/** The connection over a client whose handshake just succeeded. */
function connectionOver(
  client: Client,
  config: ResolvedSshConfig,
  jumps: readonly SshConnection[],
  log: Logger,
): SshConnection {
  // Trap: Nagle costs 40–80 ms per round trip. Our side is a setsockopt away; sshd only sets
  // TCP_NODELAY when a session channel starts, so open one throwaway exec (in the background:
  // it may pay for the login shell's rc files).
  client.setNoDelay(true);
  const connection = SshConnection._create(client, config, jumps, log);
  connection.exec("true").then(
    (ch) => {
      ch.on("error", () => {});
      ch.resume();
      ch.stderr.resume();
      ch.end();
    },
    (err: unknown) => log.debug(`the no-delay exec failed: ${(err as Error).message}`),
  );
  return connection;
}

/** ssh2's settings from the config: the user, keepalive, and the host key types to prefer. */
function clientSettings(
  config: ResolvedSshConfig,
  options: SshConnectOptions,
  hostKeyTypes: string[],
): ConnectConfig {
  return {
    username: config.user,
    // Our own timer (paused while the user is asked) bounds the handshake, not ssh2's.
    readyTimeout: 0,
    keepaliveInterval: options.keepaliveIntervalMs ?? config.serverAliveIntervalMs,
    keepaliveCountMax: options.keepaliveCountMax ?? config.serverAliveCountMax,
    algorithms: { serverHostKey: hostKeyTypes as never },
  };
}

/** What an error ssh2 reports during the handshake (or the server closing) means for the user. */
function handshakeError(
  err: (Error & { level?: string }) | "closed",
  key: string,
  methodsLeft: string[] | null,
): SshError {
  if (err === "closed")
    return new SshError(
      "connectFailed",
      `ssh ${key}: the server closed the connection during the SSH handshake.`,
      { host: key },
    );
  if (err.level === "client-authentication")
    return new SshError(
      "authFailed",
      `ssh ${key}: permission denied${methodsLeft ? ` (server accepts: ${methodsLeft.join(",")})` : ""}.`,
      { host: key },
      { cause: err },
    );
  if (err.level === "client-timeout")
    return new SshError("timeout", `ssh ${key}: ${err.message}.`, { host: key }, { cause: err });
  return new SshError(
    "connectFailed",
    `ssh ${key}: SSH handshake failed: ${err.message}.`,
    { host: key },
    { cause: err },
  );
}

/**
 * The SSH handshake on an open socket: host key (hostKeyCheck.ts), authentication (auth.ts),
 * within the connect timeout — paused while the user is asked something — or until aborted.
 */
function handshake(
  config: ResolvedSshConfig,
  sock: Duplex,
  options: SshConnectOptions,
  jumps: readonly SshConnection[],
  route: string,
): Promise<SshConnection> {
  const key = connectionKey(config);
  const log = scopedLogger(options.logger ?? silentLogger, key);
  const callbacks = options.callbacks ?? {};
  const knownHosts = new KnownHosts(config.userKnownHostsFiles, config.globalKnownHostsFiles, log);
  const khName = knownHostsNameFor(config.hostName, config.port, config.hostKeyAlias);
  const client = new Client();
  let failure: SshError | undefined;
  let settled = false;
  let methodsLeft: string[] | null = null;

  return new Promise<SshConnection>((resolve, reject) => {
    const settle = (): void => {
      settled = true;
      timer.stop();
      options.signal?.removeEventListener("abort", onAbort);
    };
    const fail = (err: SshError): void => {
      if (settled) return;
      settle();
      client.removeAllListeners("ready");
      client.on("error", () => {}); // late errors from a connection we gave up on
      client.destroy();
      sock.destroy();
      reject(err);
    };
    const timeoutMs = timeoutMsOf(config, options);
    const timer = new PausableTimer(timeoutMs, () =>
      fail(
        new SshError(
          "timeout",
          `ssh ${key}: the SSH handshake did not finish within ${Math.round(timeoutMs / 1000)} s.`,
          { host: key },
        ),
      ),
    );
    const onAbort = (): void => fail(cancelled(config));
    options.signal?.addEventListener("abort", onAbort, { once: true });

    const hostVerifier = hostKeyVerifier(config, {
      key,
      khName,
      knownHosts,
      confirmHostKey: callbacks.confirmHostKey?.bind(callbacks),
      log,
      timer,
      settled: () => settled,
      onRefused: (error) => (failure = error),
    });

    const authHandler = createAuthHandler(config, callbacks, log, timer);
    client.on("ready", () => {
      if (settled) return;
      settle();
      client.removeAllListeners("error");
      client.removeAllListeners("close");
      log.info(`connected${route ? ` ${route}` : ""}`);
      resolve(connectionOver(client, config, jumps, log));
    });
    client.on("error", (err: Error & { level?: string }) => {
      if (settled) return;
      if (err.level === "agent") {
        log.debug(`agent: ${err.message}; trying the next method`);
        return;
      }
      fail(failure ?? handshakeError(err, key, methodsLeft));
    });
    client.on("close", () => fail(failure ?? handshakeError("closed", key, methodsLeft)));

    client.connect({
      ...clientSettings(config, options, preferredHostKeyAlgorithms(knownHosts.knownKeyTypes(khName))),
      sock,
      hostVerifier,
      authHandler: (methods, partial, next) => {
        methodsLeft = methods;
        authHandler(methods, partial, next);
      },
    });
  });
}
