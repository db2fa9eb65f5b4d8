// How the dev host decides between KVM and TCG for VM zones: a probe boot under KVM with a
// deadline. Nested KVM can accept a VM and never run it, so a probe that hangs must end in TCG,
// with the probe killed. Stand-ins for QEMU (shell scripts) play the three ways a probe goes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chooseAccelerator } from "../../../../extension/devhost/vm/accel";
import { probeMarker } from "../../../../extension/devhost/vm/guestScripts";

function fakeQemu(dir: string, name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\necho $$ > "${path}.pid"\n${body}\n`, { mode: 0o755 });
  return path;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
  return !alive(pid);
}

test("KVM is chosen only when a probe boot reaches init; a hung or failing probe means TCG", async () => {
  const dir = mkdtempSync(join(tmpdir(), "accel-"));
  try {
    const kvmDevice = join(dir, "kvm");
    writeFileSync(kvmDevice, "", { mode: 0o600 });
    const boot = (qemu: string) => ({ qemu, kernel: "/boot/vmlinuz", initrd: join(dir, "initrd") });

    const works = fakeQemu(dir, "works", `echo ${probeMarker}\nexec sleep 600`);
    const ok = await chooseAccelerator("auto", boot(works), { kvmDevice, timeoutMs: 20_000 });
    assert.equal(ok.accelerator, "kvm");
    assert.match(ok.reason, /probe boot reached init/);
    assert.ok(await gone(Number(readFileSync(`${works}.pid`, "utf8"))), "the probe is stopped");

    const hangs = fakeQemu(dir, "hangs", "exec sleep 600");
    const hung = await chooseAccelerator("auto", boot(hangs), { kvmDevice, timeoutMs: 700 });
    assert.equal(hung.accelerator, "tcg");
    assert.match(hung.reason, /did not reach init within 1 s\): TCG emulation/);
    assert.ok(await gone(Number(readFileSync(`${hangs}.pid`, "utf8"))), "the hung probe is killed");

    const fails = fakeQemu(
      dir,
      "fails",
      'echo "qemu-system-x86_64: kvm_buf_set_msrs: Assertion failed" >&2\nexit 1',
    );
    const failed = await chooseAccelerator("auto", boot(fails), { kvmDevice, timeoutMs: 20_000 });
    assert.equal(failed.accelerator, "tcg");
    assert.match(failed.reason, /KVM does not work here \(kvm_buf_set_msrs: Assertion failed\)/);

    await assert.rejects(
      chooseAccelerator("kvm", boot(hangs), { kvmDevice, timeoutMs: 700 }),
      /KVM does not work here: a probe boot did not reach init/,
    );
    const tcg = await chooseAccelerator("tcg", boot(works), { kvmDevice });
    assert.deepEqual(tcg, { accelerator: "tcg", reason: "TCG as configured" });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("without a usable /dev/kvm no probe runs", async () => {
  const dir = mkdtempSync(join(tmpdir(), "accel-"));
  try {
    const never = fakeQemu(dir, "never", "exec sleep 600");
    const verdict = await chooseAccelerator(
      "auto",
      { qemu: never, kernel: "/k", initrd: "/i" },
      { kvmDevice: join(dir, "missing") },
    );
    assert.equal(verdict.accelerator, "tcg");
    assert.match(verdict.reason, /missing is not usable \(ENOENT\): TCG emulation/);
    assert.throws(() => readFileSync(`${never}.pid`), /ENOENT/, "QEMU was not started");
    await assert.rejects(
      chooseAccelerator(
        "kvm",
        { qemu: never, kernel: "/k", initrd: "/i" },
        { kvmDevice: join(dir, "missing") },
      ),
      /not usable/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
