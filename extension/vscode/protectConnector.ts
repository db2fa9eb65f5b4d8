/**
 * Adapts core/protect's ProtectHost to the extension's HostConnector port: settings become
 * ProtectHost options, VS Code prompts become SSH callbacks, and ProtectHost's reconnect-proof
 * watch becomes the session's event stream. No protocol code lives here.
 */
import { Emitter } from "../core/events";
import type { ProtectHost } from "../core/protect/host";
import type { HostEvent as ProtectHostEvent } from "../core/protect/host";
import type { SshCallbacks } from "../core/ssh/connection";
import type { SshConnectionState } from "../core/ssh/managed";
import type { GetHostStatusReply } from "../proto/gen/protect/control/v1/control_pb";
import type { Workload, Zone } from "../proto/gen/protect/control/v1/common_pb";
import type { HostEntry } from "./model/hostEntry";
import type {
  ConnectOptions,
  ConnectPrompts,
  HostConnector,
  HostEvent,
  HostInfo,
  HostSession,
} from "./model/hostSession";

/** The dev host says what it is in protect_version (`devhost-<version>`); real hosts never do. */
const devHostVersionPrefix = "devhost-";

export function hostInfoFromStatus(status: GetHostStatusReply): HostInfo {
  const devHost = status.protectVersion.startsWith(devHostVersionPrefix);
  return {
    version: devHost
      ? status.protectVersion.slice(devHostVersionPrefix.length)
      : status.protectVersion || "unknown version",
    devHost,
    ...(status.hostUuid ? { hostUuid: status.hostUuid } : {}),
    ...(status.hostIpv4 ? { hostIpv4: status.hostIpv4 } : {}),
  };
}

/** SSH callbacks that ask through the extension's prompts. */
export function sshCallbacks(prompts: ConnectPrompts): SshCallbacks {
  return {
    confirmHostKey: (q) =>
      prompts.confirmUnknownHostKey({
        host: q.host,
        port: q.port,
        keyType: q.keyType,
        fingerprint: q.fingerprint,
      }),
    passphrase: (r) => prompts.askPassphrase(r.keyFile, r.attempt > 1),
    password: (r) => prompts.askPassword(`${r.user}@${r.target.replace(/^[^@]*@/, "")}`, r.attempt > 1),
  };
}

class ProtectSession implements HostSession {
  readonly #onDidDisconnect = new Emitter<Error>();
  readonly onDidDisconnect = this.#onDidDisconnect.event;

  constructor(
    readonly protect: ProtectHost,
    readonly info: HostInfo,
  ) {
    // A managed SSH connection that gives up (or is closed under us) ends the session; losses it
    // recovers from surface through watch() as `interrupted`.
    protect.onDidChangeState((state: SshConnectionState) => {
      if (state.state === "failed") this.#onDidDisconnect.fire(state.error);
    });
  }

  listZones(signal: AbortSignal): Promise<Zone[]> {
    return this.protect.listZones({ signal });
  }

  listWorkloads(signal: AbortSignal): Promise<Workload[]> {
    return this.protect.listWorkloads({ signal });
  }

  async *watch(signal: AbortSignal): AsyncIterable<HostEvent> {
    for await (const event of this.protect.watch(signal)) yield toHostEvent(event);
  }

  dispose(): void {
    this.#onDidDisconnect.dispose();
    this.protect.close();
  }
}

function toHostEvent(event: ProtectHostEvent): HostEvent {
  switch (event.type) {
    case "resync":
      return { kind: "resync", zones: event.zones, workloads: event.workloads };
    case "zone":
      return { kind: "zone", zone: event.zone };
    case "workload":
      return { kind: "workload", workload: event.workload };
    case "disconnected":
      return { kind: "interrupted", error: event.error };
  }
}

/** Connects with ProtectHost and asks GetHostStatus, so a host that answers is a host that works. */
export const protectConnector: HostConnector = {
  async connect(entry: HostEntry, options: ConnectOptions): Promise<HostSession> {
    const { settings, signal, log } = options;
    // Loaded on the first connection, not at activation: the SSH, HTTP/2 and gRPC code is the
    // largest part of the extension, and the tree draws its hosts without it.
    const { ProtectHost } = await import("../core/protect/host");
    const host = await ProtectHost.open(entry.id, {
      logger: log,
      callbacks: sshCallbacks(options.prompts),
      socketPath: settings.daemonSocket,
      bridgeCommand: settings.bridgeCommand,
      signal,
      defaultTimeoutMs: settings.connectTimeoutSeconds * 1000,
      reconnect: {
        maxAttempts: settings.reconnect.maxAttempts,
        maxDelayMs: settings.reconnect.maxDelaySeconds * 1000,
      },
      ...(settings.sshConfigFile ? { configFile: settings.sshConfigFile } : {}),
    });
    try {
      const status = await host.status({ signal, timeoutMs: settings.connectTimeoutSeconds * 1000 });
      return new ProtectSession(host, hostInfoFromStatus(status));
    } catch (err) {
      host.close();
      throw err;
    }
  },
};
