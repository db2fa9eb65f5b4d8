// The VM tier: the dev host with `--sandbox vm`, so each zone is a QEMU virtual machine with its
// own kernel, driven end to end as a user would — `zonectl up` through a real OpenSSH sshd, the
// busybox image from a loopback registry — and checked from the outside (the guest's kernel,
// memory and boot log; an OOM kill inside the guest; a terminal resize; forwards) down to what
// `down` must leave behind: no QEMU process, no tap device, no file.
//
// QEMU runs under TCG emulation wherever KVM does not work (the dev host probes it): boots take
// tens of seconds on a busy machine, so waits are long but bounded, and nothing here asserts a
// duration (those figures belong to `npm run bench`).
import assert from "node:assert/strict";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { annotationKeys as planKeys } from "../../extension/core/devcontainer/plan";
import { ProtectHost } from "../../extension/core/protect/host";
import { WorkloadState, ZoneState } from "../../extension/proto/gen/protect/control/v1/common_pb";
import type { Zone } from "../../extension/proto/gen/protect/control/v1/common_pb";
import { annotationKeys } from "../../extension/devhost/zones";
import { startDevHost } from "../harness/devHost";
import type { StartedDevHost } from "../harness/devHost";
import { pushTestImage, startRegistry } from "../harness/registry";
import type { TestRegistry } from "../harness/registry";
import { startSshd } from "../harness/sshd";
import type { Sshd } from "../harness/sshd";
import { buildTestImage } from "../harness/testImage";
import { CliRun, PtyRun, repoRoot, zonectl } from "../integration/launch/cli";
import { connectUnix } from "../integration/devhost/client";
import { linksWithPrefix, runExec } from "../integration/devhost/helpers";

const minute = 60_000;
let work: string;
let registry: TestRegistry;
let devHost: StartedDevHost;
let sshd: Sshd;
let api: ProtectHost;
let env: Record<string, string>;
let project: string;
let zone: Zone;
let zoneName = "";
let workloadId = "";

before(async () => {
  work = mkdtempSync(join(tmpdir(), "vm-tier-"));
  const image = await buildTestImage(join(work, "image"));
  registry = await startRegistry();
  await pushTestImage(registry, image);
  devHost = await startDevHost({ stateDir: join(work, "state"), args: ["--sandbox", "vm"] });
  sshd = await startSshd();
  api = await ProtectHost.open(`unix://${devHost.socketPath}`);
  env = {
    ZONECTL_HOST: sshd.alias,
    ZONECTL_SSH_CONFIG: sshd.sshConfigPath,
    ZONECTL_SOCKET: devHost.socketPath,
    ZONECTL_WORKSPACE_ROOT: join(work, "host-workspaces"),
    LAUNCH_TEST_IMAGE: `${registry.host}/test/busybox:1`,
  };
  project = join(work, "project");
  cpSync(join(repoRoot, "test/fixtures/vm/project"), project, { recursive: true });
});

after(async () => {
  try {
    for (const z of (await api?.listZones().catch(() => [] as Zone[])) ?? [])
      await api.destroyZone(z.id).catch(() => undefined);
  } finally {
    api?.close();
    await sshd?.stop();
    await devHost?.stop();
    await registry?.stop();
    rmSync(work, { recursive: true, force: true });
  }
});

function annotation(z: Zone, key: string): string {
  return z.spec?.annotations.find((a) => a.key === key)?.value ?? "";
}

/** `zonectl exec ZONE -- argv` (the devcontainer's workload), which must succeed. */
async function inWorkload(argv: string[]): Promise<string> {
  const r = await zonectl(["exec", zoneName, "--", ...argv], env, { timeoutMs: 3 * minute });
  assert.equal(r.code, 0, `${argv.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** QEMU processes of a zone (named zone-<its id's first 12 hex digits>). */
function qemuOf(zoneId: string): number[] {
  const name = `zone-${zoneId.replace(/-/g, "").slice(0, 12)}`;
  return readdirSync("/proc")
    .map(Number)
    .filter((pid) => {
      try {
        const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
        return argv[0]?.endsWith("qemu-system-x86_64") && argv.some((a) => a.startsWith(`${name},`));
      } catch {
        return false; // not a process, or gone
      }
    });
}

describe("a devcontainer in a VM zone, over SSH", { timeout: 15 * minute }, () => {
  test("zonectl up boots a VM zone and runs the workload in it", async () => {
    const run = new CliRun(["--json", "up", project], env, { timeoutMs: 10 * minute });
    const done = await run.done;
    assert.equal(done.code, 0, done.stderr);
    const up = JSON.parse(done.stdout.slice(done.stdout.indexOf("{"))) as {
      zoneId: string;
      zoneName: string;
      workloadId: string;
    };
    zoneName = up.zoneName;
    workloadId = up.workloadId;
    zone = await api.getZone(up.zoneId);
    assert.equal(zone.status?.state, ZoneState.READY);
    assert.match(annotation(zone, annotationKeys.isolation), /^vm-(tcg|kvm)$/);
    assert.ok(annotation(zone, planKeys.devcontainerId), "the plan's annotations are kept");
    assert.equal(
      zone.spec?.annotations.filter((a) => a.key === annotationKeys.isolation).length,
      1,
      "each dev host annotation once, however many state changes the zone went through",
    );
    assert.equal(await inWorkload(["cat", "/workspaces/project/hello.txt"]), "hello from the workspace\n");
    assert.equal(await inWorkload(["cat", "/tmp/hooks.log"]), "onCreateCommand\n");
  });

  test("the workload runs on the guest's own kernel, with the zone's memory", async () => {
    const guestRelease = (await inWorkload(["uname", "-r"])).trim();
    assert.match(
      annotation(zone, annotationKeys.kernel),
      new RegExp(`Linux ${guestRelease.replace(/\./g, "\\.")}`),
    );
    // The guest boots the dev host's kernel package; the host may run that very kernel too.
    // Then its own boot shows: another boot id than this machine's.
    const guestBoot = (await inWorkload(["cat", "/proc/sys/kernel/random/boot_id"])).trim();
    const hostBoot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    assert.notEqual(guestBoot, hostBoot, "a kernel of its own: another boot");
    const boot = await zonectl(["logs", zoneName], env, { timeoutMs: minute });
    assert.match(boot.stdout, new RegExp(`Linux version ${guestRelease.replace(/\./g, "\\.")} `));
    const memTotalKb = Number(/MemTotal:\s+(\d+) kB/.exec(await inWorkload(["cat", "/proc/meminfo"]))?.[1]);
    const hostKb = Number(/MemTotal:\s+(\d+) kB/.exec(readFileSync("/proc/meminfo", "utf8"))?.[1]);
    // A 512 MiB VM: the kernel keeps some for itself, so MemTotal is somewhat below 512 MiB.
    assert.ok(memTotalKb <= 512 * 1024 && memTotalKb > 400 * 1024, `MemTotal ${memTotalKb} kB`);
    assert.notEqual(memTotalKb, hostKb);
  });

  test("the zone console replays the VM's boot: the kernel's banner, then its init", async () => {
    const logs = await zonectl(["logs", zoneName], env, { timeoutMs: minute });
    assert.equal(logs.code, 0, logs.stderr);
    assert.match(logs.stdout, /Linux version \d+\.\d+/);
    assert.match(logs.stdout, /Command line: console=ttyS0/);
    assert.match(logs.stdout, /styrolite: system up: Linux/);
    assert.ok(logs.stdout.indexOf("Linux version") < logs.stdout.indexOf("styrolite: system up"));
  });

  test("a shell through a PTY sees its size and follows a resize; its exit code comes back", async () => {
    const t = new PtyRun(["shell", zoneName], env, { cols: 100, rows: 30 });
    try {
      let at = await t.waitFor(/\/workspaces\/project # /, 0, 3 * minute);
      t.term.write("stty size\r");
      at = await t.waitFor(/30 100\r+\n/, at, minute);
      t.term.resize(120, 40);
      await new Promise((r) => setTimeout(r, 1000));
      t.term.write("stty size\r");
      await t.waitFor(/40 120\r+\n/, at, minute);
      t.term.write("exit 5\r");
      assert.equal((await t.exited).exitCode, 5);
    } finally {
      t.kill();
    }
  });

  test("a 64 MiB workload limit OOMs inside the guest; the VM and the host carry on", async () => {
    const [qemu] = qemuOf(zone.id);
    assert.ok(qemu, "the zone's QEMU runs");
    const digest = (await api.getWorkload(workloadId)).spec?.image?.digest ?? "";
    const hog = await api.createWorkload({
      name: "hog",
      zoneId: zone.id,
      image: { digest },
      process: { command: ["dd", "if=/dev/zero", "of=/dev/null", "bs=100M", "count=1"] },
      cgroupLimits: [{ limitName: "memory.max", value: "64M" }],
    });
    const deadline = Date.now() + 5 * minute;
    let w = await api.getWorkload(hog);
    while (w.status?.state !== WorkloadState.CREATED && Date.now() < deadline) w = await api.getWorkload(hog);
    await api.startWorkload(hog);
    for (;;) {
      w = await api.getWorkload(hog);
      const state = w.status?.state;
      if (state === WorkloadState.FAILED || state === WorkloadState.COMPLETED) break;
      assert.ok(Date.now() < deadline, `the hog is still ${WorkloadState[state ?? 0]}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.equal(w.status?.state, WorkloadState.FAILED);
    assert.equal(w.status?.exitStatus?.code, 137);
    assert.match(
      w.status?.errorStatus?.message ?? "",
      /out of memory: the workload's memory limit \(64 MiB\)/,
    );
    assert.match(w.status?.errorStatus?.message ?? "", /the VM's own kernel/);
    // The kill happened in the guest: its kernel log says so (read from the zone's own system,
    // not the workload); the VM, its QEMU and the devcontainer's workload are as they were.
    const raw = connectUnix(devHost.socketPath);
    const dmesg = await runExec(raw.client, zone.id, { command: ["dmesg"] }).finally(() => raw.close());
    assert.match(dmesg.stdout, /Memory cgroup out of memory: Killed process \d+ \(dd\)/);
    assert.equal((await api.getZone(zone.id)).status?.state, ZoneState.READY);
    assert.deepEqual(qemuOf(zone.id), [qemu]);
    assert.equal((await api.getWorkload(workloadId)).status?.state, WorkloadState.RUNNING);
    // The host gave the VM its memory and no more: QEMU holds at most the guest's RAM and its own.
    const rssKb = Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${qemu}/status`, "utf8"))?.[1]);
    assert.ok(rssKb < (512 + 384) * 1024, `QEMU's resident memory ${rssKb} kB`);
    await api.destroyWorkload(hog);
  });

  test("metrics come from the guest; memory shrinks by the balloon, vCPUs come online up to max", async () => {
    const root = await api.readZoneMetrics(zone.id);
    const system = root?.children.find((c) => c.name === "system");
    const total = system?.children.find((c) => c.name === "memory")?.children.find((c) => c.name === "total")
      ?.value?.kind.value as number | undefined;
    assert.ok(total && total <= 512 * 1024 * 1024 && total > 400 * 1024 * 1024, `memory total ${total}`);
    const resized = await zonectl(["resize", zoneName, "--cpus", "2", "--memory", "384m"], env, {
      timeoutMs: 3 * minute,
    });
    assert.equal(resized.code, 0, resized.stderr);
    assert.equal((await inWorkload(["nproc"])).trim(), "2");
    const memTotalKb = Number(/MemTotal:\s+(\d+) kB/.exec(await inWorkload(["cat", "/proc/meminfo"]))?.[1]);
    assert.ok(memTotalKb <= 384 * 1024, `MemTotal ${memTotalKb} kB after the balloon`);
    const beyond = await zonectl(["resize", zoneName, "--memory", "2g"], env, { timeoutMs: minute });
    assert.notEqual(beyond.code, 0);
    assert.match(beyond.stderr, /only up to the 512 MiB it booted with/);
  });

  test("a forward reaches the HTTP server in the VM, by DialNetworkSocket and over SSH to its IP", async () => {
    for (const via of ["dial", "ssh"]) {
      const run = new CliRun(["forward", zoneName, "8080:0", "--via", via], env);
      try {
        const m = await run.waitFor(/forwarding 127\.0\.0\.1:(\d+) → /, 2 * minute);
        const res = await fetch(`http://127.0.0.1:${m[1]}/index.html`);
        assert.equal(await res.text(), "<h1>served from a VM</h1>\n", via);
        run.child.kill("SIGINT");
        assert.equal((await run.done).code, 0);
      } finally {
        run.child.kill("SIGKILL");
      }
    }
  });

  test("down leaves no QEMU process, tap device or file", async () => {
    const tap = zone.status?.networkStatus?.interfaces[0]?.hostInterface ?? "";
    assert.match(tap, /^szt/);
    assert.deepEqual(linksWithPrefix(tap), [tap], "the tap is on the host while the VM runs");
    const r = await zonectl(["down", project], env, { timeoutMs: 3 * minute });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await api.listZones(), []);
    assert.deepEqual(qemuOf(zone.id), []);
    assert.deepEqual(linksWithPrefix(tap), []);
    const vmDir = join(devHost.stateDir, "run", "vm");
    assert.deepEqual(existsSync(vmDir) ? readdirSync(vmDir) : [], [], "no VM folder left");
    assert.deepEqual(readdirSync(join(devHost.stateDir, "run", "workloads")), [], "no workload folder left");
  });
});
