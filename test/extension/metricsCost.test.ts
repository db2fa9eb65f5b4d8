/**
 * A measurement, not a check (runs with ZONES_E2E_MEASURE=1): the extension host's own CPU use
 * while 0, 1, 10 and 50 real dev-host zones each have a dashboard open (one panel visible, the
 * others open in background tabs, as a user would have them), sampled every second over the
 * real transport. The figures are printed and written to test/.artifacts/metrics-cost.json.
 */
import * as assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as vscode from "vscode";
import { ProtectHost } from "../../extension/core/protect/host";
import { ZoneState } from "../../extension/proto/gen/protect/control/v1/common_pb";
import type { ZonesApi } from "../../extension/vscode/ctx";

const alias = process.env.ZONES_TEST_HOST_ID;
const socket = process.env.ZONES_TEST_DEVHOST_SOCKET;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(what: string, probe: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

suite("extension-host CPU with 1, 10 and 50 zones graphed (ZONES_E2E_MEASURE=1)", function () {
  this.timeout(15 * 60_000);
  let zones: ZonesApi;
  let other: ProtectHost;
  const ids: string[] = [];

  suiteSetup(async function () {
    if (!process.env.ZONES_E2E_MEASURE || !alias || !socket) this.skip();
    zones = await vscode.extensions.getExtension<ZonesApi>("styrolite.styrolite-zones")!.activate();
    await zones.ready; // the services (terminals, launches, panels) load just after activation
    other = await ProtectHost.open(`unix://${socket}`);
    await until("the host connected", () => zones.model.host(alias)?.connection.kind === "connected", 30_000);
  });

  suiteTeardown(async () => {
    for (const id of ids) await other?.destroyZone(id).catch(() => undefined);
    other?.close();
  });

  test("measures the sampling and dashboard cost per graphed zone", async () => {
    const windowMs = 10_000;
    const rows: {
      zones: number;
      cpuPercentOfOneCore: number;
      extraPerZoneMsPerSecond: number | null;
      samplesPerZone: number;
    }[] = [];
    let baseline = 0;
    for (const count of [0, 1, 10, 50]) {
      while (ids.length < count) {
        ids.push(
          await other.createZone({
            name: `graphed-${ids.length + 1}`,
            initialResources: { targetCpus: 1, maxCpus: 1, targetMemory: 64n, maxMemory: 64n },
          }),
        );
      }
      await until(
        `${count} zones ready in the model`,
        () =>
          ids.slice(0, count).every((id) => zones.model.zone(alias!, id)?.status?.state === ZoneState.READY),
        120_000,
      );
      const panels = ids
        .slice(0, count)
        .map((zoneId) => zones.dashboards.show({ kind: "zone", hostId: alias!, zoneId }, 60));
      await sleep(3000); // first reads and webview start-up are not the steady state
      const sampler = zones.samplers.sampler(alias!)!;
      const before = ids.slice(0, count).map((id) => sampler.history(id)?.ring.snapshot().times.length ?? 0);
      const cpuBefore = process.cpuUsage();
      const wallBefore = process.hrtime.bigint();
      await sleep(windowMs);
      const cpu = process.cpuUsage(cpuBefore);
      const wallMs = Number(process.hrtime.bigint() - wallBefore) / 1e6;
      const after = ids.slice(0, count).map((id) => sampler.history(id)?.ring.snapshot().times.length ?? 0);
      const percent = ((cpu.user + cpu.system) / 1000 / wallMs) * 100;
      if (count === 0) baseline = percent;
      const samples = count ? after.reduce((n, a, i) => n + (a - before[i]!), 0) / count : 0;
      rows.push({
        zones: count,
        cpuPercentOfOneCore: Math.round(percent * 100) / 100,
        extraPerZoneMsPerSecond: count
          ? Math.round((((percent - baseline) / 100) * 1000 * 100) / count) / 100
          : null,
        samplesPerZone: Math.round(samples * 10) / 10,
      });
      for (const p of panels) p.dispose();
      if (count)
        assert.ok(
          samples >= windowMs / 1000 - 3,
          `every graphed zone was sampled about once a second (${samples} in ${windowMs / 1000} s)`,
        );
    }
    console.log(`    extension-host CPU, dashboards open on N zones, ${windowMs / 1000} s each:`);
    for (const r of rows)
      console.log(
        `      ${String(r.zones).padStart(2)} zones: ${r.cpuPercentOfOneCore.toFixed(2)} % of one core${r.extraPerZoneMsPerSecond === null ? " (baseline)" : `, +${r.extraPerZoneMsPerSecond} ms CPU per zone per second; ${r.samplesPerZone} samples per zone`}`,
      );
    const artifacts = join(__dirname, "..", "..", "test", ".artifacts");
    mkdirSync(artifacts, { recursive: true });
    writeFileSync(
      join(artifacts, "metrics-cost.json"),
      `${JSON.stringify({ transport: alias!.startsWith("unix://") ? "unix" : "ssh", windowMs, rows }, null, 2)}\n`,
    );
  });
});
