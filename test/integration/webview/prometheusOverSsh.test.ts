/**
 * The host dashboard's data path with every part real but VS Code: the dev host serving its
 * Prometheus text on 127.0.0.1 (`--prometheus`), a real OpenSSH sshd in front of it, the
 * extension's HostSamplers reading that text through an SSH direct-tcpip forward of the
 * ProtectHost's own connection. The host view fills (host CPU/memory, a zone stacked); an SSH
 * drop gives a new connection that is probed again; a port nothing listens on is probed once
 * and the zone graphs carry on with ReadZoneMetrics alone.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Logger } from "../../../extension/core/log";
import { silentLogger } from "../../../extension/core/log";
import { Column } from "../../../extension/core/metrics/history";
import { ProtectHost } from "../../../extension/core/protect/host";
import { ZoneState } from "../../../extension/proto/gen/protect/control/v1/common_pb";
import { HostAccess } from "../../../extension/vscode/hostAccess";
import type { HostConnections } from "../../../extension/vscode/hostConnections";
import { HostSamplers } from "../../../extension/vscode/metrics/hostSamplers";
import { parseHostEntry } from "../../../extension/vscode/model/hostEntry";
import { ZonesModel } from "../../../extension/vscode/model/zonesModel";
import { startDevHost, type StartedDevHost } from "../../harness/devHost";
import { freePort, startSshd, type Sshd } from "../../harness/sshd";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, check: () => T | undefined | false, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

describe("Prometheus text over SSH for the host dashboard", () => {
  let devHost: StartedDevHost;
  let sshd: Sshd;
  let host: ProtectHost;
  let prometheusPort: number;
  let zoneId: string;
  const log: string[] = [];

  before(async () => {
    prometheusPort = await freePort();
    devHost = await startDevHost({ args: ["--prometheus", `127.0.0.1:${prometheusPort}`] });
    sshd = await startSshd();
    host = await ProtectHost.open(sshd.alias, {
      configFile: sshd.sshConfigPath,
      env: {},
      socketPath: devHost.socketPath,
    });
    zoneId = await host.createZone({
      name: "stacked",
      initialResources: { targetCpus: 1, maxCpus: 1, targetMemory: 128n, maxMemory: 128n },
    });
    await host.waitForZone(zoneId, (z) => z?.status?.state === ZoneState.READY, { timeoutMs: 30_000 });
  });

  after(async () => {
    await host?.destroyZone(zoneId).catch(() => undefined);
    host?.close();
    await sshd?.stop();
    await devHost?.stop();
  });

  /** HostSamplers over the real ProtectHost, with the model saying connected as HostConnections would. */
  function samplersFor(port: number) {
    const model = new ZonesModel();
    const connections = { session: () => ({ protect: host }) } as unknown as HostConnections;
    const logger: Logger = { ...silentLogger, debug: (m: string) => void log.push(m) };
    const samplers = new HostSamplers(model, new HostAccess(model, connections), logger, 250, port, {
      prometheusRetryMs: 100,
    });
    const id = sshd.alias;
    model.setHosts([parseHostEntry(id)]);
    let since = 0;
    const connected = (): void =>
      model.setConnection(id, {
        kind: "connected",
        info: { version: "devhost", devHost: true },
        since: ++since,
      });
    connected();
    return { samplers, sampler: samplers.sampler(id)!, id, connected };
  }

  it("fills the host view (host CPU and memory, the zone stacked) through a forward, and probes the new connection after an SSH drop", async () => {
    const { samplers, sampler, id, connected } = samplersFor(prometheusPort);
    const sub = sampler.subscribeHost();
    try {
      const series = () => sampler.hostHistory.ring.snapshot().series;
      const lastOf = (column: string): number | undefined => {
        const values = series().get(column);
        for (let i = (values?.length ?? 0) - 1; i >= 0; i--)
          if (!Number.isNaN(values![i]!)) return values![i];
        return undefined;
      };
      await until("host memory", () => (lastOf(Column.memoryTotal) ?? 0) > 0);
      assert.equal(sampler.hostHistory.status.state, "ok");
      assert.equal(samplers.prometheusProbe(id), "reachable");
      assert.ok(host.route !== "unix", "the daemon is reached over SSH");
      await until("the zone stacked in the host view", () => lastOf(Column.zoneMemory(zoneId)) !== undefined);
      assert.ok(lastOf(Column.cpu) !== undefined, "host CPU");
      assert.ok(lastOf(Column.cpuAt(0)) !== undefined, "per host CPU");

      // An SSH drop: ProtectHost reconnects by itself; HostConnections would then say connected again.
      const before = host.ssh;
      assert.ok((await sshd.killSessions()) > 0);
      await until("a new SSH connection", () => host.ssh && host.ssh !== before, 20_000);
      connected();
      assert.equal(samplers.prometheusProbe(id), undefined, "the new connection has not been probed yet");
      await until("the new connection probed", () => samplers.prometheusProbe(id) === "reachable", 10_000);
      const rows = series().get(Column.memoryTotal)!.length;
      await until("host samples again", () => series().get(Column.memoryTotal)!.length > rows + 1);
    } finally {
      sub.dispose();
      samplers.dispose();
    }
  });

  it("probes a port nothing listens on once per connection; the zone graph carries on with ReadZoneMetrics", async () => {
    const unused = await freePort();
    const { samplers, sampler, id } = samplersFor(unused);
    const zone = sampler.subscribe(zoneId);
    const hostView = sampler.subscribeHost();
    try {
      await until("the probe", () => samplers.prometheusProbe(id) === "unreachable");
      assert.ok(
        log.some((l) => l.includes(`no Prometheus endpoint at 127.0.0.1:${unused}`)),
        "logged at debug",
      );
      const history = sampler.history(zoneId)!;
      await until("zone samples from ReadZoneMetrics", () =>
        history.ring
          .snapshot()
          .series.get(Column.memoryUsed)!
          .some((v) => !Number.isNaN(v)),
      );
      assert.equal(history.status.state, "ok", "no error on the zone dashboard");
      const status = sampler.hostHistory.status;
      assert.match(
        status.state === "error" ? status.message : "",
        new RegExp(`127\\.0\\.0\\.1:${unused}.*not reachable`),
      );
    } finally {
      zone.dispose();
      hostView.dispose();
      samplers.dispose();
    }
  });
});
