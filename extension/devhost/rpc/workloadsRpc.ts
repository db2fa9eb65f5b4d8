import type { ServiceImpl } from "@connectrpc/connect";
import type { ControlService } from "../../proto/gen/protect/control/v1/control_pb";
import { AsyncQueue } from "../../core/asyncQueue";
import type { OutputTag } from "../consoleBuffer";
import { DevHostError } from "../errors";
import type { WorkloadManager } from "../workloads";
import { listBatchSize } from "./zonesRpc";

type Impl = Partial<ServiceImpl<typeof ControlService>>;

/** Create/Start/Stop/Destroy/Get/Resolve/List workloads and AttachWorkloadConsole. */
export function workloadsRpc(workloads: WorkloadManager): Impl {
  return {
    createWorkload(req) {
      if (!req.spec) throw new DevHostError("invalidArgument", "CreateWorkload needs a spec");
      return { workloadId: workloads.create(req.spec) };
    },

    async startWorkload(req) {
      await workloads.start(req.workloadId);
      return {};
    },

    async stopWorkload(req) {
      await workloads.stop(req.workloadId, Number(req.timeout));
      return {};
    },

    destroyWorkload(req) {
      workloads.destroy(req.workloadId);
      return {};
    },

    getWorkload(req) {
      return { workload: workloads.get(req.workloadId) };
    },

    resolveWorkloadId(req) {
      return { workloadId: workloads.resolve(req.name)[0] ?? "" };
    },

    resolveWorkloadIds(req) {
      return { workloadIds: workloads.resolve(req.name) };
    },

    async *listWorkloads() {
      const all = workloads.list();
      if (all.length === 0) {
        yield { workloads: [] };
        return;
      }
      for (let i = 0; i < all.length; i += listBatchSize)
        yield { workloads: all.slice(i, i + listBatchSize) };
    },

    async *attachWorkloadConsole(requests, ctx) {
      const input = requests[Symbol.asyncIterator]();
      const first = await input.next();
      if (first.done) return;
      const workloadId = first.value.workloadId;
      const output = workloads.output(workloadId);
      const queue = new AsyncQueue<{ tag: OutputTag; data: Buffer }>(100_000);
      // The retained output first (a late attach still sees what the workload printed), then live.
      for (const chunk of output.historyChunks()) queue.push(chunk);
      const sub = output.onChunk((c) => queue.push(c));
      const closeSub = output.onClose(() => queue.end());
      if (output.closed) queue.end();
      const onAbort = (): void => queue.end();
      ctx.signal.addEventListener("abort", onAbort);

      const apply = (req: typeof first.value): void => {
        const proc = workloads.process(workloadId);
        if (!proc) return;
        if (req.stdin.length > 0) proc.write(Buffer.from(req.stdin));
        if (req.terminalResize && req.terminalResize.columns > 0)
          proc.resize(req.terminalResize.columns, req.terminalResize.rows);
        if (req.stdinClosed) proc.endInput();
      };
      apply(first.value);
      void (async () => {
        try {
          for (let next = await input.next(); !next.done; next = await input.next()) apply(next.value);
        } catch {
          // the client went away (the output side ends through the abort signal), or the call ended
        }
      })(); // requests are applied as they come, independently of the replies

      try {
        // The console closes only after the workload's process has exited and its output is
        // complete (SandboxProcess.exited drains a PTY first), so the call ends right after the
        // last chunk, without waiting for the client to half-close: a real daemon does not wait.
        for await (const chunk of queue)
          yield chunk.tag === 2 ? { stderr: chunk.data } : { stdout: chunk.data };
      } finally {
        ctx.signal.removeEventListener("abort", onAbort);
        sub.dispose();
        closeSub.dispose();
      }
    },
  };
}
