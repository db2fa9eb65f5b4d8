/**
 * Samples zone metrics for whoever needs them — dashboard panels, tree descriptions — and keeps
 * the history. One sampler per host, living as long as the extension (not the SSH session), so
 * a reconnect or a closed panel keeps the graphs' past.
 *
 * Subscriptions are reference-counted per zone: the first subscriber starts sampling that zone,
 * the last one leaving stops it (and aborts its read in flight). With nothing subscribed no
 * timer runs at all. Reads go through injected functions; the sampler never talks gRPC itself.
 */
import type { MetricNode, Zone } from "../../proto/gen/protect/control/v1/common_pb";
import { ZoneState } from "../../proto/gen/protect/control/v1/common_pb";
import { Disposable, toDisposable, type DisposableLike } from "../lifecycle";
import { silentLogger, type Logger } from "../log";
import { messageOf } from "../errors";
import { systemClock, type Clock } from "./clock";
import { MetricsHistory, type HistoryChange } from "./history";
import { zoneSampleFromTree } from "./metricTree";
import { parsePrometheusText, protectResourceReading, type ProtectResourceReading } from "./prometheus";
import { BoundedList } from "./ringBuffer";
import type { Marker, ZoneLimits } from "./types";
import { limitsFromZone, markerForTransition } from "./zoneEvents";
import { zoneIsolation } from "../protect/zoneIsolation";

export interface MetricsSamplerOptions {
  /** One ReadZoneMetrics call; resolves undefined when the zone has no metrics (yet). */
  readZoneMetrics: (zoneId: string, signal: AbortSignal) => Promise<MetricNode | undefined>;
  /**
   * One scrape of the host's Prometheus text (Protect's `/metrics/resource`); resolves
   * undefined when the endpoint is not reachable. Gives per-vCPU figures and the host view.
   */
  readPrometheus?: (signal: AbortSignal) => Promise<string | undefined>;
  /** Where the Prometheus endpoint is looked for, for messages (e.g. "127.0.0.1:3035 on web1"). */
  describePrometheus?: () => string;
  /** Sampling interval; default 1000 ms. */
  intervalMs?: number;
  /** Rows kept per zone; default 3600 (an hour at 1 s). */
  capacity?: number;
  /** A read slower than this is aborted and counts as a gap; default 5000 ms. */
  timeoutMs?: number;
  /** After the Prometheus endpoint failed, wait this long before trying again; default 30 s. */
  prometheusRetryMs?: number;
  clock?: Clock;
  logger?: Logger;
}

/** Receives every change of a subscribed history. */
export type HistoryListener = (change: HistoryChange) => void;

interface ZoneEntry {
  zoneId: string;
  name: string | null;
  /** What isolates it ("VM · TCG", "shared kernel"), for a dev host's zones. */
  isolation: string | null;
  state: ZoneState | undefined;
  limits: ZoneLimits | null;
  /** Markers that arrived before anyone opened the zone; moved into the history on first use. */
  pendingMarkers: BoundedList<Marker>;
  history: MetricsHistory | null;
  subscribers: number;
  inFlight: AbortController | null;
  /** Destroyed while subscribed: forget once the last subscriber leaves. */
  gone: boolean;
}

const minIntervalMs = 100;

export class MetricsSampler extends Disposable {
  readonly #read: MetricsSamplerOptions["readZoneMetrics"];
  readonly #readPrometheus: MetricsSamplerOptions["readPrometheus"];
  readonly #describePrometheus: (() => string) | undefined;
  readonly #capacity: number;
  readonly #timeoutMs: number;
  readonly #prometheusRetryMs: number;
  readonly #clock: Clock;
  readonly #log: Logger;
  #intervalMs: number;
  #timer: unknown = undefined;
  readonly #zones = new Map<string, ZoneEntry>();
  #hostHistory: MetricsHistory | null = null;
  #hostSubscribers = 0;
  #scrapeInFlight: AbortController | null = null;
  #scrapePromise: Promise<ProtectResourceReading | undefined> | null = null;
  #prometheusRetryAt = 0;

  constructor(options: MetricsSamplerOptions) {
    super();
    this.#read = options.readZoneMetrics;
    this.#readPrometheus = options.readPrometheus;
    this.#describePrometheus = options.describePrometheus;
    this.#capacity = options.capacity ?? 3600;
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#prometheusRetryMs = options.prometheusRetryMs ?? 30_000;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.logger ?? silentLogger;
    this.#intervalMs = checkInterval(options.intervalMs ?? 1000);
    this.register(toDisposable(() => this.#shutdown()));
  }

  get intervalMs(): number {
    return this.#intervalMs;
  }

  /** Changes the interval; takes effect from the next tick. */
  setIntervalMs(ms: number): void {
    this.#intervalMs = checkInterval(ms);
    if (this.#timer !== undefined) {
      this.#clock.clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#schedule(this.#clock.now());
    }
  }

  /**
   * Starts (or joins) sampling a zone. The listener sees every change of its history; dispose
   * the result to leave. The history outlives the subscription.
   */
  subscribe(zoneId: string, listener?: HistoryListener): DisposableLike {
    if (this.isDisposed) return { dispose() {} };
    const entry = this.#entry(zoneId);
    const history = this.#historyOf(entry);
    const registration = listener ? history.onDidChange(listener) : undefined;
    entry.subscribers++;
    if (entry.subscribers === 1) {
      // Sampling resumes after a pause: break the line rather than join across the hole.
      history.addGap(this.#clock.now());
      this.#log.debug(`metrics: sampling zone ${zoneId}`);
      void this.#readZone(entry, this.#clock.now(), undefined); // first point at once; errors land in the history
      this.#ensureTicking();
    }
    return toDisposable(() => {
      registration?.dispose();
      entry.subscribers--;
      if (entry.subscribers > 0) return;
      this.#log.debug(`metrics: stopped sampling zone ${zoneId}`);
      entry.inFlight?.abort(new Error("no longer needed"));
      entry.inFlight = null;
      history.setStatus({ state: "stopped" });
      if (entry.gone) this.#forget(entry);
      this.#stopIfIdle();
    });
  }

  /** Starts (or joins) sampling the host view (host CPU/memory and zones stacked). */
  subscribeHost(listener?: HistoryListener): DisposableLike {
    if (this.isDisposed) return { dispose() {} };
    const history = this.hostHistory;
    const registration = listener ? history.onDidChange(listener) : undefined;
    this.#hostSubscribers++;
    if (this.#hostSubscribers === 1) {
      history.addGap(this.#clock.now());
      if (!this.#readPrometheus)
        history.setStatus({ state: "error", message: "This host serves no Prometheus metrics endpoint." });
      this.#prometheusRetryAt = 0;
      this.#ensureTicking();
    }
    return toDisposable(() => {
      registration?.dispose();
      this.#hostSubscribers--;
      if (this.#hostSubscribers > 0) return;
      history.setStatus({ state: "stopped" });
      this.#stopIfIdle();
    });
  }

  /**
   * Forgets that the Prometheus endpoint failed: the next tick scrapes again instead of waiting
   * out the retry delay. For a new connection, where the endpoint may answer now.
   */
  retryPrometheusNow(): void {
    this.#prometheusRetryAt = 0;
  }

  /** The history of a zone that has been subscribed at least once (and not destroyed). */
  history(zoneId: string): MetricsHistory | undefined {
    return this.#zones.get(zoneId)?.history ?? undefined;
  }

  get hostHistory(): MetricsHistory {
    return (this.#hostHistory ??= new MetricsHistory(this.#capacity));
  }

  /** The zone's name as last seen in a zone event, for labels. */
  zoneName(zoneId: string): string | null {
    return this.#zones.get(zoneId)?.name ?? null;
  }

  /** What isolates the zone, as last seen ("VM · TCG"); null for a Protect host's zones. */
  zoneIsolation(zoneId: string): string | null {
    return this.#zones.get(zoneId)?.isolation ?? null;
  }

  isSampling(zoneId: string): boolean {
    return (this.#zones.get(zoneId)?.subscribers ?? 0) > 0;
  }

  /** Zones sampled right now. */
  get sampledZones(): string[] {
    return [...this.#zones.values()].filter((e) => e.subscribers > 0).map((e) => e.zoneId);
  }

  /**
   * Feeds a zone object from WatchEvents / ListZones: limits (the lines) and state transitions
   * (the markers). The first sight of a zone sets its state without a marker — a marker says
   * something happened, not that we connected.
   */
  noteZone(zone: Zone): void {
    const entry = this.#entry(zone.id);
    if (zone.spec?.name) entry.name = zone.spec.name;
    entry.isolation = zoneIsolation(zone)?.label ?? null;
    const now = this.#clock.now();
    const limits = limitsFromZone(zone);
    if (limits) {
      entry.limits = limits;
      entry.history?.setLimits(limits, now);
    }
    const previous = entry.state;
    entry.state = zone.status?.state ?? ZoneState.UNKNOWN;
    if (previous !== undefined) {
      const marker = markerForTransition(previous, zone, now);
      if (marker) this.addMarker(zone.id, marker);
    }
    if (entry.state === ZoneState.DESTROYED) this.noteZoneRemoved(zone.id);
  }

  /** The zone is gone from the host: its history goes once nobody looks at it. */
  noteZoneRemoved(zoneId: string): void {
    const entry = this.#zones.get(zoneId);
    if (!entry) return;
    if (entry.subscribers > 0) entry.gone = true;
    else this.#forget(entry);
  }

  addMarker(zoneId: string, marker: Marker): void {
    const entry = this.#entry(zoneId);
    if (entry.history) entry.history.addMarker(marker);
    else entry.pendingMarkers.push(marker);
  }

  #entry(zoneId: string): ZoneEntry {
    let entry = this.#zones.get(zoneId);
    if (!entry) {
      entry = {
        zoneId,
        name: null,
        isolation: null,
        state: undefined,
        limits: null,
        pendingMarkers: new BoundedList(100),
        history: null,
        subscribers: 0,
        inFlight: null,
        gone: false,
      };
      this.#zones.set(zoneId, entry);
    }
    return entry;
  }

  #historyOf(entry: ZoneEntry): MetricsHistory {
    if (entry.history) return entry.history;
    const history = new MetricsHistory(this.#capacity);
    if (entry.limits) history.setLimits(entry.limits, this.#clock.now());
    for (const marker of entry.pendingMarkers.items) history.addMarker(marker);
    entry.pendingMarkers = new BoundedList(100);
    entry.history = history;
    return history;
  }

  #forget(entry: ZoneEntry): void {
    entry.history?.dispose();
    this.#zones.delete(entry.zoneId);
  }

  #needed(): boolean {
    if (this.isDisposed) return false;
    if (this.#hostSubscribers > 0) return true;
    for (const entry of this.#zones.values()) if (entry.subscribers > 0) return true;
    return false;
  }

  #ensureTicking(): void {
    if (this.#timer === undefined) this.#schedule(this.#clock.now());
  }

  #schedule(from: number): void {
    if (!this.#needed()) return;
    const wait = Math.max(0, from + this.#intervalMs - this.#clock.now());
    this.#timer = this.#clock.setTimeout(() => this.#tick(), wait);
  }

  #stopIfIdle(): void {
    if (this.#needed()) return;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#scrapeInFlight?.abort(new Error("no longer needed"));
    this.#scrapeInFlight = null;
  }

  #tick(): void {
    this.#timer = undefined;
    if (!this.#needed()) return;
    const started = this.#clock.now();
    const due = [...this.#zones.values()].filter((e) => e.subscribers > 0 && !e.inFlight);
    const wantsScrape = this.#readPrometheus !== undefined && (this.#hostSubscribers > 0 || due.length > 0);
    // A scrape still running from the last tick is shared rather than doubled up.
    let scrape = wantsScrape ? (this.#scrapePromise ?? undefined) : undefined;
    if (wantsScrape && !scrape && started >= this.#prometheusRetryAt) {
      const promise = this.#scrape(started);
      this.#scrapePromise = promise;
      void promise.finally(() => {
        if (this.#scrapePromise === promise) this.#scrapePromise = null;
      }); // #scrape never rejects
      scrape = promise;
    }
    for (const entry of due) void this.#readZone(entry, started, scrape); // each read records its own outcome
    this.#schedule(started);
  }

  async #readZone(
    entry: ZoneEntry,
    time: number,
    scrape: Promise<ProtectResourceReading | undefined> | undefined,
  ): Promise<void> {
    if (entry.inFlight) return;
    const history = this.#historyOf(entry);
    const controller = new AbortController();
    entry.inFlight = controller;
    const timer = this.#clock.setTimeout(
      () => controller.abort(new Error(`no reply within ${this.#timeoutMs} ms`)),
      this.#timeoutMs,
    );
    try {
      const root = await this.#read(entry.zoneId, controller.signal);
      const reading = scrape ? await scrape : undefined;
      if (entry.subscribers === 0 || this.isDisposed) return;
      if (controller.signal.aborted) throw controller.signal.reason;
      if (!root) {
        history.addGap(time);
        return;
      }
      const sample = zoneSampleFromTree(root, time);
      const fromPrometheus = reading?.zones.get(entry.zoneId);
      if (fromPrometheus) {
        // The tree wins where it has a figure; Prometheus fills in what it lacks (per-vCPU CPU above all).
        if (sample.cpuPercent === null) sample.cpuPercent = fromPrometheus.cpuPercent;
        if (!sample.cpuPerVcpu && fromPrometheus.cpuPerVcpu) sample.cpuPerVcpu = fromPrometheus.cpuPerVcpu;
        sample.memoryUsed ??= fromPrometheus.memoryUsed;
        sample.memoryTotal ??= fromPrometheus.memoryTotal;
        sample.memoryFree ??= fromPrometheus.memoryFree;
      }
      history.addZoneSample(sample);
      history.setStatus({ state: "ok" });
    } catch (err) {
      if (entry.subscribers === 0 || this.isDisposed) return; // aborted because nobody needs it any more
      const message = controller.signal.aborted ? messageOf(controller.signal.reason) : messageOf(err);
      this.#log.debug(`metrics: reading zone ${entry.zoneId} failed: ${message}`);
      history.addGap(time);
      history.setStatus({ state: "error", message: `Reading metrics failed: ${message}` });
    } finally {
      this.#clock.clearTimeout(timer);
      if (entry.inFlight === controller) entry.inFlight = null;
    }
  }

  async #scrape(time: number): Promise<ProtectResourceReading | undefined> {
    const controller = new AbortController();
    this.#scrapeInFlight = controller;
    const timer = this.#clock.setTimeout(
      () => controller.abort(new Error(`no reply within ${this.#timeoutMs} ms`)),
      this.#timeoutMs,
    );
    const host = this.#hostSubscribers > 0 ? this.hostHistory : null;
    try {
      const text = await this.#readPrometheus!(controller.signal);
      if (controller.signal.aborted) throw controller.signal.reason;
      if (text === undefined) {
        this.#prometheusRetryAt = this.#clock.now() + this.#prometheusRetryMs;
        host?.addGap(time);
        const where = this.#describePrometheus ? ` (${this.#describePrometheus()})` : "";
        host?.setStatus({
          state: "error",
          message: `The host's Prometheus endpoint${where} is not reachable; the host view needs it.`,
        });
        return undefined;
      }
      const parsed = parsePrometheusText(text);
      if (parsed.errors.length)
        this.#log.debug(
          `metrics: skipped ${parsed.errors.length} malformed Prometheus lines, first: line ${parsed.errors[0]!.line}: ${parsed.errors[0]!.message}`,
        );
      const reading = protectResourceReading(parsed.samples, time);
      if (host && this.#hostSubscribers > 0) {
        if (reading.host) {
          host.addHostSample(reading.host, reading.zones);
          host.setStatus({ state: "ok" });
        } else {
          host.addGap(time);
          host.setStatus({ state: "error", message: "The host's metrics carry no host_* figures." });
        }
      }
      return reading;
    } catch (err) {
      if (this.isDisposed) return undefined;
      const message = controller.signal.aborted ? messageOf(controller.signal.reason) : messageOf(err);
      this.#log.debug(`metrics: Prometheus scrape failed: ${message}`);
      this.#prometheusRetryAt = this.#clock.now() + this.#prometheusRetryMs;
      if (host && this.#hostSubscribers > 0) {
        host.addGap(time);
        host.setStatus({ state: "error", message: `Reading host metrics failed: ${message}` });
      }
      return undefined;
    } finally {
      this.#clock.clearTimeout(timer);
      if (this.#scrapeInFlight === controller) this.#scrapeInFlight = null;
    }
  }

  #shutdown(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#scrapeInFlight?.abort(new Error("sampler disposed"));
    for (const entry of this.#zones.values()) {
      entry.inFlight?.abort(new Error("sampler disposed"));
      entry.history?.dispose();
    }
    this.#zones.clear();
    this.#hostHistory?.dispose();
  }
}

function checkInterval(ms: number): number {
  if (!Number.isFinite(ms) || ms < minIntervalMs)
    throw new RangeError(`metrics interval must be at least ${minIntervalMs} ms, got ${ms}`);
  return ms;
}
