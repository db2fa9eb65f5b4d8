import { test } from "node:test";
import assert from "node:assert/strict";
import { parseCgroupMounts, parseProcCgroup } from "../../../../extension/devhost/sandbox/cgroups";

// Lines as /proc/self/mountinfo prints them on a Debian v1 hybrid (CI) and a pure v2 machine.
const hybrid = [
  "30 25 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755",
  "31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate",
  "34 30 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,cpu,cpuacct",
  "35 30 0:31 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,memory",
  "36 30 0:32 /docker/abc /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,pids",
].join("\n");

test("finds v1 hierarchies with their controllers and mount roots, and the v2 mount", () => {
  const mounts = parseCgroupMounts(hybrid);
  assert.deepEqual(
    mounts.map((m) => [m.fstype, m.mountPoint, m.root, m.options.filter((o) => o !== "rw").join(",")]),
    [
      ["cgroup2", "/sys/fs/cgroup/unified", "/", "nsdelegate"],
      ["cgroup", "/sys/fs/cgroup/cpu,cpuacct", "/", "cpu,cpuacct"],
      ["cgroup", "/sys/fs/cgroup/memory", "/", "memory"],
      ["cgroup", "/sys/fs/cgroup/pids", "/docker/abc", "pids"],
    ],
  );
});

test("reads the process's own cgroup per hierarchy, keyed by controller set and by each controller", () => {
  const own = parseProcCgroup(
    "12:pids:/docker/abc/x\n5:cpuacct,cpu:/user.slice\n4:memory:/process_api/42\n0::/user.slice/session-1.scope\n",
  );
  assert.equal(own.v1.get("cpu,cpuacct"), "/user.slice");
  assert.equal(own.v1.get("cpu"), "/user.slice");
  assert.equal(own.v1.get("memory"), "/process_api/42");
  assert.equal(own.v1.get("pids"), "/docker/abc/x");
  assert.equal(own.v2, "/user.slice/session-1.scope");
  const pureV2 = parseProcCgroup("0::/system.slice/devhost.service\n");
  assert.equal(pureV2.v1.size, 0);
  assert.equal(pureV2.v2, "/system.slice/devhost.service");
});

test("escaped mount points are decoded", () => {
  const [m] = parseCgroupMounts("40 30 0:40 / /sys/fs/cgroup/with\\040space rw - cgroup cgroup rw,memory");
  assert.equal(m?.mountPoint, "/sys/fs/cgroup/with space");
});
