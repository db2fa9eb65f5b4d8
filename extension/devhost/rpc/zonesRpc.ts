import { freemem } from "node:os";
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { GetHostStatusReplySchema } from "../../proto/gen/protect/control/v1/control_pb";
import type { ControlService } from "../../proto/gen/protect/control/v1/control_pb";
import type {
  GetHostStatusReply,
  WatchEventsReply,
  ZoneConsoleReply,
} from "../../proto/gen/protect/control/v1/control_pb";
import { ZoneState } from "../../proto/gen/protect/control/v1/common_pb";
import type { Workload, Zone } from "../../proto/gen/protect/control/v1/common_pb";
import type { Event } from "../../core/events";
import { AsyncQueue } from "../../core/asyncQueue";
import { DevHostError } from "../errors";
import type { HostLog } from "../hostLog";
import type { ZoneManager } from "../zones";

/** How many zones (or workloads) go into one streamed List reply. */
export const listBatchSize = 100;

export interface ZonesRpcDeps {
  zones: ZoneManager;
  hostLog: HostLog;
  hostStatus(): { hostUuid: string; version: string; ipv4: string; mac: string };
  workloadEvents?: Event<Workload> | undefined;
}

type Impl = Partial<ServiceImpl<typeof ControlService>>;

/** Host status, the zone RPCs, WatchEvents and the consoles. */
export function zonesRpc(deps: ZonesRpcDeps): Impl {
  const { zones } = deps;
  return {
    getHostStatus(): GetHostStatusReply {
      const s = deps.hostStatus();
      return create(GetHostStatusReplySchema, {
        hostUuid: s.hostUuid,
        hostDomid: 0,
        protectVersion: s.version,
        hostIpv4: s.ipv4,
        hostIpv6: "",
        hostMac: s.mac,
        hypFreeMem: BigInt(freemem()),
      });
    },

    createZone(req) {
      if (!req.spec) throw new DevHostError("invalidArgument", "CreateZone needs a spec");
      return { zoneId: zones.create(req.spec) };
    },

    destroyZone(req) {
      zones.destroy(req.zoneId);
      return {};
    },

    getZone(req) {
      return { zone: zones.get(req.zoneId) };
    },

    resolveZoneId(req) {
      return { zoneId: zones.resolve(req.name)[0] ?? "" };
    },

    resolveZoneIds(req) {
      return { zoneIds: zones.resolve(req.name) };
    },

    async *listZones() {
      const all = zones.list();
      if (all.length === 0) {
        yield { zones: [] };
        return;
      }
      for (let i = 0; i < all.length; i += listBatchSize) yield { zones: all.slice(i, i + listBatchSize) };
    },

    async updateZoneResources(req) {
      if (!req.resources) throw new DevHostError("invalidArgument", "UpdateZoneResources needs resources");
      await zones.updateResources(req.zoneId, req.resources);
      return {};
    },

    readHypervisorConsole() {
      return { data: deps.hostLog.text() };
    },

    async *watchEvents(
      _req,
      ctx,
    ): AsyncGenerator<
      | WatchEventsReply
      | {
          event:
            | { case: "zoneChanged"; value: { zone: Zone } }
            | { case: "workloadChanged"; value: { workload: Workload } };
        }
    > {
      const queue = new AsyncQueue<{
        event:
          | { case: "zoneChanged"; value: { zone: Zone } }
          | { case: "workloadChanged"; value: { workload: Workload } };
      }>();
      const subs = [
        zones.onDidChange((zone) => queue.push({ event: { case: "zoneChanged", value: { zone } } })),
        deps.workloadEvents?.((workload) =>
          queue.push({ event: { case: "workloadChanged", value: { workload } } }),
        ),
      ];
      const onAbort = (): void => queue.end();
      ctx.signal.addEventListener("abort", onAbort);
      try {
        yield* queue;
      } finally {
        ctx.signal.removeEventListener("abort", onAbort);
        for (const s of subs) s?.dispose();
      }
    },

    async *attachZoneConsole(requests, ctx): AsyncGenerator<ZoneConsoleReply | { data: Uint8Array }> {
      const input = requests[Symbol.asyncIterator]();
      const first = await input.next();
      if (first.done) return;
      const zoneId = first.value.zoneId;
      const console = zones.console(zoneId);
      const queue = new AsyncQueue<Buffer>(100_000);
      if (first.value.replayHistory) {
        const history = console.history();
        for (let i = 0; i < history.length; i += 64 * 1024) queue.push(history.subarray(i, i + 64 * 1024));
      }
      const sub = console.onData((d) => queue.push(d));
      const closeSub = console.onClose(() => queue.end());
      if (console.closed) queue.end();
      const onAbort = (): void => queue.end();
      ctx.signal.addEventListener("abort", onAbort);
      const sendInput = (data: Uint8Array): void => {
        if (data.length === 0) return;
        const sandbox = zones.maybeSandbox(zoneId);
        if (sandbox && zones.get(zoneId).status?.state === ZoneState.READY)
          sandbox.writeConsole(Buffer.from(data));
      };
      sendInput(first.value.data);
      void (async () => {
        try {
          for (let next = await input.next(); !next.done; next = await input.next())
            sendInput(next.value.data);
        } catch {
          // the client went away; the output side ends through the abort signal
        }
      })(); // input is pumped alongside the output stream
      try {
        for await (const chunk of queue) yield { data: chunk };
      } finally {
        ctx.signal.removeEventListener("abort", onAbort);
        sub.dispose();
        closeSub.dispose();
      }
    },
  };
}
