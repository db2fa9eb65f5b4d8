/**
 * What the extension needs from one connected host, and from whatever connects it. core/protect
 * (ProtectHost over one SSH connection, or over a local socket) provides it through the adapter in
 * ../protectConnector.ts; the extension itself speaks no protocol. Zones and workloads travel as
 * the generated protect.control.v1 messages: they are the API's data, not transport.
 */
import type { DisposableLike } from "../../core/lifecycle";
import type { ProtectHost } from "../../core/protect/host";
import type { Event } from "../../core/events";
import type { Logger } from "../../core/log";
import type { Workload, Zone } from "../../proto/gen/protect/control/v1/common_pb";
import type { HostEntry } from "./hostEntry";
import type { ZonesSettings } from "../settingsSchema";

/** What GetHostStatus told us, for the host node. */
export interface HostInfo {
  /** Protect's version string (`protect_version`), e.g. "1.4.2" or "devhost 0.1.0". */
  readonly version: string;
  /** True for our local dev host: zones there share the host kernel. */
  readonly devHost: boolean;
  readonly hostUuid?: string;
  readonly hostIpv4?: string;
}

/**
 * What a session's watch yields: first a `resync` with the full lists, then changes pushed by
 * WatchEvents. When the stream breaks and the session is reconnecting by itself it yields
 * `interrupted`, then a fresh `resync` once back.
 */
export type HostEvent =
  | { readonly kind: "resync"; readonly zones: readonly Zone[]; readonly workloads: readonly Workload[] }
  | { readonly kind: "zone"; readonly zone: Zone }
  | { readonly kind: "workload"; readonly workload: Workload }
  | { readonly kind: "interrupted"; readonly error: Error };

/** One live connection to a host; disposing it closes the connection. */
export interface HostSession extends DisposableLike {
  readonly info: HostInfo;
  /**
   * The core facade behind the session, for commands and panels that act on the host (exec,
   * consoles, metrics, forwards). Undefined only for test doubles of this port.
   */
  readonly protect: ProtectHost | undefined;
  listZones(signal: AbortSignal): Promise<Zone[]>;
  listWorkloads(signal: AbortSignal): Promise<Workload[]>;
  /**
   * The event stream: `resync` first. Ends (returns or throws) when the session cannot go on;
   * the owner then disposes it and connects anew.
   */
  watch(signal: AbortSignal): AsyncIterable<HostEvent>;
  /** Fires once when the underlying connection is lost (not when disposed). */
  readonly onDidDisconnect: Event<Error>;
}

/** A server key as presented, for the unknown-key prompt. */
export interface PresentedHostKey {
  readonly host: string;
  readonly port: number;
  readonly keyType: string;
  /** `SHA256:…` as OpenSSH prints it. */
  readonly fingerprint: string;
}

/** Questions a connection may have to ask the user. Every answer can be "no". */
export interface ConnectPrompts {
  /** Unknown host key: true to trust it (and record it in known_hosts). */
  confirmUnknownHostKey(key: PresentedHostKey): Promise<boolean>;
  /** Passphrase for an encrypted private key; undefined when the user cancels. */
  askPassphrase(keyPath: string, retry: boolean): Promise<string | undefined>;
  /** Password for `user@host`; undefined when the user cancels. */
  askPassword(account: string, retry: boolean): Promise<string | undefined>;
}

/** Everything a connect call gets. */
export interface ConnectOptions {
  readonly signal: AbortSignal;
  readonly settings: ZonesSettings;
  readonly prompts: ConnectPrompts;
  readonly log: Logger;
}

/** Opens sessions; one implementation per kind of transport lives behind this. */
export interface HostConnector {
  connect(entry: HostEntry, options: ConnectOptions): Promise<HostSession>;
}
