/**
 * The connection owner against a scripted host (the HostConnector port faked; the real one is
 * exercised in the integration and e2e tiers): connect → list → follow events, reconnect and
 * reconcile after a loss, final errors not retried, bounded retries with backoff.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Emitter } from "../../../extension/core/events";
import { SshError } from "../../../extension/core/ssh/errors";
import { ZoneState } from "../../../extension/proto/gen/protect/control/v1/common_pb";
import type { Workload, Zone } from "../../../extension/proto/gen/protect/control/v1/common_pb";
import { backoffMs, HostConnections } from "../../../extension/vscode/hostConnections";
import { parseHostEntry } from "../../../extension/vscode/model/hostEntry";
import type { HostConnector, HostEvent, HostSession } from "../../../extension/vscode/model/hostSession";
import { parseSettings } from "../../../extension/vscode/settingsSchema";
import type { ZonesSettings } from "../../../extension/vscode/settingsSchema";
import { ZonesModel } from "../../../extension/vscode/model/zonesModel";
import { silentLogger } from "../../../extension/core/log";
import { zone } from "./fixtures";

/** A host whose zones and event stream the test controls. */
class ScriptedHost {
  zones: Zone[] = [];
  workloads: Workload[] = [];
  connects = 0;
  failNext: Error[] = [];
  sessions: ScriptedSession[] = [];

  connector: HostConnector = {
    connect: async () => {
      this.connects++;
      const err = this.failNext.shift();
      if (err) throw err;
      const session = new ScriptedSession(this);
      this.sessions.push(session);
      return session;
    },
  };
}

class ScriptedSession implements HostSession {
  readonly info = { version: "test 1", devHost: true };
  readonly protect = undefined;
  readonly #disconnect = new Emitter<Error>();
  readonly onDidDisconnect = this.#disconnect.event;
  #push: ((e: HostEvent | Error) => void) | undefined;
  readonly #queue: (HostEvent | Error)[] = [];
  disposed = false;

  constructor(private readonly host: ScriptedHost) {}

  async listZones(): Promise<Zone[]> {
    return [...this.host.zones];
  }

  async listWorkloads(): Promise<Workload[]> {
    return [...this.host.workloads];
  }

  async *watch(signal: AbortSignal): AsyncIterable<HostEvent> {
    yield { kind: "resync", zones: [...this.host.zones], workloads: [...this.host.workloads] };
    while (!signal.aborted) {
      const next =
        this.#queue.shift() ?? (await new Promise<HostEvent | Error>((resolve) => (this.#push = resolve)));
      this.#push = undefined;
      if (next instanceof Error) throw next;
      yield next;
    }
  }

  emit(event: HostEvent | Error): void {
    if (this.#push) this.#push(event);
    else this.#queue.push(event);
  }

  lose(err: Error): void {
    this.#disconnect.fire(err);
  }

  dispose(): void {
    this.disposed = true;
  }
}

function settings(overrides: Partial<{ maxAttempts: number }> = {}): ZonesSettings {
  const base = parseSettings(() => undefined).settings;
  return {
    ...base,
    reconnect: { maxAttempts: overrides.maxAttempts ?? base.reconnect.maxAttempts, maxDelaySeconds: 1 },
  };
}

async function until(what: string, probe: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const hostId = "unix:///run/test.socket";

function start(host: ScriptedHost, s: ZonesSettings = settings(), fatal: unknown[] = []) {
  const model = new ZonesModel();
  const connections = new HostConnections({
    model,
    connector: host.connector,
    settings: () => s,
    prompts: {
      confirmUnknownHostKey: async () => false,
      askPassphrase: async () => undefined,
      askPassword: async () => undefined,
    },
    log: silentLogger,
    onFatalError: (_entry, err) => fatal.push(err),
  });
  connections.sync([parseHostEntry(hostId)]);
  return { model, connections };
}

test("connects, lists, then follows events without polling", async () => {
  const host = new ScriptedHost();
  host.zones = [zone("z1", "alpha")];
  const { model, connections } = start(host);
  try {
    await until("connected", () => model.host(hostId)?.connection.kind === "connected");
    assert.deepEqual(
      model.zones(hostId).map((z) => z.id),
      ["z1"],
    );
    host.sessions[0]!.emit({ kind: "zone", zone: zone("z2", "beta", ZoneState.CREATING) });
    await until("the new zone", () => model.zone(hostId, "z2") !== undefined);
    host.sessions[0]!.emit({ kind: "zone", zone: zone("z1", "alpha", ZoneState.DESTROYED) });
    await until("the destroyed zone gone", () => model.zone(hostId, "z1") === undefined);
    assert.equal(host.connects, 1);
  } finally {
    connections.dispose();
  }
});

test("after a lost connection it reconnects and reconciles with a fresh list", async () => {
  const host = new ScriptedHost();
  host.zones = [zone("z1", "alpha"), zone("z2", "beta")];
  const { model, connections } = start(host);
  try {
    await until("connected", () => model.host(hostId)?.connection.kind === "connected");
    // While we were away z1 was destroyed and z3 created; no event will say so.
    host.zones = [zone("z2", "beta"), zone("z3", "gamma")];
    host.sessions[0]!.lose(new SshError("lost", "connection reset"));
    await until(
      "second session listed",
      () => host.sessions.length === 2 && model.zone(hostId, "z3") !== undefined,
    );
    assert.deepEqual(
      model.zones(hostId).map((z) => z.id),
      ["z2", "z3"],
    );
    assert.equal(host.sessions[0]!.disposed, true, "the lost session is disposed");
  } finally {
    connections.dispose();
  }
});

test("a changed host key is final: no retry, and the user is told", async () => {
  const host = new ScriptedHost();
  const changed = new SshError("hostKeyChanged", "host key changed", {
    knownHostsFile: "/k",
    knownHostsLine: 3,
  });
  host.failNext = [changed];
  const fatal: unknown[] = [];
  const { model, connections } = start(host, settings(), fatal);
  try {
    await until("failed", () => model.host(hostId)?.connection.kind === "failed");
    await new Promise((r) => setTimeout(r, 1200));
    assert.equal(host.connects, 1, "never retried");
    const c = model.host(hostId)?.connection;
    assert.equal(c?.kind === "failed" && c.reason, "hostKeyChanged");
    assert.equal(c?.kind === "failed" && c.retryAt, undefined);
    assert.deepEqual(fatal, [changed]);
  } finally {
    connections.dispose();
  }
});

test("transient failures retry with backoff, up to the configured attempts", async () => {
  const host = new ScriptedHost();
  host.failNext = [
    new SshError("connectFailed", "refused"),
    new SshError("connectFailed", "refused"),
    new SshError("connectFailed", "refused"),
  ];
  const { model, connections } = start(host, settings({ maxAttempts: 2 }));
  try {
    await until("retrying", () => {
      const c = model.host(hostId)?.connection;
      return c?.kind === "failed" && c.retryAt !== undefined;
    });
    await until("given up", () => {
      const c = model.host(hostId)?.connection;
      return host.connects === 3 && c?.kind === "failed" && c.retryAt === undefined;
    });
    // Retry (the user's) starts over and succeeds now.
    connections.connect(hostId);
    await until("connected", () => model.host(hostId)?.connection.kind === "connected");
    assert.equal(host.connects, 4);
  } finally {
    connections.dispose();
  }
});

test("an event stream that dies at once backs off instead of spinning", async () => {
  const host = new ScriptedHost();
  const { model, connections } = start(host, settings({ maxAttempts: 1 }));
  try {
    await until("connected", () => model.host(hostId)?.connection.kind === "connected");
    host.sessions[0]!.emit(new Error("UNIMPLEMENTED: WatchEvents"));
    await until(
      "reconnected once",
      () => host.sessions.length === 2 && model.host(hostId)?.connection.kind === "connected",
    );
    host.sessions[1]!.emit(new Error("UNIMPLEMENTED: WatchEvents"));
    await until("given up", () => {
      const c = model.host(hostId)?.connection;
      return c?.kind === "failed" && c.retryAt === undefined;
    });
    assert.equal(host.connects, 2);
  } finally {
    connections.dispose();
  }
});

test("disconnect closes the session and stops; removing the host from settings does too", async () => {
  const host = new ScriptedHost();
  const { model, connections } = start(host);
  try {
    await until("connected", () => model.host(hostId)?.connection.kind === "connected");
    connections.disconnect(hostId);
    assert.equal(model.host(hostId)?.connection.kind, "disconnected");
    await until("session disposed", () => host.sessions[0]!.disposed);
    connections.connect(hostId);
    await until("connected again", () => model.host(hostId)?.connection.kind === "connected");
    connections.sync([]);
    await until("second session disposed", () => host.sessions[1]!.disposed);
    assert.equal(model.hosts().length, 0);
  } finally {
    connections.dispose();
  }
});

test("an interruption the session recovers from shows as connecting, then reconciles on resync", async () => {
  const host = new ScriptedHost();
  host.zones = [zone("z1", "alpha")];
  const { model, connections } = start(host);
  try {
    await until("connected", () => model.host(hostId)?.connection.kind === "connected");
    host.sessions[0]!.emit({ kind: "interrupted", error: new Error("stream reset") });
    await until("connecting", () => model.host(hostId)?.connection.kind === "connecting");
    host.sessions[0]!.emit({ kind: "resync", zones: [zone("z2", "beta")], workloads: [] });
    await until("connected again", () => model.host(hostId)?.connection.kind === "connected");
    assert.deepEqual(
      model.zones(hostId).map((z) => z.id),
      ["z2"],
    );
    assert.equal(host.connects, 1, "the same session carried on");
  } finally {
    connections.dispose();
  }
});

test("backoff doubles from 1 s up to the cap", () => {
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6].map((n) => backoffMs(n, 10)),
    [1000, 2000, 4000, 8000, 10000, 10000],
  );
});
