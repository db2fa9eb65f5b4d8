import { existsSync } from "node:fs";
import { isIPv4 } from "node:net";
import { DevHostError } from "../errors";

/** How the VM's CPUs run: the host's KVM, or QEMU's TCG emulation (no virtualization needed). */
export type Accelerator = "kvm" | "tcg";

/** A host folder shared into the guest with 9p under `tag`. */
export interface QemuShare {
  tag: string;
  path: string;
  readOnly: boolean;
  /**
   * Guest file ownership and modes are real on the host (QEMU runs as root): for folders the
   * guest writes, such as workload roots. Otherwise files show as they are on the host.
   */
  passthrough: boolean;
}

export interface QemuConfig {
  name: string;
  accelerator: Accelerator;
  cpus: number;
  maxCpus: number;
  memoryMiB: number;
  kernel: string;
  initrd: string;
  cmdline: string;
  /** QMP monitor socket (QEMU listens). */
  qmpSocket?: string | undefined;
  /** The agent's virtio-serial port, as a unix socket QEMU listens on. */
  agentSocket?: string | undefined;
  shares: QemuShare[];
  /** A tap device QEMU creates and `ifup` attaches to the dev host bridge. */
  net?: { tap: string; mac: string; ifup: string } | undefined;
  balloon: boolean;
}

/** The emulator for x86-64 guests (Debian's qemu-system-x86). */
export function findQemu(): string | { error: string } {
  if (process.arch !== "x64") return { error: `VM zones need an x86-64 host (this is ${process.arch})` };
  const path = ["/usr/bin/qemu-system-x86_64", "/usr/local/bin/qemu-system-x86_64"].find((p) =>
    existsSync(p),
  );
  return path ?? { error: "qemu-system-x86_64 not found (apt-get install qemu-system-x86)" };
}

/**
 * TCG's translation cache: QEMU's default is 1 GiB of host memory per VM (touched as code is
 * translated); a devcontainer's working set fits in far less.
 */
const tcgCacheMiB = 128;

/** QEMU's option syntax doubles commas inside values. */
function opt(value: string): string {
  return value.replace(/,/g, ",,");
}

/**
 * The QEMU command line of a VM zone: a q35 machine without display or default devices, the
 * serial console on stdio, the monitor and the agent port on unix sockets, 9p shares, a tap
 * NIC, a balloon and a random number source.
 */
export function qemuArgv(binary: string, c: QemuConfig): string[] {
  const argv = [
    binary,
    "-name",
    `${opt(c.name)},debug-threads=on`,
    "-machine",
    "q35",
    "-accel",
    c.accelerator === "kvm" ? "kvm" : `tcg,thread=multi,tb-size=${tcgCacheMiB}`,
    "-cpu",
    c.accelerator === "kvm" ? "host" : "max",
    "-smp",
    `cpus=${c.cpus},maxcpus=${Math.max(c.cpus, c.maxCpus)}`,
    "-m",
    `${c.memoryMiB}M`,
    "-nodefaults",
    "-no-user-config",
    "-display",
    "none",
    "-no-reboot",
    "-chardev",
    "stdio,id=console,signal=off",
    "-serial",
    "chardev:console",
    "-kernel",
    c.kernel,
    "-initrd",
    c.initrd,
    "-append",
    c.cmdline,
  ];
  if (c.qmpSocket) argv.push("-qmp", `unix:${opt(c.qmpSocket)},server=on,wait=off`);
  if (c.agentSocket)
    argv.push(
      "-device",
      "virtio-serial-pci,id=vser0",
      "-chardev",
      `socket,id=agent,path=${opt(c.agentSocket)},server=on,wait=off`,
      "-device",
      "virtserialport,bus=vser0.0,chardev=agent,name=styrolite.agent",
    );
  for (const s of c.shares) {
    if (!/^[a-z][a-z0-9]{0,30}$/.test(s.tag)) throw new DevHostError("internal", `bad 9p tag ${s.tag}`);
    argv.push(
      "-fsdev",
      `local,id=fs-${s.tag},path=${opt(s.path)},security_model=${s.passthrough ? "passthrough" : "none"}${s.readOnly ? ",readonly=on" : ""},multidevs=remap`,
      "-device",
      `virtio-9p-pci,fsdev=fs-${s.tag},mount_tag=${s.tag}`,
    );
  }
  if (c.net)
    argv.push(
      "-netdev",
      `tap,id=net0,ifname=${c.net.tap},script=${opt(c.net.ifup)},downscript=no`,
      "-device",
      `virtio-net-pci,netdev=net0,mac=${c.net.mac}`,
    );
  if (c.balloon) argv.push("-device", "virtio-balloon-pci,id=balloon0");
  argv.push("-device", "virtio-rng-pci");
  return argv;
}

/** What the guest's scripts read from the kernel command line. */
export interface GuestParameters {
  hostname: string;
  /** "198.18.4.7/24" and its gateway; absent: no network but loopback. */
  ip?: { cidr: string; gateway: string } | undefined;
  /** The Node binary as the guest sees it. */
  node: string;
  /** Whether Node comes from its own share (it is not under the host's /usr). */
  nodeShare: boolean;
  probe?: boolean;
}

/**
 * The kernel command line: the serial console (the zone console shows the whole boot), no
 * reboot on panic (QEMU exits instead), and the `styrolite.*` words for the guest's scripts.
 * Every value is checked here: the line is split on spaces by the kernel and read by a shell.
 */
export function guestCmdline(p: GuestParameters): string {
  const words = ["console=ttyS0", "panic=-1", "random.trust_cpu=on", "8250.nr_uarts=1"];
  if (p.probe) return [...words, "quiet", "styrolite.probe=1"].join(" ");
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(p.hostname))
    throw new DevHostError("invalidArgument", `invalid guest hostname ${JSON.stringify(p.hostname)}`);
  words.push(`styrolite.hostname=${p.hostname}`);
  if (p.ip) {
    const [addr, bits] = p.ip.cidr.split("/");
    if (!addr || !isIPv4(addr) || !/^\d{1,2}$/.test(bits ?? "") || !isIPv4(p.ip.gateway))
      throw new DevHostError("internal", `invalid guest address ${p.ip.cidr} via ${p.ip.gateway}`);
    words.push(`styrolite.ip=${p.ip.cidr}`, `styrolite.gw=${p.ip.gateway}`);
  }
  if (!/^\/[A-Za-z0-9._/+-]+$/.test(p.node))
    throw new DevHostError(
      "failedPrecondition",
      `Node's path ${JSON.stringify(p.node)} cannot go on a kernel command line`,
    );
  words.push(`styrolite.node=${p.node}`);
  if (p.nodeShare) words.push("styrolite.nodeshare=1");
  return words.join(" ");
}
