// Commands, terminals and panels ask HostAccess for a host's ProtectHost: while the host
// (re)connects they wait, and they learn the outcome from the model's changes as they happen.
// The clock is mocked and never advanced: an answer that needed a timer to fire would hang.
import assert from "node:assert/strict";
import { afterEach, beforeEach, mock, test } from "node:test";
import { ProtectError } from "../../../extension/core/protect/errors";
import type { ProtectHost } from "../../../extension/core/protect/host";
import { HostAccess } from "../../../extension/vscode/hostAccess";
import type { HostConnections } from "../../../extension/vscode/hostConnections";
import { parseHostEntry } from "../../../extension/vscode/model/hostEntry";
import { ZonesModel } from "../../../extension/vscode/model/zonesModel";

const hostId = "unix:///run/dev.socket";
const protect = { name: hostId } as unknown as ProtectHost;
const info = { version: "1.0", devHost: true };

function setup(): { model: ZonesModel; access: HostAccess } {
  const model = new ZonesModel();
  model.setHosts([parseHostEntry(hostId)]);
  const connections = {
    session: (id: string) =>
      id === hostId && model.host(id)?.connection.kind === "connected" ? { protect } : undefined,
  } as unknown as HostConnections;
  return { model, access: new HostAccess(model, connections) };
}

beforeEach(() => mock.timers.enable({ apis: ["setTimeout"] }));
afterEach(() => mock.timers.reset());

test("a host that is reconnecting is handed over the moment the model says it is connected", async () => {
  const { model, access } = setup();
  model.setConnection(hostId, { kind: "connecting", attempt: 2 });
  const waiting = access.wait(hostId);
  model.setConnection(hostId, { kind: "failed", message: "refused", retryAt: Date.now() + 1000 });
  model.setConnection(hostId, { kind: "connected", info, since: Date.now() });
  assert.equal(await waiting, protect);
});

test("a host that gives up, or is removed, while waited for is reported at once with the reason", async () => {
  const { model, access } = setup();
  model.setConnection(hostId, { kind: "connecting", attempt: 1 });
  const failing = access.wait(hostId);
  model.setConnection(hostId, { kind: "failed", message: "host key changed" });
  await assert.rejects(
    failing,
    (e: unknown) => ProtectError.is(e, "unreachable") && /host key changed/.test((e as Error).message),
  );

  model.setConnection(hostId, { kind: "connecting", attempt: 1 });
  const removed = access.wait(hostId);
  model.setHosts([]);
  await assert.rejects(
    removed,
    (e: unknown) => ProtectError.is(e, "unreachable") && /not configured/.test(`${e}`),
  );
});

test("a connected host is returned without waiting; a disconnected one is refused; abort cancels", async () => {
  const { model, access } = setup();
  model.setConnection(hostId, { kind: "disconnected" });
  await assert.rejects(access.wait(hostId), (e: unknown) => ProtectError.is(e, "unreachable"));
  model.setConnection(hostId, { kind: "connected", info, since: 0 });
  assert.equal(await access.wait(hostId), protect);

  model.setConnection(hostId, { kind: "connecting", attempt: 1 });
  const abort = new AbortController();
  const cancelled = access.wait(hostId, abort.signal);
  abort.abort();
  await assert.rejects(cancelled, (e: unknown) => ProtectError.is(e, "cancelled"));
});

test("the wait is bounded: a host still connecting after the timeout is reported as not connected", async () => {
  const { model, access } = setup();
  model.setConnection(hostId, { kind: "connecting", attempt: 1 });
  const waiting = access.wait(hostId, undefined, 5_000);
  mock.timers.tick(5_000);
  await assert.rejects(waiting, (e: unknown) => ProtectError.is(e, "unreachable"));
});
