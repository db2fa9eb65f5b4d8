// A small Protect-shaped gRPC server for the transport tests: Connect's node adapter on real
// HTTP/2 on a real unix socket, in its own process. It answers the way a strict protect-daemon
// may: a bidi stream ends right after its last reply, whether or not the client has closed its
// request side (no grace period, unlike the dev host).
//
//   node --import tsx test/integration/transport/fixtureServer.ts <socket path>
// prints "listening" once it serves, and exits on SIGTERM.
//
// ExecuteZoneCommand's argv picks the behaviour:
//   exit <code> <n> [bytes]  n output replies of `bytes` bytes, then `exited`, then the stream ends
//   echo                     stdin comes back as stdout until the client closes stdin, then exit 0
// Methods not served here answer UNIMPLEMENTED (Connect does that for missing handlers).
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as http2 from "node:http2";
import type { Socket } from "node:net";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { ServiceImpl } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { ZoneState } from "../../../extension/proto/gen/protect/control/v1/common_pb";
import type { ExecuteZoneCommandReplySchema } from "../../../extension/proto/gen/protect/control/v1/control_pb";
import { ControlService } from "../../../extension/proto/gen/protect/control/v1/control_pb";
import { spawnGroup } from "../../harness/processGroup";

type ExecReply = MessageInitShape<typeof ExecuteZoneCommandReplySchema>;

/** The host uuid the fixture reports, so a client can tell it answered. */
export const fixtureHostUuid = "00000000-0000-4000-8000-00000000f1c5";

/** Zones ListZones streams, in three replies (several DATA frames per response). */
export const fixtureZoneCount = 9;

function zone(i: number) {
  return {
    id: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
    spec: { name: `zone-${i}` },
    status: { state: ZoneState.READY },
  };
}

function pattern(i: number, bytes: number): Uint8Array {
  // Each reply's bytes are distinguishable, so a client can check order and integrity.
  return new Uint8Array(bytes).fill(i % 251);
}

const impl: Partial<ServiceImpl<typeof ControlService>> = {
  getHostStatus() {
    return { hostUuid: fixtureHostUuid, protectVersion: "transport-fixture" };
  },
  getZone(req) {
    const i = Number(/(\d+)$/.exec(req.zoneId)?.[1] ?? "0");
    return { zone: zone(i) };
  },
  async *listZones() {
    for (let batch = 0; batch < 3; batch++) {
      yield { zones: [0, 1, 2].map((k) => zone(batch * 3 + k)) };
    }
  },
  async *executeZoneCommand(requests) {
    const input = requests[Symbol.asyncIterator]();
    const first = await input.next();
    if (first.done || first.value.request.case !== "start")
      throw new ConnectError("the first request must be start", Code.InvalidArgument);
    const argv = first.value.request.value.process?.command ?? [];
    if (argv[0] === "exit") {
      const code = Number(argv[1] ?? 0);
      const n = Number(argv[2] ?? 1);
      const bytes = Number(argv[3] ?? 16);
      for (let i = 0; i < n; i++)
        yield { reply: { case: "output", value: { stdout: pattern(i, bytes) } } } satisfies ExecReply;
      yield { reply: { case: "exited", value: { exitCode: code } } } satisfies ExecReply;
      // Returning here ends the response while the client's request side may still be open.
      return;
    }
    if (argv[0] === "echo") {
      for (let next = await input.next(); !next.done; next = await input.next()) {
        const r = next.value.request;
        if (r.case !== "stdin") continue;
        if (r.value.stdin.length)
          yield { reply: { case: "output", value: { stdout: r.value.stdin } } } satisfies ExecReply;
        if (r.value.closed) break;
      }
      yield { reply: { case: "exited", value: { exitCode: 0 } } } satisfies ExecReply;
      return;
    }
    throw new ConnectError(`the fixture has no command '${argv[0] ?? ""}'`, Code.InvalidArgument);
  },
};

/** A running fixture server. */
export interface FixtureServer {
  readonly socketPath: string;
  /** Stops the server process and removes its directory. Idempotent. */
  stop(): Promise<void>;
}

/** Starts the fixture in its own process (this Node), on a socket in a fresh 0700 directory. */
export async function startFixtureServer(): Promise<FixtureServer> {
  const dir = mkdtempSync(join(tmpdir(), "zones-transport-"));
  const socketPath = join(dir, "daemon.socket");
  let output = "";
  let ready!: () => void;
  const listening = new Promise<void>((r) => (ready = r));
  const group = spawnGroup(process.execPath, ["--import", "tsx", import.meta.filename, socketPath], {
    label: "transport fixture server",
    env: { ...process.env, NODE_OPTIONS: "" },
    onLine: (line) => {
      output += `${line}\n`;
      if (line === "listening") ready();
    },
  });
  const stop = async (): Promise<void> => {
    await group.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  const started = await Promise.race([
    listening.then(() => true),
    group.exited.then(() => false),
    new Promise<boolean>((r) => setTimeout(() => r(false), 20_000).unref()),
  ]);
  if (!started) {
    await stop();
    throw new Error(`the transport fixture server did not start:\n${output}`);
  }
  return { socketPath, stop };
}

async function main(): Promise<void> {
  const socketPath = process.argv[2];
  if (!socketPath) throw new Error("usage: fixtureServer.ts <socket path>");
  const sockets = new Set<Socket>();
  const server = http2.createServer(
    {},
    connectNodeAdapter({ routes: (router) => router.service(ControlService, impl) }),
  );
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  rmSync(socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, resolve);
  });
  chmodSync(socketPath, 0o600);
  const stop = (): void => {
    server.close();
    for (const s of sockets) s.destroy();
    rmSync(socketPath, { force: true });
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  process.stdout.write("listening\n");
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
