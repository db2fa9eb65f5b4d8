// The host samplers' Prometheus endpoint: probed once per connection, left alone on a connection
// where nothing answered (ReadZoneMetrics alone, nothing asked again), probed afresh after a
// reconnect or a port change. The endpoint is a real HTTP server on loopback serving Protect's
// recorded /metrics/resource text; the SSH channel is faked by a TCP socket to it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fromJson, type JsonValue } from "@bufbuild/protobuf";
import { createServer, type Server } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { join } from "node:path";
import type { Logger } from "../../../../extension/core/log";
import { silentLogger } from "../../../../extension/core/log";
import type { ProtectHost } from "../../../../extension/core/protect/host";
import { MetricNodeSchema, ZoneState } from "../../../../extension/proto/gen/protect/control/v1/common_pb";
import { HostAccess } from "../../../../extension/vscode/hostAccess";
import type { HostConnections } from "../../../../extension/vscode/hostConnections";
import { HostSamplers } from "../../../../extension/vscode/metrics/hostSamplers";
import { parseHostEntry } from "../../../../extension/vscode/model/hostEntry";
import { ZonesModel } from "../../../../extension/vscode/model/zonesModel";
import { zone } from "../fixtures";

const metricsText = readFileSync(
  join(import.meta.dirname, "../../metrics/fixtures", "protect-metrics-resource.txt"),
  "utf8",
);
/** A recorded ReadZoneMetrics tree (krata's shape): memory and processes, no CPU figures. */
const zoneTree = fromJson(
  MetricNodeSchema,
  JSON.parse(
    readFileSync(join(import.meta.dirname, "../../metrics/fixtures", "kratactl-zone-metrics.json"), "utf8"),
  ) as JsonValue,
);
const readZoneMetrics = async (): Promise<typeof zoneTree> => zoneTree;
/** A zone the recorded text has per-vCPU figures for (97.5 % and 12.5 %). */
const burnerId = "3f1c2a9e-5b7d-4c11-9a0e-2d6f8b1c7e44";

/** Protect's endpoint on loopback, counting the scrapes it answers. */
async function startEndpoint(
  port = 0,
): Promise<{ server: Server; port: number; scrapes: () => number; close(): Promise<void> }> {
  let scrapes = 0;
  const server = createServer((req, res) => {
    if (req.url !== "/metrics/resource") return void res.writeHead(404).end();
    scrapes++;
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(metricsText);
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    scrapes: () => scrapes,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port nothing listens on (bound, then released). */
async function unusedPort(): Promise<number> {
  const probe = await startEndpoint();
  await probe.close();
  return probe.port;
}

/** A debug log kept in memory. */
function memoryLogger(lines: string[]): Logger {
  const put = (m: string) => void lines.push(m);
  return { ...silentLogger, debug: put, info: put, warn: put };
}

/** A unix-socket ProtectHost as far as the samplers look: the endpoint is reached directly. */
function unixHost(): ProtectHost {
  return {
    target: { kind: "unix", socketPath: "/run/dev.socket", display: "unix:///run/dev.socket" },
    name: "unix:///run/dev.socket",
    ssh: undefined,
    readZoneMetrics,
  } as unknown as ProtectHost;
}

/** An SSH ProtectHost whose forwardOut opens a TCP socket where sshd would open a channel. */
function sshHost(forwards: { count: number }, refuse = false): ProtectHost {
  const ssh = {
    forwardOut: async (host: string, port: number) => {
      forwards.count++;
      if (refuse) throw new Error("(SSH) Channel open failure: Connection refused");
      return connect(port, host);
    },
  };
  return {
    target: { kind: "ssh", destination: { host: "web1" }, display: "web1" },
    name: "web1",
    ssh,
    readZoneMetrics,
  } as unknown as ProtectHost;
}

function setup(entry: string, port: number, log: string[] = []) {
  const model = new ZonesModel();
  let protect: ProtectHost | undefined;
  const connections = { session: () => (protect ? { protect } : undefined) } as unknown as HostConnections;
  // The sampler's own retry after a failed scrape is cut to 50 ms: what keeps a connection from
  // being asked again is the probe, not that delay.
  const samplers = new HostSamplers(model, new HostAccess(model, connections), memoryLogger(log), 100, port, {
    prometheusRetryMs: 50,
  });
  model.setHosts([parseHostEntry(entry)]);
  let since = 0;
  /** A (new) connection to the host, as HostConnections reports one. */
  const connectWith = (host: ProtectHost): void => {
    protect = host;
    model.setConnection(entry, { kind: "connecting", attempt: 1 });
    model.setConnection(entry, { kind: "connected", info: { version: "1", devHost: false }, since: ++since });
  };
  return { model, samplers, sampler: () => samplers.sampler(entry)!, connectWith };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `check` holds (or fails after `ms`). */
async function until(what: string, check: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

test("a local socket host: an endpoint that does not answer is probed once; the next connection probes again and the host view fills", async () => {
  const port = await unusedPort();
  const log: string[] = [];
  const { samplers, sampler, connectWith } = setup("unix:///run/dev.socket", port, log);
  connectWith(unixHost());
  const host = sampler().subscribeHost();
  try {
    await until("the probe", () => samplers.prometheusProbe("unix:///run/dev.socket") === "unreachable");
    const status = sampler().hostHistory.status;
    assert.equal(status.state, "error");
    assert.match(
      status.state === "error" ? status.message : "",
      new RegExp(`127\\.0\\.0\\.1:${port}/metrics/resource.*not reachable`),
    );
    assert.ok(
      log.some((l) => l.includes(`no Prometheus endpoint at 127.0.0.1:${port}`)),
      `logged at debug: ${log.join(" | ")}`,
    );

    // The endpoint comes up, but this connection already knows there is none: nobody asks it.
    const endpoint = await startEndpoint(port);
    try {
      await sleep(500); // five sampling intervals
      assert.equal(endpoint.scrapes(), 0, "not probed again on the same connection");

      // A reconnect probes again at once (not after the 30 s retry delay), and the host view gets data.
      connectWith(unixHost());
      await until(
        "a host sample",
        () =>
          sampler()
            .hostHistory.ring.snapshot()
            .series.get("mem.total")
            ?.some((v) => v === 17179869184) ?? false,
      );
      assert.equal(samplers.prometheusProbe("unix:///run/dev.socket"), "reachable");
      assert.equal(sampler().hostHistory.status.state, "ok");
      const before = endpoint.scrapes();
      await sleep(350);
      assert.ok(
        endpoint.scrapes() >= before + 2,
        `a reachable endpoint is scraped every interval (${before} → ${endpoint.scrapes()})`,
      );
    } finally {
      host.dispose();
      await endpoint.close();
    }
  } finally {
    host.dispose();
    samplers.dispose();
  }
});

test("an SSH host: the endpoint is read through a forward to the host's 127.0.0.1:PORT and adds per-vCPU figures to zone graphs", async () => {
  const endpoint = await startEndpoint();
  const { model, samplers, sampler, connectWith } = setup("web1", endpoint.port);
  const forwards = { count: 0 };
  connectWith(sshHost(forwards));
  model.replaceAll("web1", [zone(burnerId, "burner", ZoneState.READY)], []);
  const sub = sampler().subscribe(burnerId);
  try {
    // The recorded tree has no CPU figures; the per-vCPU columns come from the Prometheus text alone.
    await until(
      "per-vCPU columns",
      () =>
        sampler()
          .history(burnerId)
          ?.ring.snapshot()
          .series.get("cpu.0")
          ?.some((v) => v === 97.5) ?? false,
    );
    assert.ok(forwards.count >= 1);
    assert.equal(samplers.prometheusProbe("web1"), "reachable");
  } finally {
    sub.dispose();
    samplers.dispose();
    await endpoint.close();
  }
});

test("an SSH host where the forward is refused: asked once per connection, zone graphs keep ReadZoneMetrics without an error", async () => {
  const { model, samplers, sampler, connectWith } = setup("web1", 3035);
  const refused = { count: 0 };
  connectWith(sshHost(refused, true));
  model.replaceAll("web1", [zone("z1", "web", ZoneState.READY)], []);
  const sub = sampler().subscribe("z1");
  try {
    await until("the probe", () => samplers.prometheusProbe("web1") === "unreachable");
    await sleep(500);
    assert.equal(refused.count, 1, "one forward attempt on this connection");
    assert.notEqual(
      sampler().history("z1")!.status.state,
      "error",
      "the zone dashboard shows no error for a missing endpoint",
    );

    // Reconnected: a new SSH connection, asked again.
    const second = { count: 0 };
    connectWith(sshHost(second, true));
    await until("a probe on the new connection", () => second.count === 1);
    await sleep(300);
    assert.equal(second.count, 1);
  } finally {
    sub.dispose();
    samplers.dispose();
  }
});

test("a new port setting probes again; port 0 never reads the endpoint", async () => {
  const endpoint = await startEndpoint();
  const { samplers, sampler, connectWith } = setup("web1", await unusedPort());
  const forwards = { count: 0 };
  connectWith(sshHost(forwards));
  const host = sampler().subscribeHost();
  try {
    await until("the probe", () => samplers.prometheusProbe("web1") === "unreachable");
    samplers.setPrometheusPort(endpoint.port);
    await until("host samples from the new port", () => sampler().hostHistory.status.state === "ok");
    assert.equal(samplers.prometheusProbe("web1"), "reachable");

    samplers.setPrometheusPort(0);
    await sleep(150);
    const scrapes = endpoint.scrapes();
    const opened = forwards.count;
    await sleep(400);
    assert.equal(endpoint.scrapes(), scrapes, "port 0: no scrapes");
    assert.equal(forwards.count, opened, "port 0: no forwards opened");
    assert.equal(samplers.prometheusProbe("web1"), undefined);
    const status = sampler().hostHistory.status;
    assert.match(
      status.state === "error" ? status.message : "",
      /turned off by zones\.metrics\.prometheusPort/,
    );
  } finally {
    host.dispose();
    samplers.dispose();
    await endpoint.close();
  }
});
