import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WorkloadState, ZoneState } from "../../../extension/proto/gen/protect/control/v1/common_pb";
import { startDevHost } from "../../harness/devHost";
import { connectUnix } from "./client";
import { cgroupDirsMatching, linksWithPrefix, listAllZones, waitForWorkload, waitForZone } from "./helpers";
import { importTestImage } from "./image";

const work = mkdtempSync(join(tmpdir(), "devhost-stop-"));
after(() => rmSync(work, { recursive: true, force: true }));

/** Every process below `pid`, with its start time so a recycled pid is not mistaken for it. */
function descendants(pid: number): Map<number, string> {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    const p = Number(entry);
    if (!(p > 0)) continue;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const ppid = Number(fields[1]);
      parents.set(ppid, [...(parents.get(ppid) ?? []), p]);
    } catch {
      // gone
    }
  }
  const out = new Map<number, string>();
  const stack = [pid];
  while (stack.length) {
    for (const child of parents.get(stack.pop()!) ?? []) {
      out.set(child, startTime(child) ?? "");
      stack.push(child);
    }
  }
  return out;
}

function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/** Processes of the set that still run (zombies waiting to be reaped have ended already). */
function stillAlive(procs: Map<number, string>): number[] {
  return [...procs]
    .filter(([pid, start]) => startTime(pid) === start && state(pid) !== "Z")
    .map(([pid]) => pid);
}

function state(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
  } catch {
    return undefined;
  }
}

/**
 * Processes in the network namespace `inode` that are not another dev host's: once the zone's
 * namespace is gone the kernel may hand its inode number to a new namespace, such as a zone of
 * another test file's dev host running alongside; those processes sit in that dev host's cgroup.
 */
function netnsHolders(inode: string, devHostPid: number): number {
  let n = 0;
  for (const entry of readdirSync("/proc")) {
    if (!(Number(entry) > 0)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/ns/net`) !== inode) continue;
      const owner = /styrolite-devhost-(\d+)/.exec(readFileSync(`/proc/${entry}/cgroup`, "utf8"))?.[1];
      if (owner === undefined || Number(owner) === devHostPid) n++;
    } catch {
      // gone or not ours to read
    }
  }
  return n;
}

function mountsUnder(dir: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .filter((l) => l.includes(dir));
}

function bridgeOf(stateDir: string): string {
  const m = /network: bridge (\S+)/.exec(readFileSync(join(stateDir, "devhost.log"), "utf8"));
  assert.ok(m, "the dev host logs its bridge");
  return m[1]!;
}

interface Leftovers {
  processes: number;
  cgroups: number;
  mounts: number;
  namespaces: number;
  links: number;
}

async function populate(stateDir: string) {
  const host = await startDevHost({ stateDir });
  const { client, close } = connectUnix(host.socketPath);
  const { digest } = await importTestImage(client, join(work, `image-${Date.now()}`));
  const { zoneId } = await client.createZone({
    spec: { name: "doomed", initialResources: { targetMemory: 128n } },
  });
  const zone = await waitForZone(client, zoneId, [ZoneState.READY]);
  const { workloadId } = await client.createWorkload({
    spec: { name: "sleeper", zoneId, image: { digest }, process: { command: ["sleep", "600"] } },
  });
  await waitForWorkload(client, workloadId, [WorkloadState.CREATED]);
  await client.startWorkload({ workloadId });
  await waitForWorkload(client, workloadId, [WorkloadState.RUNNING]);
  const record = JSON.parse(readFileSync(join(stateDir, "zones", `${zoneId}.json`), "utf8")) as {
    runtime: { initPid: number };
  };
  const netns = readlinkSync(`/proc/${record.runtime.initPid}/ns/net`);
  const procs = descendants(host.pid);
  assert.ok(procs.size >= 4, "zone init, its wrapper, the workload and its wrapper run below the dev host");
  const veth = zone.status!.networkStatus!.interfaces[0]!.hostInterface;
  const bridge = bridgeOf(stateDir);
  const survivors = (): string =>
    stillAlive(procs)
      .map((p) => {
        try {
          return `${p} ${state(p)} ${readFileSync(`/proc/${p}/stat`, "utf8").slice(0, 60)} ${readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0").join(" ").slice(0, 120)}`;
        } catch {
          return String(p);
        }
      })
      .join("; ");
  const leftovers = (): Leftovers => ({
    processes: stillAlive(procs).length,
    cgroups: cgroupDirsMatching(`styrolite-devhost-${host.pid}`).length,
    mounts: mountsUnder(stateDir).length,
    namespaces: netnsHolders(netns, host.pid),
    links: linksWithPrefix(veth).length + linksWithPrefix(bridge).length,
  });
  return { host, client, close, zoneId, workloadId, leftovers, survivors };
}

test("SIGTERM stops the dev host with nothing left behind, and a restart shows the zone FAILED", async () => {
  const stateDir = join(work, "clean");
  const first = await populate(stateDir);
  assert.ok(
    first.leftovers().cgroups > 0 && first.leftovers().namespaces > 0 && first.leftovers().links === 2,
    "the sandbox exists before the stop",
  );
  first.close();
  const t = Date.now();
  await first.host.stop(); // SIGTERM, and the harness checks the exit code is 0
  const remaining = first.leftovers();
  const survivors = first.survivors();
  process.stdout.write(
    `# after dev-host exit (${Date.now() - t} ms): ${JSON.stringify(remaining)} ${survivors}\n`,
  );
  assert.deepEqual(remaining, { processes: 0, cgroups: 0, mounts: 0, namespaces: 0, links: 0 });

  const second = await startDevHost({ stateDir });
  const { client, close } = connectUnix(second.socketPath);
  try {
    const zone = (await listAllZones(client)).find((z) => z.id === first.zoneId);
    assert.ok(zone, "the zone did not silently vanish");
    assert.equal(zone.status!.state, ZoneState.FAILED);
    assert.match(zone.status!.errorStatus!.message, /dev host restarted .*stopped cleanly/);
    const { workload } = await client.getWorkload({ workloadId: first.workloadId });
    assert.equal(workload!.status!.state, WorkloadState.FAILED);

    // Destroying the failed zone takes its workload with it.
    await client.destroyZone({ zoneId: first.zoneId });
    const deadline = Date.now() + 10_000;
    while ((await listAllZones(client)).length > 0) {
      assert.ok(Date.now() < deadline);
      await new Promise((r) => setTimeout(r, 20));
    }
    let workloads = 0;
    for await (const reply of client.listWorkloads({})) workloads += reply.workloads.length;
    assert.equal(workloads, 0);
  } finally {
    close();
    await second.stop();
  }
});

test("a killed dev host (SIGKILL) takes its zones' processes with it, and the next run clears the rest", async () => {
  const stateDir = join(work, "crash");
  const first = await populate(stateDir);
  first.close();
  process.kill(first.host.pid, "SIGKILL");
  await assert.rejects(first.host.stop(), /exited with code null \(signal SIGKILL\)/);
  // The zone's init exits when its stdin (a pipe from the dead dev host) closes; as pid 1 of the
  // zone that ends every zone process, so nothing is orphaned even without a shutdown.
  const deadline = Date.now() + 5000;
  while (first.leftovers().processes > 0 && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 50));
  const afterCrash = first.leftovers();
  assert.equal(afterCrash.processes, 0);
  assert.equal(afterCrash.namespaces, 0);

  const second = await startDevHost({ stateDir });
  const { client, close } = connectUnix(second.socketPath);
  try {
    const zone = (await listAllZones(client)).find((z) => z.id === first.zoneId);
    assert.equal(zone?.status?.state, ZoneState.FAILED);
    assert.match(zone?.status?.errorStatus?.message ?? "", /ended without shutting down/);
    const cleaned = first.leftovers();
    assert.equal(cleaned.cgroups, 0, "the crashed run's cgroups were removed at restart");
    await client.destroyZone({ zoneId: first.zoneId });
  } finally {
    close();
    await second.stop();
  }
  assert.deepEqual(first.leftovers(), { processes: 0, cgroups: 0, mounts: 0, namespaces: 0, links: 0 });
});
