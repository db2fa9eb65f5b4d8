// Small helpers shared by the dev host's integration tests.
import { existsSync, readdirSync } from "node:fs";
import { execFileSync } from "node:child_process";
import type { Client } from "@connectrpc/connect";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type {
  ControlService,
  ExecuteZoneCommandRequest,
  ExecuteZoneCommandRequestSchema,
} from "../../../extension/proto/gen/protect/control/v1/control_pb";
import { WorkloadState, ZoneState } from "../../../extension/proto/gen/protect/control/v1/common_pb";
import type { Workload, Zone } from "../../../extension/proto/gen/protect/control/v1/common_pb";

type ControlClient = Client<typeof ControlService>;

export async function waitForZone(
  client: ControlClient,
  zoneId: string,
  states: ZoneState[],
  timeoutMs = 20_000,
): Promise<Zone> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { zone } = await client.getZone({ zoneId });
    if (zone?.status && states.includes(zone.status.state)) return zone;
    if (Date.now() > deadline)
      throw new Error(
        `zone ${zoneId} is ${ZoneState[zone?.status?.state ?? 0]}, waited for ${states.map((s) => ZoneState[s]).join("/")}`,
      );
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function waitForWorkload(
  client: ControlClient,
  workloadId: string,
  states: WorkloadState[],
  timeoutMs = 20_000,
): Promise<Workload> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { workload } = await client.getWorkload({ workloadId });
    if (workload?.status && states.includes(workload.status.state)) return workload;
    if (Date.now() > deadline) {
      throw new Error(
        `workload ${workloadId} is ${WorkloadState[workload?.status?.state ?? 0]} (${workload?.status?.errorStatus?.message ?? ""}), waited for ${states.map((s) => WorkloadState[s]).join("/")}`,
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function listAllZones(client: ControlClient): Promise<Zone[]> {
  const out: Zone[] = [];
  for await (const reply of client.listZones({})) out.push(...reply.zones);
  return out;
}

/** Cgroup directories (any hierarchy) whose name contains `needle`. */
export function cgroupDirsMatching(needle: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, depth: number): void => {
    if (depth > 6) return;
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const p = `${dir}/${e.name}`;
      if (e.name.includes(needle)) out.push(p);
      walk(p, depth + 1);
    }
  };
  // Every hierarchy: runc creates a container's group in all the controllers it knows.
  for (const h of readdirSync("/sys/fs/cgroup"))
    if (existsSync(`/sys/fs/cgroup/${h}`)) walk(`/sys/fs/cgroup/${h}`, 0);
  return out;
}

/** Network interfaces whose name starts with `prefix`. */
export function linksWithPrefix(prefix: string): string[] {
  const text = execFileSync("ip", ["-o", "link", "show"], { encoding: "utf8" });
  return text
    .split("\n")
    .map((l) => l.split(": ")[1]?.split("@")[0] ?? "")
    .filter((n) => n.startsWith(prefix));
}

/** Processes whose command line contains `needle`. */
export function processesMatching(needle: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!(pid > 0) || pid === process.pid) continue;
    try {
      const cmd = execFileSync("cat", [`/proc/${pid}/cmdline`], { encoding: "utf8" })
        .split("\0")
        .join(" ");
      if (cmd.includes(needle)) out.push(pid);
    } catch {
      // gone
    }
  }
  return out;
}

export type ExecInit = MessageInitShape<typeof ExecuteZoneCommandRequestSchema>;

/** What an exec starts with. */
export interface ExecStart {
  workloadId?: string;
  command: string[];
  env?: Record<string, string>;
  tty?: { rows: number; columns: number };
  cwd?: string;
  user?: string;
}

/** Feeds requests after start; sees output as it arrives. */
export type ExecScript = (send: (req: ExecInit) => void, output: () => string) => Promise<void>;

/** Runs an exec over ExecuteZoneCommand; `script` feeds requests after start. */
export async function runExec(
  client: ControlClient,
  zoneId: string,
  start: ExecStart,
  script?: ExecScript,
): Promise<{ stdout: string; stderr: string; exitCode: number | undefined; ms: number }> {
  const pending: ExecInit[] = [];
  let wake: (() => void) | undefined;
  let done = false;
  const send = (req: ExecInit): void => {
    pending.push(req);
    wake?.();
  };
  async function* requests(): AsyncGenerator<ExecInit> {
    yield {
      request: {
        case: "start",
        value: {
          zoneId,
          workloadId: start.workloadId ?? "",
          process: {
            command: start.command,
            environment: Object.entries(start.env ?? {}).map(([key, value]) => ({ key, value })),
            tty: Boolean(start.tty),
            ...(start.tty ? { terminalSize: start.tty } : {}),
            workingDirectory: start.cwd ?? "",
            ...(start.user ? { user: { idOrName: { case: "name" as const, value: start.user } } } : {}),
          },
        },
      },
    };
    while (!done) {
      while (pending.length) yield pending.shift()!;
      await new Promise<void>((r) => (wake = r));
    }
  }
  let stdout = "";
  let stderr = "";
  let exitCode: number | undefined;
  const started = Date.now();
  const scripted = script?.(send, () => stdout);
  for await (const reply of client.executeZoneCommand(
    requests() as AsyncIterable<ExecuteZoneCommandRequest>,
  )) {
    if (reply.reply.case === "output") {
      stdout += Buffer.from(reply.reply.value.stdout).toString("utf8");
      stderr += Buffer.from(reply.reply.value.stderr).toString("utf8");
    } else if (reply.reply.case === "exited") {
      exitCode = reply.reply.value.exitCode;
      // Nothing more to send once the process is gone: half-close, as a terminal client does.
      done = true;
      wake?.();
    }
  }
  const ms = Date.now() - started;
  done = true;
  wake?.();
  await scripted;
  return { stdout, stderr, exitCode, ms };
}
