import assert from "node:assert/strict";
import { connect, createServer } from "node:net";
import type { Server } from "node:net";
import { test } from "node:test";
import { Code, ConnectError, createRouterTransport } from "@connectrpc/connect";
import { protectDialer } from "../../../extension/core/forward/dialers";
import { ForwardError, parseForwardArg } from "../../../extension/core/forward/errors";
import { ForwardSet, PortForward } from "../../../extension/core/forward/portForward";
import { ProtectError } from "../../../extension/core/protect/errors";
import type { DialRpc } from "../../../extension/core/forward/dialers";
import { ProtectHost } from "../../../extension/core/protect/host";
import { ControlService } from "../../../extension/proto/gen/protect/control/v1/control_pb";
import type { DialNetworkSocketRequest } from "../../../extension/proto/gen/protect/control/v1/control_pb";

/**
 * A fake daemon's DialNetworkSocket behind a real ProtectHost (an in-memory Connect transport):
 * answers each chunk upper-cased, ends when the client half-closes.
 */
function fakeClient(options: { refuse?: boolean } = {}): {
  client: DialRpc;
  starts: { zoneId: string; address: string; port: number }[];
} {
  const starts: { zoneId: string; address: string; port: number }[] = [];
  const transport = createRouterTransport(({ service }) =>
    service(ControlService, {
      async *dialNetworkSocket(requests: AsyncIterable<DialNetworkSocketRequest>) {
        for await (const req of requests) {
          if (req.request.case === "start") {
            starts.push({
              zoneId: req.request.value.zoneId,
              address: req.request.value.address,
              port: req.request.value.port,
            });
            if (options.refuse)
              throw new ConnectError(
                "cannot connect to 127.0.0.1:9 in zone z: Connection refused",
                Code.Unavailable,
              );
          } else if (req.request.case === "data") {
            yield {
              data: {
                content: Buffer.from(Buffer.from(req.request.value.content).toString("utf8").toUpperCase()),
              },
            };
          }
        }
      },
    }),
  );
  return { client: ProtectHost.overTransport("unix:///fake/daemon.socket", transport), starts };
}

function request(port: number, payload: string, halfClose: boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let out = "";
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => {
      out += d;
      if (!halfClose && out.length >= payload.length) socket.end();
    });
    socket.on("error", reject);
    socket.on("close", () => resolve(out));
    socket.write(payload);
    if (halfClose) socket.end();
  });
}

test("parseForwardArg: PORT, PORT:LOCAL, PORT:0; anything else is refused", () => {
  assert.deepEqual(parseForwardArg("8080"), { zonePort: 8080, localPort: 8080 });
  assert.deepEqual(parseForwardArg("8080:18080"), { zonePort: 8080, localPort: 18080 });
  assert.deepEqual(parseForwardArg("22:0"), { zonePort: 22, localPort: 0 });
  for (const bad of ["", "0", "70000", "a:b", "1:2:3", "-1", "80:"])
    assert.throws(
      () => parseForwardArg(bad),
      (e: unknown) => ForwardError.is(e, "invalidSpec"),
      bad,
    );
});

test("a forward carries bytes both ways through DialNetworkSocket, and half-close ends the exchange", async () => {
  const { client, starts } = fakeClient();
  const forward = await PortForward.open(
    { localPort: 0, remote: "zone:8080" },
    protectDialer(client, "zone-id", "127.0.0.1", 8080),
  );
  try {
    const { localPort, localAddress } = forward.info;
    assert.equal(localAddress, "127.0.0.1", "listens on loopback only");
    assert.equal(await request(localPort, "hello zone", true), "HELLO ZONE");
    // Two connections at once: each gets its own stream.
    const [a, b] = await Promise.all([request(localPort, "first", true), request(localPort, "second", true)]);
    assert.deepEqual([a, b], ["FIRST", "SECOND"]);
    assert.deepEqual(starts[0], { zoneId: "zone-id", address: "127.0.0.1", port: 8080 });
    assert.equal(forward.info.accepted, 3);
  } finally {
    await forward.close();
  }
});

test("a refused connection in the zone closes the local socket and is reported", async () => {
  const { client } = fakeClient({ refuse: true });
  const forward = await PortForward.open(
    { localPort: 0, remote: "zone:9" },
    protectDialer(client, "z", "127.0.0.1", 9),
  );
  const failures: Error[] = [];
  forward.onDidFail((f) => failures.push(f.error));
  try {
    assert.equal(await request(forward.info.localPort, "x", false), "");
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(failures.length, 1);
    assert.ok(ProtectError.is(failures[0], "unreachable"));
    assert.match(failures[0].message, /Connection refused/);
  } finally {
    await forward.close();
  }
});

test("a local port in use is a typed error; closing a set stops every listener", async () => {
  const blocker: Server = createServer();
  await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", () => r()));
  const port = (blocker.address() as { port: number }).port;
  const { client } = fakeClient();
  try {
    await assert.rejects(
      PortForward.open({ localPort: port, remote: "zone:80" }, protectDialer(client, "z", "127.0.0.1", 80)),
      (e: unknown) => ForwardError.is(e, "portInUse"),
    );
  } finally {
    blocker.close();
  }
  const set = new ForwardSet();
  const f = set.add(
    await PortForward.open({ localPort: 0, remote: "zone:80" }, protectDialer(client, "z", "127.0.0.1", 80)),
  );
  const p = f.info.localPort;
  assert.equal(set.list().length, 1);
  await set.closeAll();
  await assert.rejects(
    new Promise((resolve, reject) => connect(p, "127.0.0.1").on("connect", resolve).on("error", reject)),
  );
});

/**
 * A daemon whose zone-side server says its piece and closes the connection without reading
 * what the client sends: the reply stream ends, the request stream is no longer pulled.
 */
function closingClient(greeting: string): DialRpc {
  return {
    name: "fake",
    async *dialNetworkSocket(requests: AsyncIterable<unknown>) {
      const it = requests[Symbol.asyncIterator]();
      await it.next(); // start
      yield { data: { content: Buffer.from(greeting) } };
    },
  } as unknown as DialRpc;
}

test("after the host ends the stream, the stream closes once read, and a later write fails instead of waiting for ever", async () => {
  const stream = await protectDialer(closingClient("bye"), "z", "127.0.0.1", 80)();
  const received: Buffer[] = [];
  stream.on("data", (d: Buffer) => received.push(d));
  const errors: Error[] = [];
  stream.on("error", (e: Error) => errors.push(e));
  await new Promise((r) => stream.once("end", r));
  assert.equal(Buffer.concat(received).toString(), "bye");
  const written = await Promise.race([
    new Promise<Error | null | undefined>((r) => stream.write(Buffer.alloc(1024), r)),
    new Promise<"hung">((r) => setTimeout(() => r("hung"), 2_000)),
  ]);
  assert.notEqual(written, "hung", "the write never completed after the host ended the stream");
  // Closed by now: Node's own ERR_STREAM_DESTROYED, as for a socket whose peer left.
  assert.ok(written instanceof Error, "a write after the host ended the stream was reported as delivered");
  if (!stream.destroyed) await new Promise((r) => stream.once("close", r));
  assert.deepEqual(errors, [], "an ordinary close by the far side is not a stream error");
});

test("a write already waiting when the host ends the stream fails too", async () => {
  let end: () => void = () => undefined;
  const client = {
    name: "fake",
    async *dialNetworkSocket(requests: AsyncIterable<unknown>) {
      const it = requests[Symbol.asyncIterator]();
      await it.next(); // start; data is never taken
      await new Promise<void>((r) => (end = r));
      yield* []; // ends without a reply
    },
  } as unknown as DialRpc;
  const stream = await protectDialer(client, "z", "127.0.0.1", 80)();
  stream.resume();
  const written = new Promise<Error | null | undefined>((r) => stream.write(Buffer.from("never taken"), r));
  await new Promise((r) => setTimeout(r, 20));
  end();
  const outcome = await Promise.race([
    written,
    new Promise<"hung">((r) => setTimeout(() => r("hung"), 2_000)),
  ]);
  assert.ok(ProtectError.is(outcome, "lost"), `the waiting write ended as ${String(outcome)}`);
  assert.match((outcome as Error).message, /11 byte\(s\) written were not delivered/);
});

test("through a forward: the local client gets the host's last bytes, then its connection closes although it keeps sending", async () => {
  const forward = await PortForward.open(
    { localPort: 0, remote: "zone:80" },
    protectDialer(closingClient("goodbye"), "z", "127.0.0.1", 80),
  );
  const failures: Error[] = [];
  forward.onDidFail((f) => failures.push(f.error));
  try {
    // Half-open allowed: the client's EOF from us must not close its side on its own.
    const socket = connect({ port: forward.info.localPort, host: "127.0.0.1", allowHalfOpen: true });
    socket.on("error", () => undefined); // a reset is a fine way to learn the peer is gone
    let got = "";
    socket.setEncoding("utf8").on("data", (d: string) => (got += d));
    // The client keeps its write side open and keeps talking, as a pipelining client would.
    const talker = setInterval(() => socket.writable && socket.write("more\n"), 5);
    try {
      const closed = await Promise.race([
        new Promise<true>((r) => socket.once("close", () => r(true))),
        new Promise<false>((r) => setTimeout(() => r(false), 3_000)),
      ]);
      assert.ok(closed, "the local connection stayed open after the host ended the stream");
    } finally {
      clearInterval(talker);
    }
    assert.equal(got, "goodbye");
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(forward.info.connections, 0);
    assert.deepEqual(failures, []);
  } finally {
    await forward.close();
  }
});

test("through a forward: a large last reply reaches a slow local client whole before its connection closes", async () => {
  const size = 16 * 2 ** 20;
  const forward = await PortForward.open(
    { localPort: 0, remote: "zone:80" },
    protectDialer(closingClient("x".repeat(size)), "z", "127.0.0.1", 80),
  );
  try {
    const socket = connect({ port: forward.info.localPort, host: "127.0.0.1" });
    socket.on("error", () => undefined);
    socket.pause(); // slow reader: the forward has to hold what the host sent
    await new Promise((r) => setTimeout(r, 200));
    let got = 0;
    socket.on("data", (d: Buffer) => (got += d.length));
    socket.resume();
    await new Promise((r) => socket.once("close", r));
    assert.equal(got, size, "the tail of the reply was dropped when the connection closed");
  } finally {
    await forward.close();
  }
});
