/**
 * One MetricsSampler per configured host, living as long as the extension (not the SSH
 * session), so a reconnect or a closed dashboard keeps the graphs' history. The samplers learn
 * about zones from the zones model (itself fed by WatchEvents: limits and state markers) and
 * read through whatever ProtectHost is current: ReadZoneMetrics, and Protect's Prometheus text
 * at 127.0.0.1:3035 on the host (over an SSH channel for SSH hosts, directly for a local socket).
 */
import { request } from "node:http";
import type { Duplex } from "node:stream";
import { Disposable, toDisposable } from "../../core/lifecycle";
import type { Logger } from "../../core/log";
import { MetricsSampler } from "../../core/metrics/sampler";
import { toProtectError } from "../../core/protect/errors";
import type { ProtectHost } from "../../core/protect/host";
import type { HostAccess } from "../hostAccess";
import type { ZonesModel } from "../model/zonesModel";

/** Where a real Protect host serves its resource metrics. */
export const protectPrometheusPort = 3035;
const prometheusPath = "/metrics/resource";
const maxPrometheusBytes = 8 * 1024 * 1024;

export class HostSamplers extends Disposable {
  readonly #samplers = new Map<string, MetricsSampler>();
  /** Zone ids each sampler has been told about, to tell it when one goes. */
  readonly #known = new Map<string, Set<string>>();
  #intervalMs: number;

  constructor(
    private readonly model: ZonesModel,
    private readonly hosts: HostAccess,
    private readonly logger: Logger,
    intervalMs: number,
    private readonly prometheusPort = protectPrometheusPort,
  ) {
    super();
    this.#intervalMs = intervalMs;
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

  #syncHosts(): void {
    const wanted = new Set(this.model.hosts().map((h) => h.entry.id));
    for (const [id, sampler] of this.#samplers) {
      if (wanted.has(id)) continue;
      sampler.dispose();
      this.#samplers.delete(id);
      this.#known.delete(id);
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
      intervalMs: this.#intervalMs,
      logger: this.logger,
      readZoneMetrics: async (zoneId, signal) => {
        const host = this.hosts.current(hostId);
        if (!host) throw new Error(`${this.hosts.label(hostId)} is not connected`);
        try {
          return (await host.client.readZoneMetrics({ zoneId }, { signal, timeoutMs: 10_000 })).root;
        } catch (err) {
          throw toProtectError(err, "ReadZoneMetrics", host.name);
        }
      },
      readPrometheus: async (signal) => {
        const host = this.hosts.current(hostId);
        return host ? readPrometheus(host, this.prometheusPort, signal) : undefined;
      },
    });
  }
}

/**
 * GET /metrics/resource on the host's 127.0.0.1:PORT: through an SSH direct-tcpip channel for
 * SSH hosts, directly for a local socket (the host is this machine). Undefined when nothing
 * answers there (a dev host without --prometheus): the sampler then retries much later.
 */
export async function readPrometheus(host: ProtectHost, port: number, signal: AbortSignal): Promise<string | undefined> {
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
        { host: "127.0.0.1", port, path: prometheusPath, method: "GET", signal, headers: { accept: "text/plain" }, ...(channel ? { createConnection: () => channel } : {}) },
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
            if (size > maxPrometheusBytes) req.destroy(new Error(`metrics larger than ${maxPrometheusBytes} bytes`));
            else chunks.push(chunk);
          });
          res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
          res.on("error", reject);
        },
      );
      req.on("error", (err: NodeJS.ErrnoException) => (err.code === "ECONNREFUSED" ? resolve(undefined) : reject(err)));
      req.end();
    });
  } finally {
    channel?.destroy();
  }
}
