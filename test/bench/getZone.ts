// Benchmark, not a test: 1000 sequential GetZone calls to the real dev host over (a) its local
// unix socket, (b) SSH direct-streamlocal, (c) the SSH exec bridge (sudo -n socat), through a
// real sshd on loopback. Run: node --import tsx test/bench/getZone.ts [calls]
import { ProtectHost } from "../../extension/core/protect/host";
import { ZoneState } from "../../extension/proto/gen/protect/control/v1/common_pb";
import { startDevHost } from "../harness/devHost";
import { startSshd } from "../harness/sshd";

async function main(): Promise<void> {
  const calls = Number(process.argv[2] ?? 1000);
  const devHost = await startDevHost();
  const sshdForwarding = await startSshd();
  const sshdNoForwarding = await startSshd({ config: { AllowTcpForwarding: "no" } });
  const direct = await ProtectHost.open(`unix://${devHost.socketPath}`);
  let zoneId: string | undefined;
  try {
    zoneId = await direct.createZone({ name: "bench" });
    await direct.waitForZone(zoneId, (z) => z?.status?.state === ZoneState.READY, { timeoutMs: 60_000 });
    const routes: [string, () => Promise<ProtectHost>][] = [
      ["local unix socket", () => ProtectHost.open(`unix://${devHost.socketPath}`)],
      [
        "ssh streamlocal",
        () =>
          ProtectHost.open(sshdForwarding.alias, {
            configFile: sshdForwarding.sshConfigPath,
            env: {},
            socketPath: devHost.socketPath,
          }),
      ],
      [
        "ssh exec bridge",
        () =>
          ProtectHost.open(sshdNoForwarding.alias, {
            configFile: sshdNoForwarding.sshConfigPath,
            env: {},
            socketPath: devHost.socketPath,
          }),
      ],
    ];
    console.log(`${calls} sequential GetZone calls (after one warm-up call that opens the tunnel)`);
    for (const [label, open] of routes) {
      const openStart = performance.now();
      const host = await open();
      const opened = performance.now() - openStart;
      try {
        const firstStart = performance.now();
        await host.getZone(zoneId);
        const first = performance.now() - firstStart;
        const each: number[] = [];
        const start = performance.now();
        for (let i = 0; i < calls; i++) {
          const t = performance.now();
          await host.getZone(zoneId);
          each.push(performance.now() - t);
        }
        const total = performance.now() - start;
        // On a shared machine the mean follows the load; the median shows the path's own cost.
        each.sort((a, b) => a - b);
        const pct = (p: number): string =>
          each[Math.min(each.length - 1, Math.floor(each.length * p))]!.toFixed(2);
        console.log(
          `${label.padEnd(18)} route=${(host.route ?? "?").padEnd(11)} total ${(total / 1000).toFixed(2)} s  ` +
            `mean ${(total / calls).toFixed(2)} ms  p50 ${pct(0.5)} ms  p90 ${pct(0.9)} ms  first call ${first.toFixed(1)} ms  open ${opened.toFixed(1)} ms`,
        );
      } finally {
        host.close();
      }
    }
  } finally {
    if (zoneId) {
      await direct.destroyZone(zoneId).catch(() => {});
      await direct.waitForZone(zoneId, (z) => z === undefined, { timeoutMs: 60_000 }).catch(() => {});
    }
    direct.close();
    await sshdNoForwarding.stop();
    await sshdForwarding.stop();
    await devHost.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
