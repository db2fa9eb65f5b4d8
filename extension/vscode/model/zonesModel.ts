/**
 * The hosts → zones → workloads data the tree, the status bar and the commands read: one model,
 * so every view shows the same state.
 * Fed by the connection owner (../hostConnections.ts): full lists after each (re)connect, then
 * WatchEvents. It knows nothing of VS Code; views subscribe to `onDidChange`, whose events say
 * which part changed so a view refreshes only that part.
 */
import { Emitter } from "../../core/events";
import type { Event } from "../../core/events";
import { equals } from "@bufbuild/protobuf";
import {
  WorkloadSchema,
  WorkloadState,
  ZoneSchema,
  ZoneState,
} from "../../proto/gen/protect/control/v1/common_pb";
import type { Workload, Zone } from "../../proto/gen/protect/control/v1/common_pb";
import type { HostEntry } from "./hostEntry";
import type { HostInfo } from "./hostSession";

/** Where a host's connection stands. */
export type ConnectionState =
  | { readonly kind: "disconnected" }
  | { readonly kind: "connecting"; readonly attempt: number }
  | { readonly kind: "connected"; readonly info: HostInfo; readonly since: number }
  | {
      readonly kind: "failed";
      readonly message: string;
      /** The typed reason of the error (e.g. SshError's `hostKeyChanged`), when it had one. */
      readonly reason?: string;
      /** When the next automatic attempt is due (ms epoch); absent when none is planned. */
      readonly retryAt?: number;
    };

/** A host with everything known about it. */
export interface HostRecord {
  readonly entry: HostEntry;
  readonly connection: ConnectionState;
  /** Zones by id, only meaningful while connected (kept, marked stale, while reconnecting). */
  readonly zones: ReadonlyMap<string, Zone>;
  /** Workloads by id. */
  readonly workloads: ReadonlyMap<string, Workload>;
}

/**
 * What changed: `hosts` (the list itself), `host` (its connection state or its list of zones),
 * `zone` (one zone's fields or its list of workloads).
 */
export type ModelChange =
  | { readonly scope: "hosts" }
  | { readonly scope: "host"; readonly hostId: string }
  | { readonly scope: "zone"; readonly hostId: string; readonly zoneId: string };

interface MutableHost {
  entry: HostEntry;
  connection: ConnectionState;
  zones: Map<string, Zone>;
  workloads: Map<string, Workload>;
}

/** A zone is gone once destroyed; the API drops it from ListZones too. */
export function isGoneZone(zone: Zone): boolean {
  return zone.status?.state === ZoneState.DESTROYED;
}

export function isGoneWorkload(workload: Workload): boolean {
  return workload.status?.state === WorkloadState.DESTROYED;
}

export class ZonesModel {
  readonly #hosts = new Map<string, MutableHost>();
  readonly #onDidChange = new Emitter<ModelChange>();
  readonly onDidChange: Event<ModelChange> = this.#onDidChange.event;

  /** Hosts in the order of `zones.hosts`. */
  hosts(): readonly HostRecord[] {
    return [...this.#hosts.values()];
  }

  host(hostId: string): HostRecord | undefined {
    return this.#hosts.get(hostId);
  }

  /** Zones of a host, by name then id, so the tree order is stable. */
  zones(hostId: string): Zone[] {
    const host = this.#hosts.get(hostId);
    if (!host) return [];
    return [...host.zones.values()].sort(
      (a, b) => (a.spec?.name ?? "").localeCompare(b.spec?.name ?? "") || a.id.localeCompare(b.id),
    );
  }

  zone(hostId: string, zoneId: string): Zone | undefined {
    return this.#hosts.get(hostId)?.zones.get(zoneId);
  }

  /** Workloads running in a zone, by name then id. */
  workloads(hostId: string, zoneId: string): Workload[] {
    const host = this.#hosts.get(hostId);
    if (!host) return [];
    return [...host.workloads.values()]
      .filter((w) => w.spec?.zoneId === zoneId)
      .sort((a, b) => (a.spec?.name ?? "").localeCompare(b.spec?.name ?? "") || a.id.localeCompare(b.id));
  }

  workload(hostId: string, workloadId: string): Workload | undefined {
    return this.#hosts.get(hostId)?.workloads.get(workloadId);
  }

  /** Zones across connected hosts. */
  zoneCount(): number {
    let n = 0;
    for (const host of this.#hosts.values()) if (host.connection.kind === "connected") n += host.zones.size;
    return n;
  }

  /** Replaces the host list, keeping what is known about hosts that stay. */
  setHosts(entries: readonly HostEntry[]): void {
    const next = new Map<string, MutableHost>();
    for (const entry of entries) {
      const existing = this.#hosts.get(entry.id);
      next.set(
        entry.id,
        existing
          ? { ...existing, entry }
          : { entry, connection: { kind: "disconnected" }, zones: new Map(), workloads: new Map() },
      );
    }
    const same =
      next.size === this.#hosts.size && [...next.keys()].every((id, i) => [...this.#hosts.keys()][i] === id);
    this.#hosts.clear();
    for (const [id, host] of next) this.#hosts.set(id, host);
    if (!same) this.#onDidChange.fire({ scope: "hosts" });
  }

  setConnection(hostId: string, connection: ConnectionState): void {
    const host = this.#hosts.get(hostId);
    if (!host) return;
    host.connection = connection;
    // Zones of a host that is not connected cannot be acted on; they come back with the re-list.
    if (connection.kind === "disconnected" || connection.kind === "failed") {
      host.zones.clear();
      host.workloads.clear();
    }
    this.#onDidChange.fire({ scope: "host", hostId });
  }

  /**
   * Reconciles a host with full lists (after connect or reconnect): zones and workloads not in
   * the lists are dropped, the rest replaced. Fires one change per affected scope.
   */
  replaceAll(hostId: string, zones: readonly Zone[], workloads: readonly Workload[]): void {
    const host = this.#hosts.get(hostId);
    if (!host) return;
    const nextZones = new Map(zones.filter((z) => !isGoneZone(z)).map((z) => [z.id, z]));
    const nextWorkloads = new Map(workloads.filter((w) => !isGoneWorkload(w)).map((w) => [w.id, w]));
    const zoneSetChanged =
      nextZones.size !== host.zones.size || [...nextZones.keys()].some((id) => !host.zones.has(id));
    const touchedZones = new Set<string>();
    for (const [id, zone] of nextZones) if (!sameZone(host.zones.get(id), zone)) touchedZones.add(id);
    const zoneOf = (w: Workload | undefined): string | undefined => w?.spec?.zoneId;
    for (const [id, w] of nextWorkloads)
      if (!sameWorkload(host.workloads.get(id), w)) addIf(touchedZones, zoneOf(w));
    for (const [id, w] of host.workloads) if (!nextWorkloads.has(id)) addIf(touchedZones, zoneOf(w));
    host.zones = nextZones;
    host.workloads = nextWorkloads;
    if (zoneSetChanged) {
      this.#onDidChange.fire({ scope: "host", hostId });
    } else {
      for (const zoneId of touchedZones)
        if (nextZones.has(zoneId)) this.#onDidChange.fire({ scope: "zone", hostId, zoneId });
    }
  }

  /** Applies a zone from WatchEvents: added, changed, or removed once destroyed. */
  applyZone(hostId: string, zone: Zone): void {
    const host = this.#hosts.get(hostId);
    if (!host || host.connection.kind !== "connected") return;
    const known = host.zones.has(zone.id);
    if (isGoneZone(zone)) {
      if (!known) return;
      host.zones.delete(zone.id);
      for (const [id, w] of host.workloads) if (w.spec?.zoneId === zone.id) host.workloads.delete(id);
      this.#onDidChange.fire({ scope: "host", hostId });
      return;
    }
    host.zones.set(zone.id, zone);
    this.#onDidChange.fire(known ? { scope: "zone", hostId, zoneId: zone.id } : { scope: "host", hostId });
  }

  /** Applies a workload from WatchEvents. */
  applyWorkload(hostId: string, workload: Workload): void {
    const host = this.#hosts.get(hostId);
    if (!host || host.connection.kind !== "connected") return;
    const previous = host.workloads.get(workload.id);
    if (isGoneWorkload(workload)) {
      if (!previous) return;
      host.workloads.delete(workload.id);
    } else {
      host.workloads.set(workload.id, workload);
    }
    const zoneId = workload.spec?.zoneId ?? previous?.spec?.zoneId;
    if (zoneId && host.zones.has(zoneId)) this.#onDidChange.fire({ scope: "zone", hostId, zoneId });
  }

  dispose(): void {
    this.#onDidChange.dispose();
  }
}

function sameZone(a: Zone | undefined, b: Zone): boolean {
  return a !== undefined && equals(ZoneSchema, a, b);
}

function sameWorkload(a: Workload | undefined, b: Workload): boolean {
  return a !== undefined && equals(WorkloadSchema, a, b);
}

function addIf(set: Set<string>, value: string | undefined): void {
  if (value) set.add(value);
}
