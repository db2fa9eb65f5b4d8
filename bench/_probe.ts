import { PerformanceObserver } from "node:perf_hooks";
import { mkdtempSync, writeFileSync, readFileSync } from "node:fs";
function procCpu(pid: number): [number, number] { const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" "); return [(Number(f[11]) + Number(f[12])) / 100, (Number(f[13]) + Number(f[14])) / 100]; }
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ProtectHost } from "../extension/core/protect/host";
import { startExec } from "../extension/core/terminal/execSession";
import { ZoneState } from "../extension/proto/gen/protect/control/v1/common_pb";
import { startDevHost } from "../test/harness/devHost";

let gcMs = 0, gcCount = 0;
new PerformanceObserver((l) => { for (const e of l.getEntries()) { gcMs += e.duration; gcCount++; } }).observe({ entryTypes: ["gc"] });
async function main() {
const work = mkdtempSync(join(tmpdir(), "probe-"));
const file = join(work, "f.txt");
const line = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/ABCDEFGHIJKL\n";
writeFileSync(file, line.repeat(Math.ceil(100 * 2 ** 20 / line.length)));
const dh = await startDevHost();
const host = await ProtectHost.open(`unix://${dh.socketPath}`);
const zoneId = await host.createZone({ name: "probe" });
await host.waitForZone(zoneId, (z) => z?.status?.state === ZoneState.READY, { timeoutMs: 60_000 });
for (let i = 0; i < 4; i++) {
  let bytes = 0, msgs = 0;
  const g0 = gcMs, c0 = gcCount; const cpu0 = process.cpuUsage();
  const d0 = procCpu(dh.pid);
  const t0 = performance.now();
  const s = startExec(host.client, { zoneId, command: ["cat", file], tty: { rows: 50, columns: 200 } }, { onStdout: (d) => { bytes += d.length; msgs++; }, onStderr: () => {} });
  s.endInput();
  await s.exited;
  const sec = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const d1 = procCpu(dh.pid);
  console.log(`devhost cpu ${(d1[0]-d0[0]).toFixed(2)} s, reaped children ${(d1[1]-d0[1]).toFixed(2)} s, wall ${sec.toFixed(2)}`);
  console.log(`run ${i}: ${(bytes / 2 ** 20 / sec).toFixed(1)} MiB/s, ${msgs} msgs (${Math.round(bytes / msgs)} B avg), client cpu ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s (user ${(cpu.user/1e6).toFixed(2)}), gc ${(gcMs - g0).toFixed(0)} ms in ${gcCount - c0}`);
}
host.close();
await dh.stop();
process.exit(0);
}
void main();
