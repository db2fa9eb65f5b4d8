import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { release } from "node:os";
import { dirname } from "node:path";
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  CpuTimesSchema,
  GuestProcessSchema,
  HelloReplySchema,
  ReadStatsReplySchema,
} from "../../../proto/gen/styrolite/guest/v1/agent_pb";
import type {
  DialReply,
  GuestAgent,
  SpawnReply,
  SpawnRequest,
} from "../../../proto/gen/styrolite/guest/v1/agent_pb";
import { FlowQueue } from "../../flowQueue";
import { processInfo } from "../../sandbox/procfs";
import { startProcess } from "../../sandbox/processes";
import type { SandboxProcess } from "../../sandbox/processes";

type Reply<T extends { reply: unknown }> = Pick<T, "reply">;

/**
 * What every spawned process runs first. The agent itself is exempt from the OOM killer
 * (oom_score_adj -1000) and children inherit that: without the reset a workload that exceeds
 * its memory limit could not be killed and would hang at the limit instead.
 */
function spawnWrapper(shell: string): string[] {
  return [shell, "-c", 'echo 0 > /proc/self/oom_score_adj; exec "$@"', "spawn"];
}

/** Largest file ReadFile returns: cgroup counters and /sys entries are a few hundred bytes. */
const readLimit = 1024 * 1024;

/**
 * The agent's RPCs. Processes start through the same code the dev host uses on its own machine
 * (pipes or a node-pty PTY, output held back while the host reads slowly, `exited` only after
 * the last byte), so exec inside a VM behaves as exec in a namespace zone does.
 */
export function guestAgentService(
  version: string,
  options: { shell?: string } = {},
): Partial<ServiceImpl<typeof GuestAgent>> {
  const wrapper = spawnWrapper(options.shell ?? "/bb/sh");
  return {
    hello() {
      return create(HelloReplySchema, {
        kernelRelease: release(),
        bootId: readText("/proc/sys/kernel/random/boot_id").trim(),
        memTotalBytes: BigInt(meminfo().total),
        onlineCpus: onlineCpus(),
        uptimeSeconds: uptime(),
        agentVersion: version,
      });
    },

    async *spawn(requests, ctx) {
      const input = requests[Symbol.asyncIterator]();
      const first = await input.next();
      if (first.done) return;
      if (first.value.request.case !== "start")
        throw new ConnectError("the first Spawn request must be start", Code.InvalidArgument);
      const start = first.value.request.value;
      if (start.argv.length === 0) throw new ConnectError("Spawn needs argv", Code.InvalidArgument);
      const proc = startProcess([...wrapper, ...start.argv], {
        tty: start.tty ? { columns: start.tty.columns, rows: start.tty.rows } : undefined,
        stdin: start.stdin,
        env: envObject(start.env),
        cwd: start.cwd || "/",
      });
      const queue = new FlowQueue<Reply<SpawnReply>>(replyBytes, proc, { batch: outputBatch });
      queue.push({ reply: { case: "started", value: proc.pid > 0 ? proc.pid : 0 } });
      proc.onStdout((d) => queue.push({ reply: { case: "stdout", value: d } }));
      proc.onStderr((d) => queue.push({ reply: { case: "stderr", value: d } }));
      void proc.exited.then((exit) => {
        queue.push({
          reply: {
            case: "exited",
            value: {
              $typeName: "styrolite.guest.v1.SpawnExit",
              ...(exit.code !== undefined ? { code: exit.code } : {}),
              signal: exit.signal ?? "",
            },
          },
        });
        queue.end();
      }); // the exit ends the reply stream after all output
      void (async () => {
        try {
          for (let next = await input.next(); !next.done; next = await input.next()) apply(proc, next.value);
        } catch {
          // the host went away: the abort handler ends the process
        }
      })(); // requests are applied as they come, independently of the replies
      const onAbort = (): void => {
        proc.hangUp();
        setTimeout(() => proc.kill("SIGKILL"), 2000).unref();
      };
      ctx.signal.addEventListener("abort", onAbort);
      try {
        yield* queue;
      } finally {
        ctx.signal.removeEventListener("abort", onAbort);
      }
    },

    async *dial(requests, ctx) {
      const input = requests[Symbol.asyncIterator]();
      const first = await input.next();
      if (first.done) return;
      if (first.value.request.case !== "start")
        throw new ConnectError("the first Dial request must be start", Code.InvalidArgument);
      const { address, port } = first.value.request.value;
      const socket = connect({ host: address || "127.0.0.1", port });
      const queue = new FlowQueue<Reply<DialReply>>(
        (r) => (r.reply.case === "data" ? r.reply.value.length : 0),
        socket,
      );
      socket.once("connect", () => queue.push({ reply: { case: "connected", value: true } }));
      socket.on("data", (d: Buffer) => queue.push({ reply: { case: "data", value: d } }));
      socket.on("end", () => queue.end());
      socket.on("error", (err) =>
        queue.fail(new ConnectError(`${address || "127.0.0.1"}:${port}: ${err.message}`, Code.Unavailable)),
      );
      void (async () => {
        try {
          for (let next = await input.next(); !next.done; next = await input.next())
            if (next.value.request.case === "data") socket.write(next.value.request.value);
          socket.end(); // the host half-closed: so does the TCP connection
        } catch {
          socket.destroy();
        }
      })(); // requests are applied as they come
      const onAbort = (): void => void socket.destroy();
      ctx.signal.addEventListener("abort", onAbort);
      try {
        yield* queue;
      } finally {
        ctx.signal.removeEventListener("abort", onAbort);
        socket.destroy();
      }
    },

    readStats(req) {
      const mem = meminfo();
      return create(ReadStatsReplySchema, {
        memTotalBytes: BigInt(mem.total),
        memAvailableBytes: BigInt(mem.available),
        cpus: cpuTicks().map((ticks) => create(CpuTimesSchema, { ticks: ticks.map(BigInt) })),
        uptimeSeconds: uptime(),
        processes: req.processes ? guestProcesses() : [],
      });
    },

    readFile(req) {
      try {
        const data = readFileSync(req.path);
        return { content: data.subarray(0, Math.min(req.maxBytes || readLimit, readLimit)) };
      } catch (err) {
        throw fileError(err, req.path);
      }
    },

    writeFile(req) {
      try {
        if (req.makeParents) mkdirSync(dirname(req.path), { recursive: true });
        writeFileSync(req.path, req.content);
        return {};
      } catch (err) {
        throw fileError(err, req.path);
      }
    },
  };
}

function apply(proc: SandboxProcess, req: SpawnRequest): void {
  const r = req.request;
  switch (r.case) {
    case "stdin":
      if (r.value.length > 0) proc.write(Buffer.from(r.value));
      break;
    case "closeStdin":
      proc.endInput();
      break;
    case "resize":
      if (r.value.columns > 0) proc.resize(r.value.columns, r.value.rows);
      break;
    case "signal":
      if (/^SIG[A-Z0-9]+$/.test(r.value)) proc.kill(r.value as NodeJS.Signals);
      break;
    case "hangUp":
      proc.hangUp();
      break;
    default:
      break;
  }
}

/** Output replies of the same stream join into one, as the dev host's own exec replies do. */
const outputBatch = {
  canJoin: (first: Reply<SpawnReply>, next: Reply<SpawnReply>): boolean =>
    (first.reply.case === "stdout" || first.reply.case === "stderr") && first.reply.case === next.reply.case,
  join: (items: Reply<SpawnReply>[]): Reply<SpawnReply> => {
    const kind = items[0]!.reply.case as "stdout" | "stderr";
    const data = Buffer.concat(items.map((r) => (r.reply.case === kind ? r.reply.value : new Uint8Array())));
    return { reply: { case: kind, value: data } };
  },
};

function replyBytes(r: Reply<SpawnReply>): number {
  return r.reply.case === "stdout" || r.reply.case === "stderr" ? r.reply.value.length : 0;
}

function envObject(entries: readonly string[]): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const e of entries) {
    const eq = e.indexOf("=");
    if (eq > 0) env[e.slice(0, eq)] = e.slice(eq + 1);
  }
  return env;
}

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

function meminfo(): { total: number; available: number } {
  const text = readText("/proc/meminfo");
  const kb = (key: string): number =>
    Number(text.match(new RegExp(`^${key}:\\s+(\\d+)`, "m"))?.[1] ?? 0) * 1024;
  return { total: kb("MemTotal"), available: kb("MemAvailable") || kb("MemFree") };
}

function uptime(): number {
  return Number(readText("/proc/uptime").split(" ")[0]) || 0;
}

/** CPUs the guest kernel runs on now ("0-3,5" in /sys/devices/system/cpu/online). */
function onlineCpus(): number {
  let count = 0;
  for (const part of readText("/sys/devices/system/cpu/online").trim().split(",")) {
    const [a, b] = part.split("-").map(Number);
    if (a === undefined || Number.isNaN(a)) continue;
    count += b === undefined ? 1 : b - a + 1;
  }
  return count;
}

/** The per-CPU lines of /proc/stat: user, nice, system, idle, iowait, irq, softirq, steal. */
function cpuTicks(): number[][] {
  return readText("/proc/stat")
    .split("\n")
    .filter((l) => /^cpu\d+ /.test(l))
    .map((l) =>
      l
        .trim()
        .split(/\s+/)
        .slice(1, 9)
        .map((n) => Number(n) || 0),
    );
}

/** User-space processes of the guest (kernel threads, children of kthreadd, are left out). */
function guestProcesses() {
  const out = [];
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!(pid > 0) || pid === 2) continue;
    const info = processInfo(pid);
    if (!info || info.parent === 2) continue;
    out.push(
      create(GuestProcessSchema, {
        pid,
        parent: info.parent,
        executable: info.executable,
        cmdline: info.cmdline,
        cwd: info.cwd,
        residentBytes: BigInt(info.residentBytes),
        virtualBytes: BigInt(info.virtualBytes),
        startTicks: BigInt(info.startTicks || 0),
        uid: info.uid,
        gid: info.gid,
      }),
    );
  }
  return out;
}

function fileError(err: unknown, path: string): ConnectError {
  const code = (err as NodeJS.ErrnoException).code;
  return new ConnectError(
    `${path}: ${code ?? (err as Error).message}`,
    code === "ENOENT" ? Code.NotFound : code === "EACCES" ? Code.PermissionDenied : Code.FailedPrecondition,
  );
}
