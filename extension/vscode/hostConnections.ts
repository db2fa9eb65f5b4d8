/**
 * The one owner of connections and refreshes (nothing else connects or lists, so nothing
 * polls or races it): one lifetime per configured host,
 * which connects, lists, then follows WatchEvents (no polling) and, when the connection or the
 * stream drops, reconnects with bounded backoff and reconciles by listing again. Everything a
 * session owns is torn down with it; disposing this owner aborts every lifetime.
 */
import { abortReason, delay, isAbortError } from "../core/abort";
import { messageOf, ReasonedError } from "../core/errors";
import { Disposable, toDisposable } from "../core/lifecycle";
import type { Logger } from "../core/log";
import { scopedLogger } from "../core/log";
import { ProtectError } from "../core/protect/errors";
import { SshError } from "../core/ssh/errors";
import type { HostEntry } from "./model/hostEntry";
import type { ConnectPrompts, HostConnector, HostSession } from "./model/hostSession";
import type { ZonesSettings } from "./settingsSchema";
import type { ZonesModel } from "./model/zonesModel";

/** Why a list was requested: a manual refresh is immediate, the others follow connection events. */
export type RefreshReason = "connect" | "reconnect" | "manual";

/** Errors a retry cannot fix: the user or the configuration has to act first. */
const finalSshReasons = new Set([
  "hostKeyChanged",
  "hostKeyUnknown",
  "hostKeyRevoked",
  "authFailed",
  "configInvalid",
  "cancelled",
]);

/** Daemon answers a retry can outlast: it was away, slow, or the link dropped. */
const retryableProtectReasons = new Set(["unreachable", "lost", "deadline"]);

/** True when waiting and trying again may succeed. */
export function isRetryable(err: unknown): boolean {
  if (err instanceof SshError) return !finalSshReasons.has(err.reason);
  if (err instanceof ProtectError) return retryableProtectReasons.has(err.reason);
  if (err instanceof HostEntryError) return false;
  return true;
}

/** A `zones.hosts` entry that cannot be connected as written. */
export class HostEntryError extends ReasonedError<"invalid"> {
  override readonly name = "HostEntryError";
}

/** Backoff before attempt `n` (1-based): 1 s, 2 s, 4 s… capped. */
export function backoffMs(attempt: number, maxDelaySeconds: number): number {
  return Math.min(1000 * 2 ** Math.max(0, attempt - 1), maxDelaySeconds * 1000);
}

/** Services a lifetime needs; all owned elsewhere. */
export interface ConnectionServices {
  readonly model: ZonesModel;
  readonly connector: HostConnector;
  readonly settings: () => ZonesSettings;
  readonly prompts: ConnectPrompts;
  readonly log: Logger;
  /** Called with a failure the user must see now (e.g. a changed host key), beyond the tree. */
  readonly onFatalError: (entry: HostEntry, err: unknown) => void;
}

export class HostConnections extends Disposable {
  readonly #lifetimes = new Map<string, HostLifetime>();

  constructor(private readonly services: ConnectionServices) {
    super();
    this.register(
      toDisposable(() => {
        for (const lifetime of this.#lifetimes.values()) lifetime.dispose();
        this.#lifetimes.clear();
      }),
    );
  }

  /** Follows the host list: new hosts connect, removed ones disconnect. */
  sync(entries: readonly HostEntry[]): void {
    this.services.model.setHosts(entries);
    const wanted = new Set(entries.map((e) => e.id));
    for (const [id, lifetime] of this.#lifetimes) {
      if (!wanted.has(id)) {
        lifetime.dispose();
        this.#lifetimes.delete(id);
      }
    }
    for (const entry of entries) if (!this.#lifetimes.has(entry.id)) this.connect(entry.id);
  }

  /** (Re)connects a host from scratch: Connect, Retry, Reconnect now. */
  connect(hostId: string): void {
    const entry = this.services.model.host(hostId)?.entry;
    if (!entry || this.isDisposed) return;
    this.#lifetimes.get(hostId)?.dispose();
    const lifetime = new HostLifetime(entry, this.services);
    this.#lifetimes.set(hostId, lifetime);
    lifetime.start();
  }

  disconnect(hostId: string): void {
    this.#lifetimes.get(hostId)?.dispose();
    this.#lifetimes.delete(hostId);
    this.services.model.setConnection(hostId, { kind: "disconnected" });
    this.services.log.info(`[${hostId}] disconnected by the user`);
  }

  reconnectAll(): void {
    for (const host of this.services.model.hosts())
      if (host.connection.kind !== "disconnected") this.connect(host.entry.id);
  }

  /** Lists again (all hosts when no id is given) and reconciles; a no-op for hosts not connected. */
  async refresh(hostId: string | undefined, reason: RefreshReason): Promise<void> {
    const targets = hostId ? [this.#lifetimes.get(hostId)] : [...this.#lifetimes.values()];
    await Promise.all(targets.flatMap((t) => (t ? [t.relist(reason)] : [])));
  }

  /** The live session of a host, for commands that act on it. */
  session(hostId: string): HostSession | undefined {
    return this.#lifetimes.get(hostId)?.session;
  }
}

/** One host's connection lifetime: connect → list → watch, and again after a loss. */
class HostLifetime extends Disposable {
  readonly #abort = new AbortController();
  readonly #log: Logger;
  #session: HostSession | undefined;

  constructor(
    private readonly entry: HostEntry,
    private readonly services: ConnectionServices,
  ) {
    super();
    this.#log = scopedLogger(services.log, entry.id);
    this.register(toDisposable(() => this.#abort.abort(new DOMException("host disconnected", "AbortError"))));
  }

  get session(): HostSession | undefined {
    return this.#session;
  }

  start(): void {
    void this.#run().catch((err: unknown) => this.#log.error("connection loop stopped", err)); // the loop reports into the model itself
  }

  async relist(reason: RefreshReason): Promise<void> {
    const session = this.#session;
    if (!session) return;
    const [zones, workloads] = await Promise.all([
      session.listZones(this.#abort.signal),
      session.listWorkloads(this.#abort.signal),
    ]);
    this.#log.debug(`${reason} refresh: ${zones.length} zones, ${workloads.length} workloads`);
    if (this.#session === session) this.services.model.replaceAll(this.entry.id, zones, workloads);
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    let attempt = 0;
    while (!signal.aborted) {
      attempt++;
      this.services.model.setConnection(this.entry.id, { kind: "connecting", attempt });
      let session: HostSession;
      try {
        session = await this.#connect(signal);
      } catch (err) {
        if (signal.aborted || !(await this.#backOff(err, attempt, signal))) return;
        continue;
      }
      const started = Date.now();
      const { error, listed } = await this.#serve(session);
      this.#session = undefined;
      session.dispose();
      if (signal.aborted) return;
      // A session that could not list, or died at once (say, WatchEvents unimplemented),
      // counts as a failed attempt with backoff; one that lasted a while reconnects at once
      // with a fresh budget.
      if (!listed || Date.now() - started < 10_000) {
        if (!(await this.#backOff(error, attempt, signal))) return;
        continue;
      }
      this.#log.warn(`connection lost: ${messageOf(error)}; reconnecting`);
      attempt = 0;
    }
  }

  /** Records a failed attempt; waits and returns true when another attempt should follow. */
  async #backOff(err: unknown, attempt: number, signal: AbortSignal): Promise<boolean> {
    const { model } = this.services;
    const settings = this.services.settings();
    const reason = err instanceof ReasonedError ? (err.reason as string) : undefined;
    const retry = isRetryable(err) && attempt <= settings.reconnect.maxAttempts;
    this.#log.warn(`connect attempt ${attempt} failed: ${messageOf(err)}`);
    if (!retry) {
      model.setConnection(this.entry.id, {
        kind: "failed",
        message: messageOf(err),
        ...(reason ? { reason } : {}),
      });
      this.services.onFatalError(this.entry, err);
      return false;
    }
    const wait = backoffMs(attempt, settings.reconnect.maxDelaySeconds);
    model.setConnection(this.entry.id, {
      kind: "failed",
      message: messageOf(err),
      ...(reason ? { reason } : {}),
      retryAt: Date.now() + wait,
    });
    try {
      await delay(wait, signal);
      return true;
    } catch {
      return false;
    }
  }

  async #connect(signal: AbortSignal): Promise<HostSession> {
    if (this.entry.kind === "invalid") throw new HostEntryError("invalid", this.entry.message);
    const started = Date.now();
    const session = await this.services.connector.connect(this.entry, {
      signal,
      settings: this.services.settings(),
      prompts: this.services.prompts,
      log: this.#log,
    });
    this.#log.info(
      `connected in ${Date.now() - started} ms: ${session.info.version}${session.info.devHost ? " (dev host)" : ""}`,
    );
    return session;
  }

  /**
   * Follows the session's event stream: a `resync` replaces the host's zones and workloads
   * (the first one marks the host connected), changes are applied as they come, and an
   * interruption the session recovers from by itself shows as "connecting" until the next
   * resync. Resolves with the reason the session ended and whether it ever listed.
   */
  async #serve(session: HostSession): Promise<{ error: Error; listed: boolean }> {
    const { model } = this.services;
    const id = this.entry.id;
    const streamAbort = new AbortController();
    const signal = AbortSignal.any([this.#abort.signal, streamAbort.signal]);
    let listed = false;
    const ended = new Promise<Error>((resolve) => {
      const sub = session.onDidDisconnect((err) => {
        sub.dispose();
        resolve(err);
      });
      // Disconnect and dispose must not wait for the stream to notice the abort.
      signal.addEventListener("abort", () => resolve(abortReason(signal)), { once: true });
      void (async () => {
        try {
          for await (const event of session.watch(signal)) {
            switch (event.kind) {
              case "resync":
                if (!listed || model.host(id)?.connection.kind !== "connected") {
                  this.#session = session;
                  model.setConnection(id, { kind: "connected", info: session.info, since: Date.now() });
                }
                model.replaceAll(id, event.zones, event.workloads);
                this.#log.debug(
                  `${listed ? "re-listed after an interruption" : "listed"}: ${event.zones.length} zones, ${event.workloads.length} workloads; following events`,
                );
                listed = true;
                break;
              case "zone":
                model.applyZone(id, event.zone);
                break;
              case "workload":
                model.applyWorkload(id, event.workload);
                break;
              case "interrupted":
                this.#log.warn(
                  `event stream interrupted: ${event.error.message}; the session is reconnecting`,
                );
                model.setConnection(id, { kind: "connecting", attempt: 1 });
                break;
            }
          }
          resolve(new Error("the host closed the event stream"));
        } catch (err) {
          resolve(err instanceof Error ? err : new Error(messageOf(err)));
        }
      })(); // settles `ended`; errors are its value
    });
    const error = await ended;
    streamAbort.abort();
    if (isAbortError(error) && this.#abort.signal.aborted)
      return { error: abortReason(this.#abort.signal), listed };
    return { error, listed };
  }
}
