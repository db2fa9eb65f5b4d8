/**
 * A connection that stays up: one per host, reconnecting with bounded exponential backoff when
 * an established connection is lost, and reporting every state change. Errors that retrying
 * cannot fix (host key, authentication, config) stop at `failed` at once.
 */
import { abortReason, delay } from "../abort";
import { Emitter } from "../events";
import type { Event } from "../events";
import { Disposable } from "../lifecycle";
import type { Logger } from "../log";
import { silentLogger } from "../log";
import { resolveSshConfig } from "./config";
import { SshConnection, connectionKey } from "./connection";
import type { SshConnectOptions } from "./connection";
import type { SshDestination } from "./destination";
import { parseDestination } from "./destination";
import { SshError } from "./errors";

/** The life of a managed connection, as events. */
export type SshConnectionState =
  | { readonly state: "idle" }
  | { readonly state: "connecting" }
  | { readonly state: "connected"; readonly connection: SshConnection }
  | { readonly state: "lost"; readonly error: SshError }
  | { readonly state: "reconnecting"; readonly attempt: number; readonly delayMs: number }
  | { readonly state: "failed"; readonly error: SshError }
  | { readonly state: "closed" };

/** Backoff between reconnect attempts: initialDelayMs × factor^(n-1), capped. */
export interface ReconnectPolicy {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly factor: number;
  /** Attempts after a loss before giving up with `failed`. */
  readonly maxAttempts: number;
}

export const defaultReconnectPolicy: ReconnectPolicy = {
  initialDelayMs: 500,
  maxDelayMs: 30_000,
  factor: 2,
  maxAttempts: 10,
};

/** Options for a managed connection: everything SshConnection.connect takes, plus the policy. */
export interface ManagedSshOptions extends Omit<SshConnectOptions, "signal"> {
  readonly reconnect?: Partial<ReconnectPolicy>;
}

/** Whether retrying can fix an error (network trouble) or not (keys, auth, config, cancel). */
export function isRetryable(err: unknown): boolean {
  return (
    SshError.is(err) &&
    (err.reason === "connectFailed" ||
      err.reason === "timeout" ||
      err.reason === "lost" ||
      err.reason === "channelRefused")
  );
}

/** One host's connection, kept alive across losses. Create directly or through {@link SshConnectionPool}. */
export class ManagedSshConnection extends Disposable {
  readonly destination: SshDestination;
  readonly #options: ManagedSshOptions;
  readonly #policy: ReconnectPolicy;
  readonly #log: Logger;
  readonly #cancel = new AbortController();
  readonly #onDidChangeState = this.register(new Emitter<SshConnectionState>());
  #state: SshConnectionState = { state: "idle" };
  /** The attempt in progress (first connect or the reconnect loop), shared by every waiter. */
  #pending: Promise<SshConnection> | undefined;

  /** Fires on every state change. */
  readonly onDidChangeState: Event<SshConnectionState> = this.#onDidChangeState.event;

  constructor(destination: string | SshDestination, options: ManagedSshOptions = {}) {
    super();
    this.destination = typeof destination === "string" ? parseDestination(destination) : destination;
    this.#options = options;
    this.#policy = { ...defaultReconnectPolicy, ...options.reconnect };
    this.#log = options.logger ?? silentLogger;
    this.register({
      dispose: () => this.#cancel.abort(new SshError("cancelled", `ssh ${this.name}: connection closed.`)),
    });
  }

  /** The destination as typed, for messages. */
  get name(): string {
    return this.destination.host;
  }

  get state(): SshConnectionState {
    return this.#state;
  }

  /** The live connection right now, if any. */
  get current(): SshConnection | undefined {
    return this.#state.state === "connected" ? this.#state.connection : undefined;
  }

  /**
   * The live connection: connects on first use, waits while reconnecting, and starts a fresh
   * attempt after `failed`. Rejects with the SshError that made it fail, or `cancelled`.
   */
  connection(signal?: AbortSignal): Promise<SshConnection> {
    if (this.isDisposed)
      return Promise.reject(new SshError("cancelled", `ssh ${this.name}: the connection was closed.`));
    const current = this.current;
    if (current) return Promise.resolve(current);
    if (!this.#pending) this.#pending = this.#firstConnect();
    if (!signal) return this.#pending;
    return raceAbort(this.#pending, signal);
  }

  /** Drops the current connection (if any) and reconnects now, e.g. after settings changed. */
  reconnect(): void {
    const current = this.current;
    if (current) current.destroy();
    else if (this.#state.state === "failed" || this.#state.state === "idle")
      void this.connection().catch(() => {}); // the state event reports the outcome
  }

  override dispose(): void {
    if (this.isDisposed) return;
    const current = this.current;
    this.#setState({ state: "closed" });
    super.dispose();
    current?.close();
  }

  async #firstConnect(): Promise<SshConnection> {
    this.#setState({ state: "connecting" });
    try {
      const conn = await SshConnection.connect(this.destination, {
        ...this.#options,
        signal: this.#cancel.signal,
      });
      this.#adopt(conn);
      return conn;
    } catch (err) {
      const error = toSshError(err, this.name);
      if (!this.isDisposed) this.#setState({ state: "failed", error });
      throw error;
    } finally {
      this.#pending = undefined;
    }
  }

  #adopt(conn: SshConnection): void {
    if (this.isDisposed) {
      conn.close();
      throw new SshError("cancelled", `ssh ${this.name}: the connection was closed.`);
    }
    this.#setState({ state: "connected", connection: conn });
    const sub = conn.onDidClose((error) => {
      sub.dispose();
      if (this.isDisposed || !error) return;
      this.#setState({ state: "lost", error });
      this.#pending = this.#reconnectLoop(error);
      this.#pending.catch(() => {}); // waiters get the rejection; the state event reports it too
    });
  }

  async #reconnectLoop(lostWith: SshError): Promise<SshConnection> {
    let lastError: SshError = lostWith;
    try {
      for (let attempt = 1; attempt <= this.#policy.maxAttempts; attempt++) {
        const delayMs = Math.min(
          this.#policy.maxDelayMs,
          this.#policy.initialDelayMs * this.#policy.factor ** (attempt - 1),
        );
        this.#setState({ state: "reconnecting", attempt, delayMs });
        await delay(delayMs, this.#cancel.signal);
        try {
          const conn = await SshConnection.connect(this.destination, {
            ...this.#options,
            signal: this.#cancel.signal,
          });
          this.#log.info(`ssh ${conn.key}: reconnected after ${attempt} attempt(s)`);
          this.#adopt(conn);
          return conn;
        } catch (err) {
          lastError = toSshError(err, this.name);
          this.#log.info(`ssh ${this.name}: reconnect attempt ${attempt} failed: ${lastError.message}`);
          if (!isRetryable(lastError)) break;
        }
      }
    } catch (err) {
      lastError = toSshError(err, this.name);
    } finally {
      this.#pending = undefined;
    }
    if (!this.isDisposed) this.#setState({ state: "failed", error: lastError });
    throw lastError;
  }

  #setState(state: SshConnectionState): void {
    this.#state = state;
    this.#onDidChangeState.fire(state);
  }
}

/** One managed connection per resolved `user@host:port`, so every feature shares it. */
export class SshConnectionPool extends Disposable {
  readonly #connections = new Map<string, ManagedSshConnection>();

  constructor(private readonly options: ManagedSshOptions = {}) {
    super();
  }

  /** The managed connection for a destination (created on first use; not yet connected). */
  get(destination: string | SshDestination): ManagedSshConnection {
    const dest = typeof destination === "string" ? parseDestination(destination) : destination;
    const key = connectionKey(resolveSshConfig(dest, this.options));
    let managed = this.#connections.get(key);
    if (!managed || managed.isDisposed) {
      managed = this.register(new ManagedSshConnection(dest, this.options));
      this.#connections.set(key, managed);
    }
    return managed;
  }

  /** Every managed connection, keyed by `user@host:port`. */
  get connections(): ReadonlyMap<string, ManagedSshConnection> {
    return this.#connections;
  }
}

function toSshError(err: unknown, name: string): SshError {
  if (SshError.is(err)) return err;
  if (err instanceof Error && err.name === "AbortError")
    return new SshError("cancelled", `ssh ${name}: cancelled.`, {}, { cause: err });
  return new SshError(
    "connectFailed",
    `ssh ${name}: ${err instanceof Error ? err.message : String(err)}`,
    {},
    { cause: err },
  );
}

function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortReason(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
