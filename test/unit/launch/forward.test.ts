import assert from "node:assert/strict";
import { connect, createServer } from "node:net";
import type { Server } from "node:net";
import { test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { protectDialer } from "../../../extension/core/forward/dialers";
import { ForwardError, parseForwardArg } from "../../../extension/core/forward/errors";
import { ForwardSet, PortForward } from "../../../extension/core/forward/portForward";
import { ProtectError } from "../../../extension/core/protect/errors";
import type { ControlClient } from "../../../extension/core/protect/host";
import type { DialNetworkSocketRequest } from "../../../extension/proto/gen/protect/control/v1/control_pb";

/** A fake daemon's DialNetworkSocket: answers each chunk upper-cased, ends when the client half-closes. */
function fakeClient(options: { refuse?: boolean } = {}): { client: ControlClient; starts: { zoneId: string; address: string; port: number }[] } {
  const starts: { zoneId: string; address: string; port: number }[] = [];
  const client = {
    async *dialNetworkSocket(requests: AsyncIterable<{ request: { case: string; value: unknown } }>) {
      for await (const req of requests as AsyncIterable<DialNetworkSocketRequest>) {
        if (req.request.case === "start") {
          starts.push({ zoneId: req.request.value.zoneId, address: req.request.value.address, port: req.request.value.port });
          if (options.refuse) throw new ConnectError("cannot connect to 127.0.0.1:9 in zone z: Connection refused", Code.Unavailable);
        } else if (req.request.case === "data") {
          yield { data: { content: Buffer.from(Buffer.from(req.request.value.content).toString("utf8").toUpperCase()) } };
        }
      }
    },
  } as unknown as ControlClient;
  return { client, starts };
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
  for (const bad of ["", "0", "70000", "a:b", "1:2:3", "-1", "80:"]) assert.throws(() => parseForwardArg(bad), (e: unknown) => ForwardError.is(e, "invalidSpec"), bad);
});

test("a forward carries bytes both ways through DialNetworkSocket, and half-close ends the exchange", async () => {
  const { client, starts } = fakeClient();
  const forward = await PortForward.open({ localPort: 0, remote: "zone:8080" }, protectDialer(client, "zone-id", "127.0.0.1", 8080, "fake"));
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
  const forward = await PortForward.open({ localPort: 0, remote: "zone:9" }, protectDialer(client, "z", "127.0.0.1", 9, "fake"));
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
    await assert.rejects(PortForward.open({ localPort: port, remote: "zone:80" }, protectDialer(client, "z", "127.0.0.1", 80)), (e: unknown) => ForwardError.is(e, "portInUse"));
  } finally {
    blocker.close();
  }
  const set = new ForwardSet();
  const f = set.add(await PortForward.open({ localPort: 0, remote: "zone:80" }, protectDialer(client, "z", "127.0.0.1", 80)));
  const p = f.info.localPort;
  assert.equal(set.list().length, 1);
  await set.closeAll();
  await assert.rejects(new Promise((resolve, reject) => connect(p, "127.0.0.1").on("connect", resolve).on("error", reject)));
});
