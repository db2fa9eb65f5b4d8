/**
 * One MetricsSampler per configured host, living as long as the extension (not the SSH
 * session), so a reconnect or a closed dashboard keeps the graphs' history. The samplers learn
 * about zones from the zones model (itself fed by WatchEvents: limits and state markers) and
 * read through whatever ProtectHost is current: ReadZoneMetrics, and Protect's Prometheus text
 * at 127.0.0.1:PORT on the host (`zones.metrics.prometheusPort`, 3035 by default; over an SSH
 * direct-tcpip channel for SSH hosts, directly for a local socket).
 *
 * The Prometheus endpoint is probed once per connection: when it does not answer, that
 * connection uses ReadZoneMetrics alone (logged at debug, nothing shown on zone dashboards)
 * and is not asked again; a reconnect, or a new port setting, probes afresh.
 */
import { request } from "node:http";
import type { Duplex } from "node:stream";
import { Disposable, toDisposable } from "../../core/lifecycle";
import type { Logger } from "../../core/log";
import { MetricsSampler, type MetricsSamplerOptions } from "../../core/metrics/sampler";
import type { ProtectHost } from "../../core/protect/host";
import type { HostAccess } from "../hostAccess";
import type { ZonesModel } from "../model/zonesModel";

/** Where a real Protect host serves its resource metrics. */
export const protectPrometheusPort = 3035;
const prometheusPath = "/metrics/resource";
const maxPrometheusBytes = 8 * 1024 * 1024;

/** What one connection's probe of the Prometheus endpoint found. */
export type PrometheusProbe = "reachable" | "unreachable";

export class HostSamplers extends Disposable {
  readonly #samplers = new Map<string, MetricsSampler>();
  /** Zone ids each sampler has been told about, to tell it when one goes. */
  readonly #known = new Map<string, Set<string>>();
  /** When each host last became connected, to notice a new connection. */
  readonly #connectedSince = new Map<string, number>();
  /**
   * Probe results by connection: the SshConnection of an SSH host (a reconnect makes a new
   * one), the ProtectHost of a local socket. Replaced wholesale when the port changes.
   */
  #probes = new WeakMap<object, PrometheusProbe>();
  #intervalMs: number;
  #prometheusPort: number;

  /**
   * `prometheusPort` 0 turns the Prometheus endpoint off: ReadZoneMetrics only. `tuning` passes
   * timing options through to each sampler (tests shorten the retry delay).
   */
  constructor(
    private readonly model: ZonesModel,
    private readonly hosts: HostAccess,
    private readonly logger: Logger,
    intervalMs: number,
    prometheusPort = protectPrometheusPort,
    private readonly tuning: Pick<MetricsSamplerOptions, "prometheusRetryMs" | "timeoutMs"> = {},
  ) {
    super();
    this.#intervalMs = intervalMs;
    this.#prometheusPort = prometheusPort;
    this.register(
      model.onDidChange((change) => {
        if (change.scope === "hosts") this.#syncHosts();
        else if (change.scope === "host") this.#noteHost(change.hostId);
        else {
          const zone = model.zone(change.hostId, change.zoneId);
          if (zone) this.#samplers.get(change.hostId)?.noteZone(zone);
        }
      }),
    );
    this.register(toDisposable(() => [...this.#samplers.values()].forEach((s) => s.dispose())));
    this.#syncHosts();
  }

  /** The sampler of a configured host. */
  sampler(hostId: string): MetricsSampler | undefined {
    return this.#samplers.get(hostId);
  }

  setIntervalMs(ms: number): void {
    this.#intervalMs = ms;
    for (const s of this.#samplers.values()) s.setIntervalMs(ms);
  }

  /** Uses another port for the Prometheus endpoint (0: none) and probes every host again. */
  setPrometheusPort(port: number): void {
    if (port === this.#prometheusPort) return;
    this.#prometheusPort = port;
    this.#probes = new WeakMap();
    for (const s of this.#samplers.values()) s.retryPrometheusNow();
  }

  /**
   * What the probe found on the host's current connection; undefined before the first probe,
   * while the host is not connected, or with the endpoint turned off.
   */
  prometheusProbe(hostId: string): PrometheusProbe | undefined {
    const connection = this.#connectionOf(this.hosts.current(hostId));
    return connection ? this.#probes.get(connection) : undefined;
  }

  #syncHosts(): void {
    const wanted = new Set(this.model.hosts().map((h) => h.entry.id));
    for (const [id, sampler] of this.#samplers) {
      if (wanted.has(id)) continue;
      sampler.dispose();
      this.#samplers.delete(id);
      this.#known.delete(id);
      this.#connectedSince.delete(id);
    }
    for (const id of wanted) {
      if (!this.#samplers.has(id)) this.#samplers.set(id, this.#create(id));
      this.#noteHost(id);
    }
  }

  #noteHost(hostId: string): void {
    const sampler = this.#samplers.get(hostId);
    const record = this.model.host(hostId);
    if (!sampler || !record || record.connection.kind !== "connected") return;
    if (this.#connectedSince.get(hostId) !== record.connection.since) {
      // A new connection: its Prometheus endpoint gets probed at the next tick, not after the retry delay.
      this.#connectedSince.set(hostId, record.connection.since);
      sampler.retryPrometheusNow();
    }
    const known = this.#known.get(hostId) ?? new Set<string>();
    const now = new Set<string>();
    for (const zone of record.zones.values()) {
      now.add(zone.id);
      sampler.noteZone(zone);
    }
    for (const id of known) if (!now.has(id)) sampler.noteZoneRemoved(id);
    this.#known.set(hostId, now);
  }

  #create(hostId: string): MetricsSampler {
    return new MetricsSampler({
      ...this.tuning,
      intervalMs: this.#intervalMs,
      logger: this.logger,
      readZoneMetrics: async (zoneId, signal) => {
        const host = this.hosts.current(hostId);
        if (!host) throw new Error(`${this.hosts.label(hostId)} is not connected`);
        return host.readZoneMetrics(zoneId, { signal });
      },
      readPrometheus: (signal) => this.#readPrometheus(hostId, signal),
      describePrometheus: () =>
        this.#prometheusPort === 0
          ? "turned off by zones.metrics.prometheusPort"
          : `127.0.0.1:${this.#prometheusPort}${prometheusPath}, zones.metrics.prometheusPort`,
    });
  }

  async #readPrometheus(hostId: string, signal: AbortSignal): Promise<string | undefined> {
    const port = this.#prometheusPort;
    if (port === 0) return undefined;
    const host = this.hosts.current(hostId);
    const connection = this.#connectionOf(host);
    if (!host || !connection) return undefined;
    const probes = this.#probes;
    const known = probes.get(connection);
    if (known === "unreachable") return undefined;
    // Errors other than "nothing answers there" (a timeout, a broken reply) leave the probe
    // open: the sampler retries later and the next answer decides.
    const text = await readPrometheus(host, port, signal);
    if (known === undefined && probes === this.#probes && port === this.#prometheusPort) {
      const where = `127.0.0.1:${port}${prometheusPath} on ${this.hosts.label(hostId)}`;
      if (text === undefined) {
        probes.set(connection, "unreachable");
        this.logger.debug(
          `metrics: no Prometheus endpoint at ${where}; graphs use ReadZoneMetrics alone until the next connection`,
        );
      } else {
        probes.set(connection, "reachable");
        this.logger.debug(
          `metrics: Prometheus endpoint at ${where} answers; it adds per-vCPU and host figures`,
        );
      }
    }
    return text;
  }

  /** What a probe result belongs to; undefined while an SSH host is between connections. */
  #connectionOf(host: ProtectHost | undefined): object | undefined {
    if (!host) return undefined;
    return host.target.kind === "ssh" ? host.ssh : host;
  }
}

/**
 * GET /metrics/resource on the host's 127.0.0.1:PORT: through an SSH direct-tcpip channel for
 * SSH hosts, directly for a local socket (the host is this machine). Undefined when nothing
 * answers there (a dev host without --prometheus): the sampler then retries much later.
 */
export async function readPrometheus(
  host: ProtectHost,
  port: number,
  signal: AbortSignal,
): Promise<string | undefined> {
  let channel: Duplex | undefined;
  if (host.target.kind === "ssh") {
    const ssh = host.ssh;
    if (!ssh) return undefined;
    try {
      channel = await ssh.forwardOut("127.0.0.1", port);
    } catch {
      return undefined; // nothing listens there, or forwarding is off
    }
  }
  try {
    return await new Promise<string | undefined>((resolve, reject) => {
      const req = request(
        {
          host: "127.0.0.1",
          port,
          path: prometheusPath,
          method: "GET",
          signal,
          headers: { accept: "text/plain" },
          ...(channel ? { createConnection: () => channel } : {}),
        },
        (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            resolve(undefined);
            return;
          }
          const chunks: Buffer[] = [];
          let size = 0;
          res.on("data", (chunk: Buffer) => {
            size += chunk.length;
            if (size > maxPrometheusBytes)
              req.destroy(new Error(`metrics larger than ${maxPrometheusBytes} bytes`));
            else chunks.push(chunk);
          });
          res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
          res.on("error", reject);
        },
      );
      req.on("error", (err: NodeJS.ErrnoException) =>
        err.code === "ECONNREFUSED" ? resolve(undefined) : reject(err),
      );
      req.end();
    });
  } finally {
    channel?.destroy();
  }
}
