import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { release } from "node:os";
import { basename, join } from "node:path";
import { gunzipSync } from "node:zlib";

/** A kernel the dev host can boot a VM zone with: its image and its modules. */
export interface GuestKernel {
  release: string;
  /** The bzImage (vmlinuz) QEMU loads. */
  image: string;
  /** /lib/modules/<release>. */
  modulesDir: string;
}

/**
 * The modules a VM zone needs beyond what the distribution kernel builds in: PCI virtio, the
 * serial port that carries the agent link, the network card, the balloon, a random number
 * source (so the guest need not wait for entropy), and 9p over virtio
 * for the shared folders. Their dependencies (virtio_ring, netfs, fscache, failover, …) follow
 * from modules.dep.
 */
export const guestModules = [
  "virtio_pci",
  "virtio_console",
  "virtio_net",
  "virtio_balloon",
  "virtio_rng",
  "9pnet_virtio",
  "9p",
];

/**
 * The kernel for VM zones on this machine: the running kernel's release when its image is in
 * /boot (it is the one the host trusts), otherwise the newest /boot/vmlinuz-* that has modules.
 * Returns why none fits instead.
 */
export function findGuestKernel(bootDir = "/boot", modulesRoot = "/lib/modules"): GuestKernel | string {
  let names: string[];
  try {
    names = readdirSync(bootDir);
  } catch {
    return `${bootDir} cannot be read`;
  }
  const candidates = names
    .filter((n) => n.startsWith("vmlinuz-"))
    .map((n) => n.slice("vmlinuz-".length))
    .filter((r) => existsSync(join(modulesRoot, r, "modules.dep")))
    .sort(compareReleases);
  if (candidates.length === 0)
    return `no kernel with modules in ${bootDir} (apt-get install linux-image-amd64)`;
  const chosen = candidates.includes(release()) ? release() : candidates[candidates.length - 1]!;
  return {
    release: chosen,
    image: join(bootDir, `vmlinuz-${chosen}`),
    modulesDir: join(modulesRoot, chosen),
  };
}

/** Orders kernel releases by their numeric parts ("6.1.0-57" after "6.1.0-9"). */
export function compareReleases(a: string, b: string): number {
  const pa = a
    .split(/[^0-9]+/)
    .filter(Boolean)
    .map(Number);
  const pb = b
    .split(/[^0-9]+/)
    .filter(Boolean)
    .map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? -1) - (pb[i] ?? -1);
    if (d !== 0) return d;
  }
  return a.localeCompare(b);
}

/** A module's name as modprobe compares them: file name without .ko*, '-' same as '_'. */
export function moduleName(path: string): string {
  return basename(path)
    .replace(/\.ko(\.(xz|zst|gz))?$/, "")
    .replace(/-/g, "_");
}

/**
 * The module files to load for `wanted`, dependencies first (each once), from the text of
 * modules.dep; modules listed in modules.builtin are skipped. Throws naming a missing module.
 */
export function resolveModules(depText: string, builtinText: string, wanted: readonly string[]): string[] {
  const deps = new Map<string, { path: string; deps: string[] }>();
  for (const line of depText.split("\n")) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const path = line.slice(0, colon).trim();
    const list = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .filter(Boolean);
    deps.set(moduleName(path), { path, deps: list.map(moduleName) });
  }
  const builtin = new Set(
    builtinText
      .split("\n")
      .filter(Boolean)
      .map((l) => moduleName(l.trim())),
  );
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (name: string, chain: string[]): void => {
    const key = name.replace(/-/g, "_");
    if (seen.has(key) || builtin.has(key)) return;
    const entry = deps.get(key);
    if (!entry) throw new Error(`kernel module ${name} is neither built in nor in modules.dep`);
    if (chain.includes(key)) throw new Error(`kernel module dependency loop: ${[...chain, key].join(" → ")}`);
    for (const d of entry.deps) visit(d, [...chain, key]);
    seen.add(key);
    order.push(entry.path);
  };
  for (const w of wanted) visit(w, []);
  return order;
}

/** The modules of `kernel` that VM zones load, in load order, uncompressed. */
export function readGuestModules(kernel: GuestKernel): { name: string; data: Buffer }[] {
  const depText = readFileSync(join(kernel.modulesDir, "modules.dep"), "utf8");
  let builtinText = "";
  try {
    builtinText = readFileSync(join(kernel.modulesDir, "modules.builtin"), "utf8");
  } catch {
    // no list of built-in modules: every wanted one must then be a file
  }
  return resolveModules(depText, builtinText, guestModules).map((rel) => ({
    name: `${moduleName(rel)}.ko`,
    data: uncompressed(join(kernel.modulesDir, rel)),
  }));
}

/** busybox insmod reads plain .ko files: compressed modules are unpacked here. */
function uncompressed(path: string): Buffer {
  const raw = readFileSync(path);
  if (path.endsWith(".ko")) return raw;
  if (path.endsWith(".gz")) return gunzipSync(raw);
  const tool = path.endsWith(".xz") ? "xz" : path.endsWith(".zst") ? "zstd" : undefined;
  if (!tool) throw new Error(`unknown module compression: ${path}`);
  try {
    return execFileSync(tool, ["-dc", "--", path], { maxBuffer: 64 * 1024 * 1024 });
  } catch (err) {
    throw new Error(`cannot unpack ${path} (${tool} -dc): ${(err as Error).message}`, { cause: err });
  }
}
