import { join } from "node:path";
import { mkdtempSync } from "node:fs";
import { tmpdir, release } from "node:os";
import { startDevHost } from "../test/harness/devHost";
import { connectUnix } from "../test/integration/devhost/client";
import { importTestImage } from "../test/integration/devhost/image";
import { runExec, waitForWorkload, waitForZone } from "../test/integration/devhost/helpers";
import { WorkloadState, ZoneState } from "../extension/proto/gen/protect/control/v1/common_pb";

const t = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`;
const t0 = Date.now();
const work = mkdtempSync(join(tmpdir(), "vmsmoke-"));
const host = await startDevHost({ args: ["--sandbox", "vm", "-v"] });
console.log(t(), "dev host up", host.stateDir);
const conn = connectUnix(host.socketPath);
try {
  const { digest } = await importTestImage(conn.client, join(work, "image"));
  console.log(t(), "image", digest);
  const { zoneId } = await conn.client.createZone({ spec: { name: "smoke", initialResources: { targetCpus: 1, maxCpus: 2, targetMemory: 512n } } });
  const z = await waitForZone(conn.client, zoneId, [ZoneState.READY, ZoneState.FAILED], 400_000);
  console.log(t(), "zone", ZoneState[z.status!.state], z.status?.errorStatus?.message, z.status?.networkStatus?.interfaces[0]?.ips[0]?.address);
  console.log(z.spec?.annotations.filter((a) => a.key.startsWith("dev.styrolite")).map((a) => `${a.key}=${a.value}`).join("\n"));
  console.log(t(), "zone uname", JSON.stringify(await runExec(conn.client, zoneId, { command: ["uname", "-r"] })), "host", release());
  const { workloadId } = await conn.client.createWorkload({ spec: { name: "w", zoneId, image: { digest }, process: { command: ["sleep", "600"] } } });
  await waitForWorkload(conn.client, workloadId, [WorkloadState.CREATED]);
  await conn.client.startWorkload({ workloadId });
  const w = await waitForWorkload(conn.client, workloadId, [WorkloadState.RUNNING, WorkloadState.FAILED], 200_000);
  console.log(t(), "workload", WorkloadState[w.status!.state], w.status?.errorStatus?.message);
  console.log(t(), "wl exec", JSON.stringify(await runExec(conn.client, zoneId, { workloadId, command: ["sh", "-c", "uname -r; id; hostname; cat /proc/1/cmdline | tr '\\0' ' '; echo; head -1 /proc/meminfo"] })));
  const tty = await runExec(conn.client, zoneId, { workloadId, command: ["sh"], tty: { rows: 24, columns: 80 } }, async (send, out) => {
    send({ request: { case: "stdin", value: { stdin: Buffer.from("stty size\n") } } });
    await new Promise((r) => setTimeout(r, 3000));
    send({ request: { case: "terminalResize", value: { size: { rows: 40, columns: 120 } } } });
    await new Promise((r) => setTimeout(r, 1000));
    send({ request: { case: "stdin", value: { stdin: Buffer.from("stty size; exit 7\n") } } });
  });
  console.log(t(), "tty", JSON.stringify(tty));
  const { workloadId: hog } = await conn.client.createWorkload({ spec: { name: "hog", zoneId, image: { digest }, process: { command: ["dd", "if=/dev/zero", "of=/dev/null", "bs=100M", "count=1"] }, cgroupLimits: [{ limitName: "memory.max", value: "64M" }] } });
  await waitForWorkload(conn.client, hog, [WorkloadState.CREATED]);
  await conn.client.startWorkload({ workloadId: hog });
  const h = await waitForWorkload(conn.client, hog, [WorkloadState.COMPLETED, WorkloadState.FAILED], 200_000);
  console.log(t(), "hog", WorkloadState[h.status!.state], h.status?.exitStatus?.code, h.status?.errorStatus?.message);
  const m = await conn.client.readZoneMetrics({ zoneId });
  console.log(t(), "metrics", JSON.stringify(m.root?.children.map((c) => c.name)));
  await conn.client.destroyZone({ zoneId });
  await waitForZone(conn.client, zoneId, [ZoneState.DESTROYED], 60_000).catch((e) => console.log("destroy wait", String(e)));
  console.log(t(), "destroyed");
} catch (err) {
  console.log("FAILED", err);
} finally {
  conn.close();
  await host.stop().catch((e) => console.log("stop", String(e)));
  console.log(t(), "stopped");
}
