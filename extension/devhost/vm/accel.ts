import { spawn } from "node:child_process";
import { constants, accessSync } from "node:fs";
import { messageOf } from "../../core/errors";
import { toolEnv } from "../sandbox/exec";
import { probeMarker } from "./guestScripts";
import { guestCmdline, qemuArgv } from "./qemu";
import type { Accelerator } from "./qemu";

/** "auto": KVM when a probe boot proves it works, else TCG. */
export type AcceleratorChoice = "auto" | Accelerator;

export interface AcceleratorVerdict {
  accelerator: Accelerator;
  /** Why, for the log and the zones' descriptions. */
  reason: string;
}

/**
 * Default bound of the KVM probe. A working KVM reaches the probe's init in a second or two;
 * nested KVM on some hosts accepts the VM and then never runs it, which only a deadline catches.
 */
export const kvmProbeTimeoutMs = 20_000;

/**
 * Decides how VM zones run. /dev/kvm existing is not enough (nested virtualization can hang
 * after "Booting from ROM", or QEMU can abort setting up the virtual CPU): with "auto" the same
 * kernel and initramfs are booted once under KVM to a marker line, within a deadline, and
 * anything else means TCG.
 */
export async function chooseAccelerator(
  choice: AcceleratorChoice,
  boot: { qemu: string; kernel: string; initrd: string },
  options: { timeoutMs?: number; kvmDevice?: string } = {},
): Promise<AcceleratorVerdict> {
  const timeoutMs = options.timeoutMs ?? kvmProbeTimeoutMs;
  const device = options.kvmDevice ?? "/dev/kvm";
  if (choice === "tcg") return { accelerator: "tcg", reason: "TCG as configured" };
  try {
    accessSync(device, constants.R_OK | constants.W_OK);
  } catch (err) {
    const why = `${device} is not usable (${(err as NodeJS.ErrnoException).code ?? messageOf(err)})`;
    if (choice === "kvm") throw new Error(why, { cause: err });
    return { accelerator: "tcg", reason: `${why}: TCG emulation` };
  }
  const probe = await probeKvm(boot, timeoutMs);
  if (probe.ok) return { accelerator: "kvm", reason: `KVM (a probe boot reached init in ${probe.ms} ms)` };
  if (choice === "kvm") throw new Error(`KVM does not work here: ${probe.why}`);
  return { accelerator: "tcg", reason: `KVM does not work here (${probe.why}): TCG emulation` };
}

async function probeKvm(
  boot: { qemu: string; kernel: string; initrd: string },
  timeoutMs: number,
): Promise<{ ok: true; ms: number } | { ok: false; why: string }> {
  const argv = qemuArgv(boot.qemu, {
    name: "styrolite-kvm-probe",
    accelerator: "kvm",
    cpus: 1,
    maxCpus: 1,
    memoryMiB: 128,
    kernel: boot.kernel,
    initrd: boot.initrd,
    cmdline: guestCmdline({ hostname: "probe", node: "/usr/bin/node", nodeShare: false, probe: true }),
    shares: [],
    balloon: false,
  });
  const started = Date.now();
  // Killed with the dev host too: a probe stuck in KVM must not outlive it.
  const child = spawn("/usr/bin/setpriv", ["--pdeathsig", "SIGKILL", "--", ...argv], {
    stdio: ["ignore", "pipe", "pipe"],
    env: toolEnv(),
  });
  let output = "";
  let errors = "";
  return await new Promise((resolve) => {
    let settled = false;
    const settle = (result: { ok: true; ms: number } | { ok: false; why: string }): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      resolve(result);
    };
    const timer = setTimeout(
      () =>
        settle({
          ok: false,
          why: `a probe boot did not reach init within ${Math.round(timeoutMs / 1000)} s`,
        }),
      timeoutMs,
    );
    child.stdout.on("data", (d: Buffer) => {
      output = (output + d.toString("utf8")).slice(-4096);
      if (output.includes(probeMarker)) settle({ ok: true, ms: Date.now() - started });
    });
    child.stderr.on("data", (d: Buffer) => (errors = (errors + d.toString("utf8")).slice(-4096)));
    child.on("error", (err) => settle({ ok: false, why: err.message }));
    child.on("exit", (code, signal) => {
      const last = errors
        .trim()
        .split("\n")
        .pop()
        ?.replace(/^qemu-system-x86_64: /, "");
      settle({ ok: false, why: last || `QEMU exited (${signal ?? `code ${code}`}) before init` });
    });
  });
}
