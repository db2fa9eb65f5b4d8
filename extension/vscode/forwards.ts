/**
 * The port forwards the extension keeps open: local listeners whose connections go to a port
 * inside a zone through the daemon (DialNetworkSocket), each dialled on the host's current
 * connection. Forwards of a zone close when the zone goes away or its host is disconnected or
 * removed; all of them close with the extension.
 */
import { messageOf } from "../core/errors";
import { Emitter } from "../core/events";
import type { Event } from "../core/events";
import { Disposable, toDisposable } from "../core/lifecycle";
import type { Logger } from "../core/log";
import { protectDialer } from "../core/forward/dialers";
import { ForwardError } from "../core/forward/errors";
import { PortForward } from "../core/forward/portForward";
import type { ActiveForward } from "../core/forward/portForward";
import type { HostAccess } from "./hostAccess";
import type { ZonesModel } from "./model/zonesModel";

/** One forward as the UI lists it. */
export interface ZoneForward {
  readonly id: number;
  readonly hostId: string;
  readonly zoneId: string;
  readonly zoneName: string;
  readonly zonePort: number;
  readonly label: string | undefined;
  /** Where it listens, and how busy it is. */
  readonly info: ActiveForward;
}

/** What to forward. */
export interface ForwardRequest {
  readonly hostId: string;
  readonly zoneId: string;
  readonly zonePort: number;
  /** 0 or absent: the same port as in the zone, else any free one. */
  readonly localPort?: number;
  readonly localAddress?: string;
  readonly label?: string;
  /** Fail rather than pick another port when the local one is taken. */
  readonly requireLocalPort?: boolean;
}

interface Entry {
  readonly id: number;
  readonly hostId: string;
  readonly zoneId: string;
  readonly zoneName: string;
  readonly zonePort: number;
  readonly label: string | undefined;
  readonly forward: PortForward;
}

export class ZoneForwards extends Disposable {
  readonly #entries = new Map<number, Entry>();
  readonly #onDidChange = this.register(new Emitter<void>());
  /** Fires when a forward opens or closes. */
  readonly onDidChange: Event<void> = this.#onDidChange.event;
  #nextId = 1;

  constructor(
    private readonly model: ZonesModel,
    private readonly hosts: HostAccess,
    private readonly logger: Logger,
  ) {
    super();
    this.register(
      model.onDidChange((change) => {
        if (change.scope === "zone") return; // a zone's own change never removes it
        for (const e of [...this.#entries.values()]) {
          const host = model.host(e.hostId);
          const c = host?.connection;
          const hostGone =
            !c || c.kind === "disconnected" || (c.kind === "failed" && c.retryAt === undefined);
          if (hostGone)
            void this.close(e.id, "its host is not connected any more"); // closes on its own
          else if (c.kind === "connected" && !host?.zones.has(e.zoneId))
            void this.close(e.id, "its zone is gone");
        }
      }),
    );
    this.register(toDisposable(() => [...this.#entries.values()].forEach((e) => void e.forward.close())));
  }

  list(hostId?: string, zoneId?: string): ZoneForward[] {
    return [...this.#entries.values()]
      .filter(
        (e) => (hostId === undefined || e.hostId === hostId) && (zoneId === undefined || e.zoneId === zoneId),
      )
      .map((e) => ({
        id: e.id,
        hostId: e.hostId,
        zoneId: e.zoneId,
        zoneName: e.zoneName,
        zonePort: e.zonePort,
        label: e.label,
        info: e.forward.info,
      }));
  }

  /**
   * Opens a forward; an existing one to the same zone port is returned instead. When the
   * local port is taken (and not required) another free port is used. Rejects with
   * ForwardError when no listener can be opened.
   */
  async open(request: ForwardRequest): Promise<ZoneForward> {
    const existing = this.list(request.hostId, request.zoneId).find((f) => f.zonePort === request.zonePort);
    if (existing) return existing;
    const zone = this.model.zone(request.hostId, request.zoneId);
    const zoneName = zone?.spec?.name || request.zoneId;
    // Dialled per connection on whatever ProtectHost is current, so a reconnect does not strand the forward.
    const dial = async () =>
      protectDialer(await this.hosts.wait(request.hostId), request.zoneId, "127.0.0.1", request.zonePort)();
    const spec = {
      localAddress: request.localAddress ?? "127.0.0.1",
      localPort: request.localPort ?? request.zonePort,
      remote: `${zoneName}:${request.zonePort}`,
      ...(request.label !== undefined ? { label: request.label } : {}),
    };
    let forward: PortForward;
    try {
      forward = await PortForward.open(spec, dial, { logger: this.logger });
    } catch (err) {
      if (!ForwardError.is(err, "portInUse") || request.requireLocalPort) throw err;
      forward = await PortForward.open({ ...spec, localPort: 0 }, dial, { logger: this.logger });
    }
    const id = this.#nextId++;
    const entry: Entry = {
      id,
      hostId: request.hostId,
      zoneId: request.zoneId,
      zoneName,
      zonePort: request.zonePort,
      label: request.label,
      forward,
    };
    this.#entries.set(id, entry);
    forward.onDidFail((f) =>
      this.logger.warn(
        `[${request.hostId}] forward ${f.forward.localAddress}:${f.forward.localPort} → ${f.forward.remote}: ${messageOf(f.error)}`,
      ),
    );
    this.logger.info(
      `[${request.hostId}] forwarding ${forward.info.localAddress}:${forward.info.localPort} → ${spec.remote}`,
    );
    this.#onDidChange.fire();
    return this.list().find((f) => f.id === id)!;
  }

  /** Stops a forward (its open connections are cut). */
  async close(id: number, why = "stopped"): Promise<void> {
    const entry = this.#entries.get(id);
    if (!entry) return;
    this.#entries.delete(id);
    await entry.forward.close();
    entry.forward.dispose();
    this.logger.info(`[${entry.hostId}] forward to ${entry.zoneName}:${entry.zonePort} closed: ${why}`);
    this.#onDidChange.fire();
  }
}
