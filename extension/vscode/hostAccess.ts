/**
 * How commands, terminals and panels reach a host's ProtectHost. The object behind a host
 * changes when its connection is re-made, so nothing keeps one: each use asks again, and an
 * action started while the host is reconnecting waits for it (bounded) instead of failing.
 */
import { delay } from "../core/abort";
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
   * or reconnects. Rejects with ProtectError `unreachable` when it does not come (or was
   * removed or disconnected by the user), `cancelled` on abort.
   */
  async wait(hostId: string, signal?: AbortSignal, timeoutMs = 30_000): Promise<ProtectHost> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const host = this.current(hostId);
      if (host) return host;
      const record = this.model.host(hostId);
      const waiting =
        record?.connection.kind === "connecting" ||
        (record?.connection.kind === "failed" && record.connection.retryAt !== undefined);
      if (!record || !waiting || Date.now() > deadline) {
        const why = !record
          ? "is not configured"
          : record.connection.kind === "failed"
            ? `is not connected: ${record.connection.message}`
            : "is not connected";
        throw new ProtectError("unreachable", `${this.label(hostId)} ${why}`, { host: this.label(hostId) });
      }
      try {
        await delay(100, signal);
      } catch {
        throw new ProtectError("cancelled", `waiting for ${this.label(hostId)} was cancelled`, {
          host: this.label(hostId),
        });
      }
    }
  }
}
