// CgroupNode reads and writes plain files; a temporary directory with the kernel's file names
// stands in for /sys/fs/cgroup, so the v2 path (which this CI machine lacks) is checked too.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CgroupNode } from "../../../../extension/devhost/sandbox/cgroups";

function fakeTree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "devhost-cg-"));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

test("v2: limits go to cpu.max / memory.max / memory.swap.max; readings come from memory.current, cpu.stat, memory.events", () => {
  const dir = fakeTree({
    "cpu.max": "max 100000\n",
    "memory.max": "max\n",
    "memory.swap.max": "max\n",
    "memory.current": "52428800\n",
    "memory.stat": "anon 40000000\ninactive_file 2428800\n",
    "memory.events": "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n",
    "cpu.stat": "usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\n",
    "cgroup.procs": "10\n11\n",
    "child/cgroup.procs": "12\n",
  });
  try {
    const node = new CgroupNode("v2", [{ controllers: ["memory", "cpu", "pids"], dir }]);
    node.setLimits({ cpus: 2, memoryBytes: 512 * 1024 * 1024 });
    assert.equal(readFileSync(join(dir, "cpu.max"), "utf8"), "200000 100000");
    assert.equal(readFileSync(join(dir, "memory.max"), "utf8"), String(512 * 1024 * 1024));
    assert.equal(readFileSync(join(dir, "memory.swap.max"), "utf8"), "0", "no swapping around the limit");
    assert.deepEqual(node.memory(), { used: 52428800, limit: 512 * 1024 * 1024 });
    assert.equal(node.inactiveFileBytes(), 2428800);
    assert.equal(node.cpuUsageNs(), 1_500_000_000n);
    assert.equal(node.perCpuUsageNs(), undefined);
    assert.equal(node.oomKills(), 1);
    assert.deepEqual(node.pids().sort(), [10, 11, 12]);
    node.setLimits({});
    assert.equal(readFileSync(join(dir, "memory.max"), "utf8"), "max");
    assert.equal(readFileSync(join(dir, "cpu.max"), "utf8"), "max 100000");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("v1: cfs quota, limit_in_bytes (memsw kept above it), cpuacct and oom_control", () => {
  const mem = fakeTree({
    "memory.limit_in_bytes": "9223372036854771712\n",
    "memory.memsw.limit_in_bytes": "9223372036854771712\n",
    "memory.usage_in_bytes": "1048576\n",
    "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
    "cgroup.procs": "",
  });
  const cpu = fakeTree({ "cpu.cfs_period_us": "100000", "cpu.cfs_quota_us": "-1" });
  const acct = fakeTree({ "cpuacct.usage": "123456789\n", "cpuacct.usage_percpu": "100 200 \n" });
  try {
    const node = new CgroupNode("v1", [
      { controllers: ["memory"], dir: mem },
      { controllers: ["cpu"], dir: cpu },
      { controllers: ["cpuacct"], dir: acct },
    ]);
    assert.deepEqual(node.memory(), { used: 1048576, limit: undefined }, "v1's 'unlimited' is a huge number");
    node.setLimits({ cpus: 1.5, memoryBytes: 256 * 1024 * 1024 });
    assert.equal(readFileSync(join(cpu, "cpu.cfs_quota_us"), "utf8"), "150000");
    assert.equal(readFileSync(join(mem, "memory.limit_in_bytes"), "utf8"), String(256 * 1024 * 1024));
    assert.equal(readFileSync(join(mem, "memory.memsw.limit_in_bytes"), "utf8"), String(256 * 1024 * 1024));
    assert.equal(node.cpuUsageNs(), 123456789n);
    assert.deepEqual(node.perCpuUsageNs(), [100n, 200n]);
    assert.equal(node.oomKills(), 2);
    assert.deepEqual(
      node.procsFiles(),
      [mem, cpu, acct].map((d) => join(d, "cgroup.procs")),
      "a process joins every hierarchy",
    );
  } finally {
    for (const d of [mem, cpu, acct]) rmSync(d, { recursive: true, force: true });
  }
});
