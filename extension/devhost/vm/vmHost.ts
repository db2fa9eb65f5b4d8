import { existsSync, mkdirSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { Logger } from "../../core/log";
import { messageOf } from "../../core/errors";
import { DevHostError } from "../errors";
import type { BridgeNetwork } from "../sandbox/network";
import { chooseAccelerator } from "./accel";
import type { AcceleratorChoice, AcceleratorVerdict } from "./accel";
import { prepareAgentDir } from "./agentBundle";
import { cachedInitramfs, findStaticBusybox } from "./initramfs";
import { findGuestKernel } from "./kernel";
import type { GuestKernel } from "./kernel";
import { findQemu } from "./qemu";
import { loadSeccompProfile } from "../oci/seccompProfile";
import type { SeccompProfile } from "../oci/seccompProfile";

/** Where the guest finds Node: the host's own binary, through /usr or a share of its folder. */
export interface GuestNode {
  /** The path inside the guest. */
  path: string;
  /** The host folder shared as "node" when Node is not under /usr. */
  share: string | undefined;
}

/**
 * What every VM zone of a dev host shares: QEMU, the guest kernel and its initramfs (built once
 * per kernel and kept under the state folder), the guest agent's folder, how the guest finds
 * Node, the accelerator verdict, and the dev host bridge.
 */
export class VmHost {
  #verdict: Promise<AcceleratorVerdict>;
  #decided: AcceleratorVerdict | undefined;

  private constructor(
    readonly qemu: string,
    readonly kernel: GuestKernel,
    readonly initrd: string,
    readonly agentDir: string,
    readonly node: GuestNode,
    /** Per-zone folders (sockets, the zone share); a VM never outlives its dev host. */
    readonly zonesDir: string,
    readonly network: BridgeNetwork | undefined,
    /** The container seccomp profile (the guest reads the same file through /usr). */
    readonly seccomp: SeccompProfile | undefined,
    readonly log: Logger,
    choice: AcceleratorChoice,
  ) {
    this.#verdict = chooseAccelerator(choice, { qemu, kernel: kernel.image, initrd });
    // Decided in the background while the dev host starts; the first zone waits for it.
    void this.#verdict.then(
      (v) => {
        this.#decided = v;
        log.info(`vm: zones run under ${v.accelerator.toUpperCase()}: ${v.reason}`);
      },
      (err: unknown) => log.warn(`vm: ${messageOf(err)}`),
    );
  }

  /** Finds QEMU, the kernel and busybox, builds (or reuses) the initramfs, prepares the agent. */
  static async prepare(options: {
    stateDir: string;
    runDir: string;
    network: BridgeNetwork | undefined;
    accelerator: AcceleratorChoice;
    log: Logger;
  }): Promise<VmHost> {
    if (process.getuid?.() !== 0)
      throw new DevHostError("failedPrecondition", "VM zones need root (tap devices on the dev host bridge)");
    const qemu = findQemu();
    if (typeof qemu !== "string") throw new DevHostError("failedPrecondition", qemu.error);
    const kernel = findGuestKernel();
    if (typeof kernel === "string") throw new DevHostError("failedPrecondition", kernel);
    const busybox = findStaticBusybox();
    if (typeof busybox !== "string") throw new DevHostError("failedPrecondition", busybox.error);
    if (!existsSync("/usr/sbin/runc") && !existsSync("/usr/bin/runc"))
      options.log.warn("vm: runc is not under /usr: workloads cannot run inside VM zones");
    const started = Date.now();
    const initrd = cachedInitramfs(join(options.stateDir, "vm", "cache"), kernel, busybox);
    const agentDir = join(options.stateDir, "vm", "agent");
    await prepareAgentDir(agentDir);
    const zonesDir = join(options.runDir, "vm");
    rmSync(zonesDir, { recursive: true, force: true });
    mkdirSync(zonesDir, { recursive: true, mode: 0o700 });
    options.log.info(
      `vm: guest kernel ${kernel.release} (${kernel.image}), initramfs ${basename(initrd)}, agent ready in ${Date.now() - started} ms`,
    );
    return new VmHost(
      qemu,
      kernel,
      initrd,
      agentDir,
      guestNode(process.execPath),
      zonesDir,
      options.network,
      loadSeccompProfile(),
      options.log,
      options.accelerator,
    );
  }

  /** KVM or TCG, once the probe has decided. */
  verdict(): Promise<AcceleratorVerdict> {
    return this.#verdict;
  }

  /** The verdict if the probe is done. */
  get decided(): AcceleratorVerdict | undefined {
    return this.#decided;
  }
}

/** How the guest runs the Node binary the dev host itself runs on. */
export function guestNode(execPath: string): GuestNode {
  if (execPath.startsWith("/usr/")) return { path: execPath, share: undefined };
  const prefix = dirname(dirname(execPath));
  if (basename(dirname(execPath)) !== "bin" || prefix === "/")
    throw new DevHostError(
      "failedPrecondition",
      `cannot share Node (${execPath}) into VM zones: it is not in a bin/ folder`,
    );
  return { path: `/styrolite/node/bin/${basename(execPath)}`, share: prefix };
}
