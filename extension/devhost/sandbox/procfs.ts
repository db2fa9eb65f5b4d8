import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** Field 22 of /proc/<pid>/stat: start time in clock ticks, which tells a pid's reuse apart. */
export function processStartTime(pid: number): string | undefined {
  const stat = readStat(pid);
  return stat?.fields[19];
}

/** Parsed /proc/<pid>/stat: comm, and the fields after it (state is fields[0]). */
export function readStat(pid: number): { comm: string; fields: string[] } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < 0) return undefined;
  return {
    comm: text.slice(open + 1, close),
    fields: text
      .slice(close + 2)
      .trim()
      .split(" "),
  };
}

/** Whether `pid` is alive and still the same process that was recorded with `startTime`. */
export function isSameProcess(pid: number, startTime: string | undefined): boolean {
  const now = processStartTime(pid);
  return now !== undefined && (startTime === undefined || now === startTime);
}

/** Direct children of a process (all threads). */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tasks) {
    try {
      for (const c of readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").trim().split(/\s+/)) {
        const n = Number(c);
        if (n > 0) out.push(n);
      }
    } catch {
      // thread gone, or a kernel without /proc/<pid>/task/<tid>/children: fall back below
    }
  }
  if (out.length > 0) return out;
  for (const entry of readdirSync("/proc")) {
    const n = Number(entry);
    if (!(n > 0)) continue;
    if (readStat(n)?.fields[1] === String(pid)) out.push(n);
  }
  return out;
}

/** The process's view of pid namespaces: NSpid from /proc/<pid>/status (outermost first). */
export function namespacePids(pid: number): number[] {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const line = status.match(/^NSpid:\s+(.*)$/m)?.[1];
    return line ? line.trim().split(/\s+/).map(Number) : [pid];
  } catch {
    return [];
  }
}

/** A short description of a process for metrics: parent, exe, cmdline, cwd, memory, uid, gid. */
export interface ProcessInfo {
  pid: number;
  parent: number;
  executable: string;
  cmdline: string;
  cwd: string;
  residentBytes: number;
  virtualBytes: number;
  startTicks: number;
  uid: number;
  gid: number;
}

export function processInfo(pid: number): ProcessInfo | undefined {
  const stat = readStat(pid);
  if (!stat) return undefined;
  let status = "";
  try {
    status = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return undefined;
  }
  const safeLink = (p: string): string => {
    try {
      return readlinkSync(p);
    } catch {
      return "";
    }
  };
  let cmdline = "";
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0+$/, "").split("\0").join(" ");
  } catch {
    // exited meanwhile
  }
  const kb = (key: string): number =>
    Number(status.match(new RegExp(`^${key}:\\s+(\\d+) kB$`, "m"))?.[1] ?? 0) * 1024;
  const ids = (key: string): number => Number(status.match(new RegExp(`^${key}:\\s+(\\d+)`, "m"))?.[1] ?? 0);
  return {
    pid,
    parent: Number(stat.fields[1]),
    executable: safeLink(`/proc/${pid}/exe`),
    cmdline: cmdline || `[${stat.comm}]`,
    cwd: safeLink(`/proc/${pid}/cwd`),
    residentBytes: kb("VmRSS"),
    virtualBytes: kb("VmSize"),
    startTicks: Number(stat.fields[19]),
    uid: ids("Uid"),
    gid: ids("Gid"),
  };
}
