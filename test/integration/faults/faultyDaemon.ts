// A fault-injecting Protect daemon: a raw HTTP/2 server on a unix socket that speaks gRPC's
// framing by hand, so it can answer what no well-behaved server library would send — garbage
// instead of protobuf, truncated frames, a message of the wrong type, absurd length prefixes,
// missing trailers, an HTML error page. Each RPC answers according to the fault set for it;
// with no fault set it answers correctly, so a test can check that the client still works
// after a bad reply.
import { create, toBinary } from "@bufbuild/protobuf";
import type { DescMessage, MessageInitShape } from "@bufbuild/protobuf";
import { createServer } from "node:http2";
import type { Http2Server, ServerHttp2Stream } from "node:http2";
import { existsSync, unlinkSync } from "node:fs";
import { ZoneSchema, ZoneState } from "../../../extension/proto/gen/protect/control/v1/common_pb";
import {
  GetHostStatusReplySchema,
  GetZoneReplySchema,
  ListZonesReplySchema,
  WatchEventsReplySchema,
} from "../../../extension/proto/gen/protect/control/v1/control_pb";

/** What a faulty RPC does instead of answering properly. */
export type Fault =
  /** Random bytes framed as one message. */
  | "garbage"
  /** A frame header announcing 200 bytes, followed by 10, then OK trailers. */
  | "truncatedFrame"
  /** Only 3 of the 5 frame-header bytes. */
  | "truncatedHeader"
  /** A well-formed protobuf whose fields have the wrong wire types for the reply. */
  | "wrongType"
  /** A frame header announcing 2 GiB. */
  | "hugeLength"
  /** The compressed flag set, with no grpc-encoding. */
  | "compressedFlag"
  /** A good message, but no grpc-status trailer. */
  | "noTrailers"
  /** HTTP 502 with an HTML body, as a misconfigured proxy answers. */
  | "html502"
  /** content-type application/json on a gRPC call. */
  | "wrongContentType"
  /** The stream is reset (RST_STREAM INTERNAL_ERROR) after the headers. */
  | "reset"
  /** A grpc-status outside the defined codes, with a message full of control characters. */
  | "bogusStatus"
  /** For streams: one good reply, then garbage. */
  | "goodThenGarbage";

/** A running faulty daemon. */
export interface FaultyDaemon {
  readonly socketPath: string;
  /** Sets (or clears, with undefined) the fault of an RPC by method name, e.g. "GetHostStatus". */
  setFault(method: string, fault: Fault | undefined): void;
  /** Requests served so far, by method name. */
  readonly served: ReadonlyMap<string, number>;
  close(): Promise<void>;
}

/** The zones the daemon lists when ListZones is healthy. */
export const healthyZones = [
  create(ZoneSchema, {
    id: "0b0e2a64-3c1b-4c57-9b7d-4f2b9a1d0001",
    spec: { name: "healthy-1" },
    status: { state: ZoneState.READY },
  }),
  create(ZoneSchema, {
    id: "0b0e2a64-3c1b-4c57-9b7d-4f2b9a1d0002",
    spec: { name: "healthy-2" },
    status: { state: ZoneState.FAILED, errorStatus: { message: "it broke" } },
  }),
];

function frame(message: Uint8Array, flag = 0): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt8(flag, 0);
  header.writeUInt32BE(message.length, 1);
  return Buffer.concat([header, message]);
}

function encode<D extends DescMessage>(schema: D, init: MessageInitShape<D>): Uint8Array {
  return toBinary(schema, create(schema, init));
}

/** The correct reply of each RPC the tests call (unary and streamed alike: a list of messages). */
function goodReplies(method: string): Uint8Array[] | undefined {
  switch (method) {
    case "GetHostStatus":
      return [encode(GetHostStatusReplySchema, { hostUuid: "faulty-host", protectVersion: "0.0.0-faulty" })];
    case "GetZone":
      return [encode(GetZoneReplySchema, { zone: healthyZones[0]! })];
    case "ListZones":
      return healthyZones.map((z) => encode(ListZonesReplySchema, { zones: [z] }));
    case "ListWorkloads":
      return [];
    case "WatchEvents":
      return undefined; // held open: the healthy watch just waits
    default:
      return undefined;
  }
}

/**
 * Field 1 of every reply the tests use is a string or a message (length-delimited); sending it
 * as a 64-bit fixed value is a wire-type mismatch the decoder must reject.
 */
const wrongTypeBytes = Buffer.from([0x09, 1, 2, 3, 4, 5, 6, 7, 8, 0x10, 0x01]);

/** Starts the daemon on `socketPath` (removed first if stale). */
export async function startFaultyDaemon(socketPath: string): Promise<FaultyDaemon> {
  const faults = new Map<string, Fault>();
  const served = new Map<string, number>();
  const streams = new Set<ServerHttp2Stream>();
  if (existsSync(socketPath)) unlinkSync(socketPath);
  const server: Http2Server = createServer();
  server.on("stream", (stream, headers) => {
    const path = String(headers[":path"] ?? "");
    const method = path.split("/").pop() ?? "";
    served.set(method, (served.get(method) ?? 0) + 1);
    streams.add(stream);
    stream.on("close", () => streams.delete(stream));
    stream.on("error", () => {});
    // Unary and server-streaming requests are one message: answer once the request has ended.
    stream.resume();
    stream.on("end", () => answer(stream, method, faults.get(method)));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => resolve());
  });
  return {
    socketPath,
    setFault(method, fault) {
      if (fault) faults.set(method, fault);
      else faults.delete(method);
    },
    served,
    async close() {
      for (const s of streams) s.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (existsSync(socketPath)) unlinkSync(socketPath);
    },
  };
}

const grpcHeaders = { ":status": 200, "content-type": "application/grpc+proto" };

function answer(stream: ServerHttp2Stream, method: string, fault: Fault | undefined): void {
  if (stream.destroyed) return;
  const good = goodReplies(method);
  const withTrailers = (body: Buffer, status = "0", message?: string): void => {
    stream.respond(grpcHeaders, { waitForTrailers: true });
    stream.on("wantTrailers", () =>
      stream.sendTrailers({
        "grpc-status": status,
        ...(message !== undefined ? { "grpc-message": message } : {}),
      }),
    );
    stream.end(body);
  };
  switch (fault) {
    case undefined:
      if (good === undefined) {
        if (method === "WatchEvents") {
          stream.respond(grpcHeaders, { waitForTrailers: true });
          stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
          return; // open until the client goes
        }
        withTrailers(Buffer.alloc(0), "12", `${method} is not implemented by the faulty daemon`);
        return;
      }
      withTrailers(Buffer.concat(good.map((m) => frame(m))));
      return;
    case "garbage": {
      const junk = Buffer.alloc(64);
      for (let i = 0; i < junk.length; i++) junk[i] = (i * 37 + 0xf7) & 0xff;
      withTrailers(frame(junk));
      return;
    }
    case "truncatedFrame": {
      const header = Buffer.alloc(5);
      header.writeUInt32BE(200, 1);
      withTrailers(Buffer.concat([header, Buffer.alloc(10, 0x0a)]));
      return;
    }
    case "truncatedHeader":
      withTrailers(Buffer.from([0, 0, 0]));
      return;
    case "wrongType":
      withTrailers(frame(wrongTypeBytes));
      return;
    case "hugeLength": {
      const header = Buffer.alloc(5);
      header.writeUInt32BE(0x80000000, 1);
      withTrailers(Buffer.concat([header, Buffer.alloc(1024)]));
      return;
    }
    case "compressedFlag":
      withTrailers(frame((good ?? [new Uint8Array()])[0] ?? new Uint8Array(), 1));
      return;
    case "noTrailers":
      stream.respond(grpcHeaders);
      stream.end(frame((good ?? [new Uint8Array()])[0] ?? new Uint8Array()));
      return;
    case "html502":
      stream.respond({ ":status": 502, "content-type": "text/html" });
      stream.end("<html><body><h1>502 Bad Gateway</h1></body></html>");
      return;
    case "wrongContentType":
      stream.respond({ ":status": 200, "content-type": "application/json" });
      stream.end('{"hello":"world"}');
      return;
    case "reset":
      stream.respond(grpcHeaders);
      stream.write(Buffer.from([0, 0]));
      setTimeout(() => stream.close(2 /* INTERNAL_ERROR */), 20);
      return;
    case "bogusStatus":
      withTrailers(Buffer.alloc(0), "999", "\u001b[31mred\u0007\r\nsecond line");
      return;
    case "goodThenGarbage": {
      const first = (good ?? [
        encode(WatchEventsReplySchema, { event: { case: "zoneChanged", value: { zone: healthyZones[0]! } } }),
      ])[0]!;
      stream.respond(grpcHeaders, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      stream.write(frame(first));
      setTimeout(() => stream.end(frame(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]))), 20);
      return;
    }
  }
}
