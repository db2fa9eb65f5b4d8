import { join } from "node:path";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { startDevHost } from "../test/harness/devHost";
import { connectUnix } from "../test/integration/devhost/client";
import { importTestImage } from "../test/integration/devhost/image";
import { runExec, waitForWorkload, waitForZone } from "../test/integration/devhost/helpers";
import { WorkloadState, ZoneState } from "../extension/proto/gen/protect/control/v1/common_pb";

const t0 = Date.now();
const t = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`;
const work = mkdtempSync(join(tmpdir(), "vmsmoke-"));
const host = await startDevHost({ stateDir: mkdtempSync(join(tmpdir(), "vmstate-")), args: ["--sandbox", "vm", "-v"] });
const conn = connectUnix(host.socketPath);
try {
  const { digest } = await importTestImage(conn.client, join(work, "image"));
  const { zoneId } = await conn.client.createZone({ spec: { name: "smoke", initialResources: { targetCpus: 1, targetMemory: 512n } } });
  const z = await waitForZone(conn.client, zoneId, [ZoneState.READY, ZoneState.FAILED], 400_000);
  console.log(t(), "zone", ZoneState[z.status!.state], z.status?.errorStatus?.message, z.spec?.annotations.length);
  const { workloadId: hog } = await conn.client.createWorkload({ spec: { name: "hog", zoneId, image: { digest }, process: { command: ["dd", "if=/dev/zero", "of=/dev/null", "bs=100M", "count=1"] }, cgroupLimits: [{ limitName: "memory.max", value: "64M" }] } });
  await waitForWorkload(conn.client, hog, [WorkloadState.CREATED]);
  await conn.client.startWorkload({ workloadId: hog });
  for (let i = 0; i < 6; i++) {
    await new Promise((r) => setTimeout(r, 10000));
    const { workload } = await conn.client.getWorkload({ workloadId: hog });
    console.log(t(), "hog", WorkloadState[workload!.status!.state], workload!.status?.exitStatus?.code, workload!.status?.errorStatus?.message);
    const r = await runExec(conn.client, zoneId, { command: ["sh", "-c", "ps -o pid,ppid,stat,rss,args; for f in /sys/fs/cgroup/styrolite/*/memory.max /sys/fs/cgroup/styrolite/*/memory.events /sys/fs/cgroup/styrolite/*/cgroup.procs; do echo == $f; cat $f; done; dmesg | tail -5"] });
    console.log(r.stdout, r.stderr);
    if (workload!.status!.state !== WorkloadState.RUNNING) break;
  }
  const { workload } = await conn.client.getWorkload({ workloadId: hog });
  console.log(workload?.status);
} catch (err) {
  console.log("FAILED", (err as Error).message.slice(0, 300));
} finally {
  conn.close();
  await host.stop().catch((e) => console.log("stop", String(e).slice(0, 300)));
  console.log(t(), "stopped");
}
