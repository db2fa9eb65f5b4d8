import type { ServiceImpl } from "@connectrpc/connect";
import type {
  ControlService,
  ExecuteZoneCommandRequest,
} from "../../proto/gen/protect/control/v1/control_pb";
import type { ProcessSpec } from "../../proto/gen/protect/control/v1/common_pb";
import { DevHostError } from "../errors";
import { FlowQueue } from "../flowQueue";
import type { LaunchTarget } from "../sandbox/zoneSandbox";
import { exitCodeOf } from "../sandbox/processes";
import { resolveIdentity } from "../sandbox/users";
import { mergeEnv, normalizeAbsolute } from "../workloadPlan";
import type { WorkloadManager } from "../workloads";
import type { ZoneManager } from "../zones";

type Impl = Partial<ServiceImpl<typeof ControlService>>;

type ExecReply =
  | { reply: { case: "output"; value: { stdout?: Uint8Array; stderr?: Uint8Array } } }
  | { reply: { case: "exited"; value: { exitCode: number } } };

/** ExecuteZoneCommand and DialNetworkSocket: processes and TCP streams inside a zone. */
export function execRpc(zones: ZoneManager, workloads: WorkloadManager): Impl {
  return {
    async *executeZoneCommand(requests, ctx) {
      const input = requests[Symbol.asyncIterator]();
      const first = await input.next();
      if (first.done) return;
      if (first.value.request.case !== "start")
        throw new DevHostError("invalidArgument", "the first ExecuteZoneCommand request must be start");
      const start = first.value.request.value;
      const spec = start.process;
      if (!spec || spec.command.length === 0)
        throw new DevHostError("invalidArgument", "ExecuteZoneCommand needs process.command");

      const launch = planExec(zones, workloads, start.zoneId, start.workloadId, spec);
      const tty = spec.tty
        ? { columns: spec.terminalSize?.columns || 80, rows: spec.terminalSize?.rows || 24 }
        : undefined;
      const f = launch.final;
      const proc =
        (start.workloadId
          ? workloads.execInContainer(
              start.workloadId,
              {
                args: f.command,
                env: f.env,
                cwd: f.cwd,
                uid: f.uid,
                gid: f.gid,
                terminal: tty !== undefined,
                terminalSize: tty,
              },
              tty,
            )
          : undefined) ??
        launch.sandbox.launch({ target: launch.target, group: launch.group, final: f, tty, stdin: true });
      // Output flows to the client at the client's pace; `exited` is pushed only once the
      // process's output is complete (SandboxProcess.exited waits for the PTY's last bytes), so
      // it is always the last reply, and ending the call after it loses nothing.
      const queue = new FlowQueue<ExecReply>(replyBytes, proc, { batch: outputBatch, settle: bulkSettle });
      proc.onStdout((d) => queue.push({ reply: { case: "output", value: { stdout: d } } }));
      proc.onStderr((d) => queue.push({ reply: { case: "output", value: { stderr: d } } }));
      void proc.exited.then((exit) => {
        queue.push({ reply: { case: "exited", value: { exitCode: exitCodeOf(exit) } } });
        queue.end();
      }); // the exit ends the reply stream after all output

      const apply = (req: ExecuteZoneCommandRequest): void => {
        if (req.request.case === "stdin") {
          if (req.request.value.stdin.length > 0) proc.write(Buffer.from(req.request.value.stdin));
          if (req.request.value.closed) proc.endInput();
        } else if (req.request.case === "terminalResize") {
          const size = req.request.value.size;
          if (size && size.columns > 0) proc.resize(size.columns, size.rows);
        }
      };
      void (async () => {
        try {
          for (let next = await input.next(); !next.done; next = await input.next()) apply(next.value);
        } catch {
          // the client went away (the abort handler below ends the process), or the call ended
        }
      })(); // requests are applied as they come, independently of the replies

      // A client that goes away takes its process with it, as an SSH session would: the
      // terminal is hung up (SIGHUP to its session), and what ignores that is killed.
      const onAbort = (): void => {
        proc.hangUp();
        setTimeout(() => proc.kill("SIGKILL"), 2000).unref();
      };
      ctx.signal.addEventListener("abort", onAbort);
      try {
        // Each reply is handed over once Connect has written the previous one; after `exited`
        // the call ends at once, as protect-daemon's does, whether or not the client has
        // half-closed (Connect then resets the request side with NO_ERROR after the trailers).
        yield* queue;
      } finally {
        ctx.signal.removeEventListener("abort", onAbort);
      }
    },

    async *dialNetworkSocket(requests, ctx) {
      const input = requests[Symbol.asyncIterator]();
      const first = await input.next();
      if (first.done) return;
      if (first.value.request.case !== "start")
        throw new DevHostError("invalidArgument", "the first DialNetworkSocket request must be start");
      const { zoneId, address, port } = first.value.request.value;
      const proc = zones.sandbox(zoneId).dial(address, port);
      const queue = new FlowQueue<Buffer>((b) => b.length, proc, {
        batch: { canJoin: () => true, join: (chunks) => Buffer.concat(chunks) },
      });
      const errors: Buffer[] = [];
      proc.onStdout((d) => queue.push(d));
      proc.onStderr((d) => errors.push(d));
      void proc.exited.then((exit) => {
        if (exitCodeOf(exit) === 0) queue.end();
        else {
          const detail = Buffer.concat(errors).toString("utf8").trim().split("\n").pop() ?? "";
          queue.fail(
            new DevHostError(
              "unavailable",
              `cannot connect to ${address || "127.0.0.1"}:${port} in zone ${zoneId}: ${detail.replace(/^.*E /, "") || `exit ${exitCodeOf(exit)}`}`,
            ),
          );
        }
      }); // the connection's end (or failure) ends the reply stream

      void (async () => {
        try {
          for (let next = await input.next(); !next.done; next = await input.next()) {
            if (next.value.request.case === "data") proc.write(Buffer.from(next.value.request.value.content));
          }
          proc.endInput(); // the client half-closed: so does the TCP connection
        } catch {
          proc.kill("SIGTERM");
        }
      })(); // requests are applied as they come, independently of the replies

      const onAbort = (): void => proc.kill("SIGTERM");
      ctx.signal.addEventListener("abort", onAbort);
      try {
        for await (const chunk of queue) yield { data: { content: chunk } };
      } finally {
        ctx.signal.removeEventListener("abort", onAbort);
        proc.kill("SIGTERM");
      }
    },
  };
}

/**
 * Output replies of the same stream join into one (a PTY is read 4 KB at a time; 100 MiB would
 * otherwise be 25 600 replies). Only like with like, so stdout and stderr keep their order.
 */
const outputBatch = {
  canJoin: (first: ExecReply, next: ExecReply): boolean =>
    streamOf(first) !== undefined && streamOf(first) === streamOf(next),
  join: (items: ExecReply[]): ExecReply => {
    const stream = streamOf(items[0]!) ?? "stdout";
    const data = Buffer.concat(
      items.map((r) =>
        r.reply.case === "output" ? (r.reply.value[stream] ?? new Uint8Array()) : new Uint8Array(),
      ),
    );
    return { reply: { case: "output", value: { [stream]: data } } };
  },
};

/**
 * A PTY is read at most 4095 bytes at a time: output that came as a full read is bulk, and the
 * next reply waits 1 ms for more to join it (100 MiB of `cat`: about 3 000 replies instead of
 * 21 000). Interactive output — echoes, prompts — comes in smaller reads and is sent at once.
 */
const bulkSettle = { afterBytes: 4000, ms: 1 };

/** Which one stream an output reply carries; undefined for `exited` or a reply with both. */
function streamOf(reply: ExecReply): "stdout" | "stderr" | undefined {
  if (reply.reply.case !== "output") return undefined;
  const { stdout, stderr } = reply.reply.value;
  if (stdout?.length && !stderr?.length) return "stdout";
  if (stderr?.length && !stdout?.length) return "stderr";
  return undefined;
}

/** Output bytes a reply carries (what back-pressure counts). */
function replyBytes(reply: ExecReply): number {
  return reply.reply.case === "output"
    ? (reply.reply.value.stdout?.length ?? 0) + (reply.reply.value.stderr?.length ?? 0)
    : 0;
}

/** Where and how an exec runs: in a running workload (its root, env, user) or in the zone. */
function planExec(
  zones: ZoneManager,
  workloads: WorkloadManager,
  zoneId: string,
  workloadId: string,
  spec: ProcessSpec,
) {
  const user = spec.user?.idOrName.value;
  const group = spec.group?.idOrName.value;
  const overrides = spec.environment.map((e): [string, string] => [e.key, e.value]);
  if (workloadId) {
    const w = workloads.execContext(workloadId);
    if (zoneId && w.sandbox.zoneId !== zoneId)
      throw new DevHostError("invalidArgument", `workload ${workloadId} is not in zone ${zoneId}`);
    const identity =
      user !== undefined || group !== undefined
        ? resolveIdentity(w.image.rootfsDir, user ?? w.plan.uid, group)
        : { uid: w.plan.uid, gid: w.plan.gid, home: undefined };
    const env = mergeEnv(
      w.plan.env.map(([k, v]) => `${k}=${v}`),
      overrides,
      { home: identity.home, tty: spec.tty },
    );
    const target: LaunchTarget = { kind: "workload", mainPid: w.mainPid };
    return {
      sandbox: w.sandbox,
      target,
      group: w.group,
      final: {
        root: w.root,
        cwd: spec.workingDirectory
          ? normalizeAbsolute(spec.workingDirectory, "working directory")
          : w.plan.cwd,
        uid: identity.uid,
        gid: identity.gid,
        env,
        command: [...spec.command],
      },
    };
  }
  const sandbox = zones.sandbox(zoneId);
  // A zone-level exec sees the host's filesystem (the zone shares it), so names resolve there.
  const identity = resolveIdentity("/", user, group);
  const target: LaunchTarget = { kind: "zone" };
  return {
    sandbox,
    target,
    group: sandbox.execGroup,
    final: {
      root: "/",
      cwd: spec.workingDirectory ? normalizeAbsolute(spec.workingDirectory, "working directory") : "/",
      uid: identity.uid,
      gid: identity.gid,
      env: mergeEnv([], overrides, { home: identity.home, tty: spec.tty }),
      command: [...spec.command],
    },
  };
}
