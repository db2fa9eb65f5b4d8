import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { cpioArchive } from "./cpio";
import type { CpioEntry } from "./cpio";
import { agentScript, bootScript, consoleScript, etcFiles, inittab, stage1Init } from "./guestScripts";
import { readGuestModules } from "./kernel";
import type { GuestKernel } from "./kernel";

const busyboxCandidates = ["/usr/bin/busybox", "/bin/busybox", "/usr/sbin/busybox"];

/**
 * A statically linked busybox (Debian's busybox-static), or why there is none: stage 1 runs
 * before the host's /usr (and its libc) is mounted.
 */
export function findStaticBusybox(): string | { error: string } {
  const found = busyboxCandidates.filter((p) => existsSync(p));
  if (found.length === 0) return { error: "busybox not found (apt-get install busybox-static)" };
  const path = found.find((p) => isStaticElf(readFileSync(p)));
  return path ?? { error: `${found[0]} is dynamically linked (apt-get install busybox-static)` };
}

/** An ELF file without a PT_INTERP program header needs no dynamic loader. */
export function isStaticElf(bytes: Buffer): boolean {
  if (bytes.length < 64 || bytes.readUInt32BE(0) !== 0x7f454c46 || bytes[4] !== 2) return false;
  const phoff = Number(bytes.readBigUInt64LE(32));
  const phentsize = bytes.readUInt16LE(54);
  const phnum = bytes.readUInt16LE(56);
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (at + 4 > bytes.length) return false;
    if (bytes.readUInt32LE(at) === 3) return false;
  }
  return true;
}

/** The archive's entries: busybox, the scripts, /etc, the modules and their load order. */
export function initramfsEntries(busybox: Buffer, modules: { name: string; data: Buffer }[]): CpioEntry[] {
  const entries: CpioEntry[] = [
    { kind: "dir", path: "bb" },
    { kind: "file", path: "bb/busybox", data: busybox, mode: 0o755 },
    { kind: "symlink", path: "bb/init", target: "busybox" },
    { kind: "symlink", path: "bb/sh", target: "busybox" },
    { kind: "file", path: "init", data: Buffer.from(stage1Init), mode: 0o755 },
    { kind: "dir", path: "etc" },
    { kind: "file", path: "etc/inittab", data: Buffer.from(inittab) },
    ...Object.entries(etcFiles).map(([path, text]): CpioEntry => ({
      kind: "file",
      path,
      data: Buffer.from(text),
    })),
    { kind: "dir", path: "styrolite" },
    { kind: "file", path: "styrolite/boot.sh", data: Buffer.from(bootScript), mode: 0o755 },
    { kind: "file", path: "styrolite/agent.sh", data: Buffer.from(agentScript), mode: 0o755 },
    { kind: "file", path: "styrolite/console.sh", data: Buffer.from(consoleScript), mode: 0o755 },
    { kind: "dir", path: "styrolite/modules" },
    ...modules.map((m): CpioEntry => ({ kind: "file", path: `styrolite/modules/${m.name}`, data: m.data })),
    {
      kind: "file",
      path: "styrolite/modules.order",
      data: Buffer.from(modules.map((m) => `${m.name}\n`).join("")),
    },
  ];
  for (const dir of ["proc", "sys", "dev", "newroot", "usr", "run", "tmp"])
    entries.push({ kind: "dir", path: dir });
  return entries;
}

/**
 * The initramfs for `kernel`, built once and kept under `cacheDir` by kernel release and a hash
 * of everything in it (scripts, busybox, the kernel's module index). Older builds are removed.
 */
export function cachedInitramfs(cacheDir: string, kernel: GuestKernel, busybox: string): string {
  const bb = statSync(busybox);
  const dep = statSync(join(kernel.modulesDir, "modules.dep"));
  const key = createHash("sha256")
    .update(JSON.stringify([stage1Init, inittab, bootScript, agentScript, consoleScript, etcFiles]))
    .update(`${busybox} ${bb.size} ${bb.mtimeMs} ${kernel.modulesDir} ${dep.size} ${dep.mtimeMs}`)
    .digest("hex")
    .slice(0, 16);
  const name = `initramfs-${kernel.release}-${key}.img`;
  const path = join(cacheDir, name);
  if (existsSync(path)) return path;
  mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
  const archive = cpioArchive(initramfsEntries(readFileSync(busybox), readGuestModules(kernel)));
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, gzipSync(archive, { level: 6 }), { mode: 0o600 });
  renameSync(temp, path);
  for (const old of readdirSync(cacheDir))
    if (old.startsWith("initramfs-") && old !== name) rmSync(join(cacheDir, old), { force: true });
  return path;
}
