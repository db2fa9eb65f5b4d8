import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { delay } from "../../core/abort";
import type { Logger } from "../../core/log";
import { DevHostError } from "../errors";

/** Which cgroup interface carries the zone limits on this machine. */
export type CgroupVersion = "v1" | "v2" | "none";

/** Limits a zone's cgroup enforces; undefined means unlimited. */
export interface CgroupLimits {
  cpus?: number | undefined;
  memoryBytes?: number | undefined;
}

interface Hierarchy {
  /** Controllers this directory tree carries, e.g. ["cpu", "cpuacct"]. */
  controllers: string[];
  /** The directory of the dev host's own cgroup in this hierarchy. */
  ownDir: string;
}

const wanted = ["memory", "cpu", "cpuacct", "pids"];

/**
 * The machine's cgroup layout as the dev host sees it. Children are always created under the
 * dev host's own cgroup (read from /proc/self/cgroup), never at the root, so several dev hosts
 * and whatever supervises them can coexist. v1 hierarchies are used where memory/cpu are
 * mounted as v1 (the hybrid layout of Debian CI machines); otherwise v2 when its memory and cpu
 * controllers can be delegated to our children.
 */
export class CgroupSystem {
  private constructor(
    readonly version: CgroupVersion,
    private readonly hierarchies: Hierarchy[],
    /** Why limits are or are not available, for zone annotations and the log. */
    readonly note: string,
  ) {}

  /** No cgroups at all (process mode, or a machine without usable controllers). */
  static none(note: string): CgroupSystem {
    return new CgroupSystem("none", [], note);
  }

  static detect(log: Logger): CgroupSystem {
    if (process.getuid?.() !== 0)
      return new CgroupSystem("none", [], "cgroup limits need root; zones run unlimited");
    let mountinfo: string;
    let own: string;
    try {
      mountinfo = readFileSync("/proc/self/mountinfo", "utf8");
      own = readFileSync("/proc/self/cgroup", "utf8");
    } catch (err) {
      log.warn("cgroups: cannot read /proc/self/{mountinfo,cgroup}", err);
      return new CgroupSystem("none", [], "cgroups unreadable; zones run unlimited");
    }
    const mounts = parseCgroupMounts(mountinfo);
    const ownPaths = parseProcCgroup(own);

    const v1: Hierarchy[] = [];
    for (const m of mounts) {
      if (m.fstype !== "cgroup") continue;
      const controllers = m.options.filter((o) => wanted.includes(o));
      if (controllers.length === 0) continue;
      const path = ownPaths.v1.get(controllers.slice().sort().join(",")) ?? ownPaths.v1.get(controllers[0]!);
      if (path === undefined) continue;
      const ownDir = join(m.mountPoint, relativeTo(path, m.root));
      if (!v1.some((h) => h.ownDir === ownDir)) v1.push({ controllers, ownDir });
    }
    const has = (c: string): boolean => v1.some((h) => h.controllers.includes(c));
    if (has("memory") && has("cpu")) {
      return new CgroupSystem("v1", v1, "cgroup v1 (memory.limit_in_bytes, cpu.cfs_quota_us)");
    }

    const unified = mounts.find((m) => m.fstype === "cgroup2");
    if (unified && ownPaths.v2 !== undefined) {
      const ownDir = join(unified.mountPoint, relativeTo(ownPaths.v2, unified.root));
      const reason = delegateV2(ownDir, log);
      if (reason === undefined)
        return new CgroupSystem(
          "v2",
          [{ controllers: ["memory", "cpu", "pids"], ownDir }],
          "cgroup v2 (memory.max, cpu.max)",
        );
      return new CgroupSystem(
        "none",
        [],
        `cgroup v2 controllers unavailable (${reason}); zones run unlimited`,
      );
    }
    return new CgroupSystem("none", [], "no usable memory/cpu cgroup controllers; zones run unlimited");
  }

  /** Creates (or adopts) a group directly under the dev host's own cgroup. */
  group(name: string): CgroupNode {
    const node = new CgroupNode(
      this.version,
      this.hierarchies.map((h) => ({ controllers: h.controllers, dir: join(h.ownDir, name) })),
      name,
    );
    node.create();
    return node;
  }

  /** A node at a recorded set of directories (from a previous run), without creating it. */
  existing(dirs: { controllers: string[]; dir: string }[]): CgroupNode {
    return new CgroupNode(this.version, dirs);
  }
}

/**
 * One cgroup, materialised as one directory per mounted hierarchy (v1) or one directory (v2).
 */
export class CgroupNode {
  constructor(
    readonly version: CgroupVersion,
    readonly dirs: { controllers: string[]; dir: string }[],
    /**
     * The group's path below the dev host's own cgroup, the same in every hierarchy: what runc
     * takes as a relative cgroupsPath (runc puts it under its own cgroup, which is ours).
     */
    readonly relativePath = "",
  ) {}

  create(): void {
    for (const d of this.dirs) mkdirSync(d.dir, { recursive: true });
  }

  child(name: string): CgroupNode {
    const node = new CgroupNode(
      this.version,
      this.dirs.map((d) => ({ controllers: d.controllers, dir: join(d.dir, name) })),
      this.relativePath ? join(this.relativePath, name) : name,
    );
    node.create();
    return node;
  }

  /** The files a process writes its pid to in order to join this group (one per hierarchy). */
  procsFiles(): string[] {
    return this.dirs.map((d) => join(d.dir, "cgroup.procs"));
  }

  join(pid: number): void {
    for (const file of this.procsFiles()) writeFileSync(file, `${pid}\n`);
  }

  #dir(controller: string): string | undefined {
    return this.dirs.find((d) => d.controllers.includes(controller))?.dir;
  }

  setLimits(limits: CgroupLimits): void {
    if (this.version === "v1") {
      const cpu = this.#dir("cpu");
      if (cpu) {
        writeFileSync(join(cpu, "cpu.cfs_period_us"), "100000");
        writeFileSync(
          join(cpu, "cpu.cfs_quota_us"),
          limits.cpus ? String(Math.round(limits.cpus * 100000)) : "-1",
        );
      }
      const mem = this.#dir("memory");
      if (mem) writeV1Memory(mem, limits.memoryBytes);
    } else if (this.version === "v2") {
      const dir = this.dirs[0]?.dir;
      if (!dir) return;
      writeFileSync(
        join(dir, "cpu.max"),
        limits.cpus ? `${Math.round(limits.cpus * 100000)} 100000` : "max 100000",
      );
      writeFileSync(join(dir, "memory.max"), limits.memoryBytes ? String(limits.memoryBytes) : "max");
      // Without this a v2 zone swaps instead of hitting its limit, and never shows an OOM kill.
      if (existsSync(join(dir, "memory.swap.max")))
        writeFileSync(join(dir, "memory.swap.max"), limits.memoryBytes ? "0" : "max");
    }
  }

  /** Current memory use in bytes, and the limit when one is set. */
  memory(): { used: number; limit: number | undefined } | undefined {
    const dir = this.#dir("memory");
    if (!dir) return undefined;
    if (this.version === "v1") {
      const used = readNumber(join(dir, "memory.usage_in_bytes"));
      const limit = readNumber(join(dir, "memory.limit_in_bytes"));
      // v1 reports "no limit" as a huge page-aligned number near 2^63.
      return { used: used ?? 0, limit: limit !== undefined && limit < 2 ** 62 ? limit : undefined };
    }
    const used = readNumber(join(dir, "memory.current"));
    const raw = readText(join(dir, "memory.max"))?.trim();
    return { used: used ?? 0, limit: raw && raw !== "max" ? Number(raw) : undefined };
  }

  /** Page cache the kernel can reclaim at once; "used" memory leaves it out, as docker stats does. */
  inactiveFileBytes(): number {
    const dir = this.#dir("memory");
    if (!dir) return 0;
    const stat = readText(join(dir, "memory.stat")) ?? "";
    const key = this.version === "v1" ? "total_inactive_file" : "inactive_file";
    return Number(stat.match(new RegExp(`^${key} (\\d+)$`, "m"))?.[1] ?? 0);
  }

  /** Total CPU time used by the group, in nanoseconds. */
  cpuUsageNs(): bigint | undefined {
    if (this.version === "v1") {
      const dir = this.#dir("cpuacct");
      const text = dir ? readText(join(dir, "cpuacct.usage")) : undefined;
      return text ? BigInt(text.trim()) : undefined;
    }
    if (this.version === "v2") {
      const dir = this.dirs[0]?.dir;
      const stat = dir ? readText(join(dir, "cpu.stat")) : undefined;
      const usec = stat?.match(/^usage_usec (\d+)$/m)?.[1];
      return usec ? BigInt(usec) * 1000n : undefined;
    }
    return undefined;
  }

  /** CPU time per host CPU in nanoseconds (v1 only; v2 has no per-CPU accounting). */
  perCpuUsageNs(): bigint[] | undefined {
    if (this.version !== "v1") return undefined;
    const dir = this.#dir("cpuacct");
    const text = dir ? readText(join(dir, "cpuacct.usage_percpu")) : undefined;
    return text
      ?.trim()
      .split(/\s+/)
      .filter(Boolean)
      .map((n) => BigInt(n));
  }

  /** How many processes the kernel's OOM killer has killed in this group so far. */
  oomKills(): number {
    const dir = this.#dir("memory");
    if (!dir) return 0;
    const text = readText(join(dir, this.version === "v1" ? "memory.oom_control" : "memory.events"));
    return Number(text?.match(/^oom_kill (\d+)$/m)?.[1] ?? 0);
  }

  /** Every process in the group and its descendants. */
  pids(): number[] {
    const dir = this.dirs[0]?.dir;
    if (!dir) return [];
    const out = new Set<number>();
    const walk = (d: string): void => {
      for (const line of (readText(join(d, "cgroup.procs")) ?? "").split("\n")) {
        const pid = Number(line);
        if (pid > 0) out.add(pid);
      }
      let entries: string[];
      try {
        entries = readdirSync(d, { withFileTypes: true })
          .filter((e) => e.isDirectory())
          .map((e) => e.name);
      } catch {
        return;
      }
      for (const name of entries) walk(join(d, name));
    };
    walk(dir);
    return [...out];
  }

  /** Signals every process in the group (and below). */
  signalAll(signal: NodeJS.Signals, except: ReadonlySet<number> = new Set()): number {
    let count = 0;
    for (const pid of this.pids()) {
      if (except.has(pid)) continue;
      try {
        process.kill(pid, signal);
        count++;
      } catch {
        // already gone
      }
    }
    return count;
  }

  /** Kills everything in the group, waits until it is empty, then removes its directories. */
  async destroy(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.signalAll("SIGKILL") > 0 && Date.now() < deadline) await delay(20);
    for (const d of this.dirs) {
      for (;;) {
        try {
          removeTree(d.dir);
          break;
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === "ENOENT") break;
          if (Date.now() > deadline)
            throw new DevHostError("internal", `cannot remove cgroup ${d.dir}: ${code ?? String(err)}`);
          this.signalAll("SIGKILL");
          await delay(25);
        }
      }
    }
  }
}

/** cgroup directories are removed with rmdir, children first (their files cannot be unlinked). */
function removeTree(dir: string): void {
  let entries: string[];
  try {
    entries = readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  for (const name of entries) removeTree(join(dir, name));
  rmdirSync(dir);
}

function writeV1Memory(dir: string, bytes: number | undefined): void {
  const limit = join(dir, "memory.limit_in_bytes");
  const memsw = join(dir, "memory.memsw.limit_in_bytes");
  const value = bytes ? String(bytes) : "-1";
  if (!existsSync(memsw)) {
    writeFileSync(limit, value);
    return;
  }
  // memsw must stay >= the memory limit: raise it first when growing, lower it last when shrinking.
  try {
    writeFileSync(limit, value);
    writeFileSync(memsw, value);
  } catch {
    writeFileSync(memsw, value);
    writeFileSync(limit, value);
  }
}

function delegateV2(ownDir: string, log: Logger): string | undefined {
  const available = (readText(join(ownDir, "cgroup.controllers")) ?? "").split(/\s+/);
  if (!available.includes("memory") || !available.includes("cpu"))
    return `no memory/cpu controller in ${ownDir}`;
  const enabled = (readText(join(ownDir, "cgroup.subtree_control")) ?? "").split(/\s+/);
  if (enabled.includes("memory") && enabled.includes("cpu")) return undefined;
  try {
    writeFileSync(join(ownDir, "cgroup.subtree_control"), "+memory +cpu +pids");
    return undefined;
  } catch (err) {
    log.debug(`cgroups: cannot enable controllers under ${ownDir}`, err);
    return `cannot enable memory/cpu below ${ownDir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`;
  }
}

interface CgroupMount {
  root: string;
  mountPoint: string;
  fstype: string;
  options: string[];
}

/** The cgroup and cgroup2 mounts from /proc/self/mountinfo. */
export function parseCgroupMounts(mountinfo: string): CgroupMount[] {
  const out: CgroupMount[] = [];
  for (const line of mountinfo.split("\n")) {
    const sep = line.indexOf(" - ");
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(" ");
    const right = line.slice(sep + 3).split(" ");
    const fstype = right[0];
    if (fstype !== "cgroup" && fstype !== "cgroup2") continue;
    out.push({
      root: unescapeMount(left[3] ?? "/"),
      mountPoint: unescapeMount(left[4] ?? ""),
      fstype,
      options: (right[2] ?? "").split(","),
    });
  }
  return out;
}

/** /proc/self/cgroup: v1 paths keyed by sorted controller list (and by each controller), and the v2 path. */
export function parseProcCgroup(text: string): { v1: Map<string, string>; v2: string | undefined } {
  const v1 = new Map<string, string>();
  let v2: string | undefined;
  for (const line of text.split("\n")) {
    const first = line.indexOf(":");
    const second = line.indexOf(":", first + 1);
    if (first < 0 || second < 0) continue;
    const controllers = line.slice(first + 1, second);
    const path = line.slice(second + 1);
    if (controllers === "") {
      v2 = path;
      continue;
    }
    const list = controllers.split(",");
    v1.set(list.slice().sort().join(","), path);
    for (const c of list) v1.set(c, path);
  }
  return { v1, v2 };
}

function relativeTo(path: string, root: string): string {
  if (root === "/" || root === "") return path;
  return path === root ? "/" : path.startsWith(`${root}/`) ? path.slice(root.length) : path;
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

function readNumber(file: string): number | undefined {
  const text = readText(file)?.trim();
  if (!text) return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * Removes the directories at each relative path below the dev host's own cgroup in every
 * hierarchy (children first; only groups without processes can go). runc creates a container's
 * group in every controller it knows (devices, freezer, blkio…, and the unified tree on a hybrid
 * machine), parents included, and removes only the leaf: the parents it made in hierarchies
 * the dev host does not manage would otherwise stay behind.
 */
export async function removeEmptyGroupsEverywhere(relativePaths: readonly string[]): Promise<void> {
  let mounts: CgroupMount[];
  let own: ReturnType<typeof parseProcCgroup>;
  try {
    mounts = parseCgroupMounts(readFileSync("/proc/self/mountinfo", "utf8"));
    own = parseProcCgroup(readFileSync("/proc/self/cgroup", "utf8"));
  } catch {
    return;
  }
  for (const m of mounts) {
    const key = m.options.find((o) => own.v1.has(o));
    const path = m.fstype === "cgroup2" ? own.v2 : key !== undefined ? own.v1.get(key) : undefined;
    if (path === undefined) continue;
    for (const rel of relativePaths) {
      // A container's last process may still be leaving its group (EBUSY): a short wait.
      for (let attempt = 0; ; attempt++) {
        try {
          removeTree(join(m.mountPoint, relativeTo(path, m.root), rel));
          break;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "EBUSY" || attempt >= 40) break;
          await delay(50);
        }
      }
    }
  }
}
