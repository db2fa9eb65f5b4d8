/**
 * How commands, terminals and panels reach a host's ProtectHost. The object behind a host
 * changes when its connection is re-made, so nothing keeps one: each use asks again, and an
 * action started while the host is reconnecting waits for it (bounded) instead of failing.
 */
import { ProtectError } from "../core/protect/errors";
import type { ProtectHost } from "../core/protect/host";
import type { HostConnections } from "./hostConnections";
import type { ZonesModel } from "./model/zonesModel";

/** Finds the live ProtectHost of a host id. */
export class HostAccess {
  constructor(
    private readonly model: ZonesModel,
    private readonly connections: HostConnections,
  ) {}

  /** The host's display label (its entry as written when unknown). */
  label(hostId: string): string {
    return this.model.host(hostId)?.entry.label ?? hostId;
  }

  /** The ProtectHost of a connected host, now; undefined while it is not connected. */
  current(hostId: string): ProtectHost | undefined {
    if (this.model.host(hostId)?.connection.kind !== "connected") return undefined;
    return this.connections.session(hostId)?.protect;
  }

  /**
   * The ProtectHost once the host is connected, waiting up to `timeoutMs` while it connects
   * or reconnects (following the model's changes, not polling). Rejects with ProtectError
   * `unreachable` when it does not come (or was removed or disconnected by the user),
   * `cancelled` on abort.
   */
  wait(hostId: string, signal?: AbortSignal, timeoutMs = 30_000): Promise<ProtectHost> {
    const now = this.#outlook(hostId);
    if (now.kind === "ready") return Promise.resolve(now.host);
    if (now.kind === "refused") return Promise.reject(now.error);
    if (signal?.aborted) return Promise.reject(this.#cancelled(hostId));
    return new Promise<ProtectHost>((resolve, reject) => {
      const finish = (): void => {
        changes.dispose();
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      const changes = this.model.onDidChange((change) => {
        if (change.scope === "zone" || (change.scope === "host" && change.hostId !== hostId)) return;
        const next = this.#outlook(hostId);
        if (next.kind === "coming") return;
        finish();
        if (next.kind === "ready") resolve(next.host);
        else reject(next.error);
      });
      const onAbort = (): void => {
        finish();
        reject(this.#cancelled(hostId));
      };
      const timer = setTimeout(() => {
        finish();
        reject(this.#notConnected(hostId));
      }, timeoutMs);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** The host now, or why waiting for it is pointless, or neither (it is on its way). */
  #outlook(
    hostId: string,
  ): { kind: "ready"; host: ProtectHost } | { kind: "refused"; error: ProtectError } | { kind: "coming" } {
    const host = this.current(hostId);
    if (host) return { kind: "ready", host };
    const record = this.model.host(hostId);
    const coming =
      record?.connection.kind === "connecting" ||
      (record?.connection.kind === "failed" && record.connection.retryAt !== undefined);
    return coming ? { kind: "coming" } : { kind: "refused", error: this.#notConnected(hostId) };
  }

  #notConnected(hostId: string): ProtectError {
    const record = this.model.host(hostId);
    const why = !record
      ? "is not configured"
      : record.connection.kind === "failed"
        ? `is not connected: ${record.connection.message}`
        : "is not connected";
    return new ProtectError("unreachable", `${this.label(hostId)} ${why}`, { host: this.label(hostId) });
  }

  #cancelled(hostId: string): ProtectError {
    return new ProtectError("cancelled", `waiting for ${this.label(hostId)} was cancelled`, {
      host: this.label(hostId),
    });
  }
}
