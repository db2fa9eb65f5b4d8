/**
 * ProtectHost: the one door to a Protect daemon for the CLI, the launch code and the VS Code
 * extension. It owns the SSH connection (or shares one from a pool) and the gRPC transport over
 * it, and offers every RPC we use as a typed method with deadlines and errors mapped once, plus
 * an event stream that survives reconnects. The raw Connect client never leaves this class.
 *
 *   const host = await ProtectHost.open("styro-1", { logger, callbacks });
 *   try { for (const z of await host.listZones()) … } finally { host.close(); }
 *
 * Errors: calls reject, and streams throw, {@link ProtectError} (daemon-level) or
 * {@link SshError} (connecting: host keys, authentication, network). Bidirectional streams take
 * their requests as an async iterable; sessions over them (exec, consoles, dialing) live in
 * core/terminal and core/forward.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import type { CallOptions, Client, Interceptor, Transport } from "@connectrpc/connect";
import { anySignal, delay, isAbortError } from "../abort";
import { AsyncQueue } from "../asyncQueue";
import { Emitter } from "../events";
import type { Event } from "../events";
import { protectDialer, sshDialer } from "../forward/dialers";
import type { Dialer } from "../forward/dialers";
import type { HostFiles } from "../launch/hostFiles";
import { LocalHostFiles } from "../launch/hostFiles";
import type {
  HostImage,
  ImageUpload,
  ImportProgress,
  LaunchHost,
  PulledImage,
  PullProgress,
  WaitOptions,
} from "../launch/launchHost";
import { SftpHostFiles } from "../launch/sftpFiles";
import { Disposable } from "../lifecycle";
import type { Logger } from "../log";
import { scopedLogger, silentLogger } from "../log";
import type { SshCallbacks, SshConnection } from "../ssh/connection";
import { SshError } from "../ssh/errors";
import { ManagedSshConnection, isRetryable } from "../ssh/managed";
import type { ManagedSshOptions, SshConnectionPool, SshConnectionState } from "../ssh/managed";
import { startExec } from "../terminal/execSession";
import type { ExecOptions, ExecRequest } from "../terminal/execSession";
import type {
  MetricNode,
  OciImageFormat,
  Workload,
  WorkloadSpecSchema,
  Zone,
  ZoneResourcesSpec,
  ZoneResourcesSpecSchema,
  ZoneSpecSchema,
} from "../../proto/gen/protect/control/v1/common_pb";
import { WorkloadState, ZoneState } from "../../proto/gen/protect/control/v1/common_pb";
import { ControlService } from "../../proto/gen/protect/control/v1/control_pb";
import type {
  DialNetworkSocketReply,
  DialNetworkSocketRequestSchema,
  ExecuteZoneCommandReply,
  ExecuteZoneCommandRequestSchema,
  GetHostStatusReply,
  ImportImageRequestSchema,
  WorkloadConsoleReply,
  WorkloadConsoleRequestSchema,
  ZoneConsoleReply,
  ZoneConsoleRequestSchema,
} from "../../proto/gen/protect/control/v1/control_pb";
import type { CallOpts, ForwardRoute, StreamOpts } from "./callOptions";
import { ProtectError, toProtectError } from "./errors";
import { parseTarget } from "./target";
import type { ProtectTarget } from "./target";
import type { ChannelMode, DaemonRoute, DaemonTransport } from "./transport";
import { createSshTransport, createUnixTransport, defaultSocketPath } from "./transport";
import { entrypointOf, pullProgressOf, zoneView } from "./views";
import { resizedResources } from "./zoneFacts";

type ControlClient = Client<typeof ControlService>;

/** Options for {@link ProtectHost.open}. SSH config options (configFile, homedir, env…) apply to SSH targets. */
export interface ProtectHostOptions extends ManagedSshOptions {
  readonly logger?: Logger;
  /** Host key, passphrase and password questions. */
  readonly callbacks?: SshCallbacks;
  /** The daemon socket on an SSH host. Default /var/lib/edera/protect/daemon.socket. */
  readonly socketPath?: string;
  /** Bridge command template with `{socket}`. Default `sudo -n socat - UNIX-CONNECT:{socket}`. */
  readonly bridgeCommand?: string;
  /** Force streamlocal or the bridge instead of trying streamlocal first. */
  readonly channelMode?: ChannelMode;
  /** Cancels open() (not the host's later life: use close() for that). */
  readonly signal?: AbortSignal;
  /** Deadline of each unary call. Default 30 s. */
  readonly deadlineMs?: number;
  /** Share SSH connections with other users of the pool (the pool owns them; close() leaves them open). */
  readonly pool?: SshConnectionPool;
}

/** One item of {@link ProtectHost.watch}. */
export type HostEvent =
  /** The full lists: at the start, and after every reconnect. Replace your model with them. */
  | {
      readonly type: "resync";
      readonly reason: "start" | "reconnect";
      readonly zones: readonly Zone[];
      readonly workloads: readonly Workload[];
    }
  /** A zone changed (upsert by id; a DESTROYED zone is about to disappear). */
  | { readonly type: "zone"; readonly zone: Zone }
  | { readonly type: "workload"; readonly workload: Workload }
  /** The stream broke and a reconnect is under way; a `resync` follows when it is back. */
  | { readonly type: "disconnected"; readonly error: ProtectError | SshError };

/** Deadlines of workload calls: creating, starting and destroying may pull and unpack on the host. */
const workloadCallMs = 60_000;
/** ReadZoneMetrics answers from memory: a host that takes longer is not going to. */
const metricsCallMs = 10_000;

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A connection to one Protect daemon. It is also what the launch executor runs against. */
export class ProtectHost extends Disposable implements LaunchHost {
  readonly target: ProtectTarget;
  readonly #client: ControlClient;
  readonly #transport: DaemonTransport;
  readonly #ssh: ManagedSshConnection | undefined;
  readonly #log: Logger;
  readonly #deadlineMs: number;
  readonly #onDidChangeState = this.register(new Emitter<SshConnectionState>());
  #closed = false;

  /** SSH connection state changes (connecting, connected, lost, reconnecting, failed, closed). Never fires for unix targets. */
  readonly onDidChangeState: Event<SshConnectionState> = this.#onDidChangeState.event;

  private constructor(
    target: ProtectTarget,
    transport: DaemonTransport,
    ssh: ManagedSshConnection | undefined,
    ownsSsh: boolean,
    options: ProtectHostOptions,
  ) {
    super();
    this.target = target;
    this.#transport = transport;
    this.#ssh = ssh;
    this.#log = scopedLogger(options.logger ?? silentLogger, target.display);
    this.#deadlineMs = options.deadlineMs ?? 30_000;
    if (ssh) {
      this.register(ssh.onDidChangeState((s) => this.#onDidChangeState.fire(s)));
      if (ownsSsh) this.register(ssh);
    }
    this.#client = createClient(ControlService, transport.transport);
    this.register({ dispose: () => transport.close() });
  }

  /**
   * Connects to a target: `unix:///path` (a local socket) or an SSH destination. For SSH the
   * connection is established before this resolves (host key and auth errors surface here);
   * the daemon is first contacted by the first call.
   */
  static async open(target: string | ProtectTarget, options: ProtectHostOptions = {}): Promise<ProtectHost> {
    const parsed = typeof target === "string" ? parseTarget(target) : target;
    const log = scopedLogger(options.logger ?? silentLogger, parsed.display);
    const logCalls: Interceptor = (next) => (req) => {
      log.debug(`rpc ${req.method.name}`);
      return next(req);
    };
    if (parsed.kind === "unix") {
      return new ProtectHost(
        parsed,
        createUnixTransport(parsed.socketPath, [logCalls]),
        undefined,
        false,
        options,
      );
    }
    const ssh = options.pool
      ? options.pool.get(parsed.destination)
      : new ManagedSshConnection(parsed.destination, options);
    let transport: DaemonTransport | undefined;
    try {
      // Settings the transport refuses (a bad socket path or bridge template) are known before
      // any network round trip: check them first, so a refusal costs no connection.
      transport = createSshTransport(() => ssh.current, {
        socketPath: options.socketPath ?? defaultSocketPath,
        ...(options.bridgeCommand !== undefined ? { bridgeCommand: options.bridgeCommand } : {}),
        ...(options.channelMode !== undefined ? { mode: options.channelMode } : {}),
        ...(options.logger ? { logger: options.logger } : {}),
        interceptors: [logCalls, waitForSshOf(ssh)],
      });
      await ssh.connection(options.signal);
      return new ProtectHost(parsed, transport, ssh, !options.pool, options);
    } catch (err) {
      // Whatever open() made must not outlive it: a connection left open keeps the CLI's
      // event loop alive (it would hang after printing its error) and leaks in the extension.
      transport?.close();
      if (!options.pool) ssh.dispose();
      throw err;
    }
  }

  /**
   * A host over a Connect transport made elsewhere — an in-memory router standing in for a
   * daemon in unit tests, say. close() leaves the transport to its maker.
   */
  static overTransport(
    target: string | ProtectTarget,
    transport: Transport,
    options: Pick<ProtectHostOptions, "logger" | "deadlineMs"> = {},
  ): ProtectHost {
    const parsed = typeof target === "string" ? parseTarget(target) : target;
    return new ProtectHost(
      parsed,
      { transport, route: undefined, close: () => {} },
      undefined,
      false,
      options,
    );
  }

  /** "unix:///path" or "user@host:port" as typed. */
  get name(): string {
    return this.target.display;
  }

  /** The live SSH connection (SFTP, forwards, exec on the host), undefined for unix targets or while reconnecting. */
  get ssh(): SshConnection | undefined {
    return this.#ssh?.current;
  }

  /** The managed SSH connection (state, reconnect now), undefined for unix targets. */
  get sshConnection(): ManagedSshConnection | undefined {
    return this.#ssh;
  }

  /** How the daemon is reached right now: unix, streamlocal or bridge (undefined before the first call). */
  get route(): DaemonRoute | undefined {
    return this.#transport.route;
  }

  /** GetHostStatus. */
  status(opts: CallOpts = {}): Promise<GetHostStatusReply> {
    return this.#unary("GetHostStatus", (o) => this.#client.getHostStatus({}, o), opts);
  }

  /** ListZones, with every streamed batch merged (a later copy of an id replaces an earlier one). */
  listZones(opts: CallOpts = {}): Promise<Zone[]> {
    return this.#unary(
      "ListZones",
      async (o) => {
        const byId = new Map<string, Zone>();
        for await (const reply of this.#client.listZones({}, o))
          for (const zone of reply.zones) byId.set(zone.id, zone);
        return [...byId.values()];
      },
      opts,
    );
  }

  /** GetZone by id; ProtectError `notFound` if there is none. */
  getZone(id: string, opts: CallOpts = {}): Promise<Zone> {
    return this.#unary(
      "GetZone",
      async (o) => {
        const reply = await this.#client.getZone({ zoneId: id }, o);
        if (!reply.zone)
          throw new ProtectError("notFound", `GetZone on ${this.name}: no zone ${id}.`, {
            host: this.name,
            operation: "GetZone",
          });
        return reply.zone;
      },
      opts,
    );
  }

  /**
   * A zone by id or name. Names go through ResolveZoneIds (ResolveZoneId on daemons without it);
   * several matches reject with `ambiguous` listing the ids, none with `notFound`.
   */
  async resolveZone(nameOrId: string, opts: CallOpts = {}): Promise<Zone> {
    if (uuidPattern.test(nameOrId)) {
      try {
        return await this.getZone(nameOrId, opts);
      } catch (err) {
        if (!ProtectError.is(err, "notFound")) throw err;
      }
    }
    const ids = await this.#resolveIds(
      "zone",
      nameOrId,
      (o) => this.#client.resolveZoneIds({ name: nameOrId }, o).then((r) => r.zoneIds),
      (o) => this.#client.resolveZoneId({ name: nameOrId }, o).then((r) => (r.zoneId ? [r.zoneId] : [])),
      opts,
    );
    return this.getZone(ids[0]!, opts);
  }

  /** ListWorkloads, batches merged; empty from a daemon that does not implement it (it runs none). */
  async listWorkloads(opts: CallOpts = {}): Promise<Workload[]> {
    try {
      return await this.#unary(
        "ListWorkloads",
        async (o) => {
          const byId = new Map<string, Workload>();
          for await (const reply of this.#client.listWorkloads({}, o))
            for (const w of reply.workloads) byId.set(w.id, w);
          return [...byId.values()];
        },
        opts,
      );
    } catch (err) {
      if (!ProtectError.is(err, "unimplemented")) throw err;
      this.#log.debug("ListWorkloads is not implemented by this daemon; it has no workloads");
      return [];
    }
  }

  getWorkload(id: string, opts: CallOpts = {}): Promise<Workload> {
    return this.#unary(
      "GetWorkload",
      async (o) => {
        const reply = await this.#client.getWorkload({ workloadId: id }, o);
        if (!reply.workload)
          throw new ProtectError("notFound", `GetWorkload on ${this.name}: no workload ${id}.`, {
            host: this.name,
            operation: "GetWorkload",
          });
        return reply.workload;
      },
      opts,
    );
  }

  /** A workload by id or name (ResolveWorkloadIds, falling back to ResolveWorkloadId). */
  async resolveWorkload(nameOrId: string, opts: CallOpts = {}): Promise<Workload> {
    if (uuidPattern.test(nameOrId)) {
      try {
        return await this.getWorkload(nameOrId, opts);
      } catch (err) {
        if (!ProtectError.is(err, "notFound")) throw err;
      }
    }
    const ids = await this.#resolveIds(
      "workload",
      nameOrId,
      (o) => this.#client.resolveWorkloadIds({ name: nameOrId }, o).then((r) => r.workloadIds),
      (o) =>
        this.#client
          .resolveWorkloadId({ name: nameOrId }, o)
          .then((r) => (r.workloadId ? [r.workloadId] : [])),
      opts,
    );
    return this.getWorkload(ids[0]!, opts);
  }

  /** CreateZone; resolves with the new zone's id (the zone is then CREATING: see waitForZone). */
  createZone(spec: MessageInitShape<typeof ZoneSpecSchema>, opts: CallOpts = {}): Promise<string> {
    return this.#unary(
      "CreateZone",
      async (o) => {
        const reply = await this.#client.createZone({ spec }, o);
        if (!reply.zoneId)
          throw new ProtectError(
            "invalidReply",
            `CreateZone on ${this.name}: the daemon returned no zone id.`,
            { host: this.name, operation: "CreateZone" },
          );
        return reply.zoneId;
      },
      opts,
    );
  }

  /** DestroyZone (asynchronous on the host: the zone goes DESTROYING, DESTROYED, then disappears). */
  async destroyZone(id: string, opts: CallOpts = {}): Promise<void> {
    await this.#unary("DestroyZone", (o) => this.#client.destroyZone({ zoneId: id }, o), opts);
  }

  /** UpdateZoneResources: the zone's new target, minimum and maximum. */
  async updateZoneResources(
    zoneId: string,
    resources: MessageInitShape<typeof ZoneResourcesSpecSchema>,
    opts: CallOpts = {},
  ): Promise<void> {
    await this.#unary(
      "UpdateZoneResources",
      (o) => this.#client.updateZoneResources({ zoneId, resources }, o),
      opts,
    );
  }

  /**
   * Resizes a zone: the new target vCPUs and/or memory (undefined leaves one as it is), the
   * bounds moved with it (resizedResources). `zone` as known (the model's copy) or its id.
   * Resolves with the resources asked for.
   */
  async resizeZone(
    zone: Zone | string,
    cpus: number | undefined,
    memoryMiB: number | undefined,
    opts: CallOpts = {},
  ): Promise<ZoneResourcesSpec> {
    const known = typeof zone === "string" ? await this.getZone(zone, opts) : zone;
    const resources = resizedResources(known, cpus, memoryMiB);
    await this.updateZoneResources(known.id, resources, opts);
    return resources;
  }

  /** ReadZoneMetrics: the zone's metric tree (undefined when the host sent none). */
  async readZoneMetrics(zoneId: string, opts: CallOpts = {}): Promise<MetricNode | undefined> {
    const reply = await this.#unary(
      "ReadZoneMetrics",
      (o) => this.#client.readZoneMetrics({ zoneId }, o),
      opts,
      metricsCallMs,
    );
    return reply.root;
  }

  /** CreateWorkload; resolves with the new workload's id. */
  createWorkload(spec: MessageInitShape<typeof WorkloadSpecSchema>, opts: CallOpts = {}): Promise<string> {
    return this.#unary(
      "CreateWorkload",
      async (o) => {
        const reply = await this.#client.createWorkload({ spec }, o);
        if (!reply.workloadId)
          throw new ProtectError(
            "invalidReply",
            `CreateWorkload on ${this.name}: the daemon returned no workload id.`,
            { host: this.name, operation: "CreateWorkload" },
          );
        return reply.workloadId;
      },
      opts,
      workloadCallMs,
    );
  }

  async startWorkload(id: string, opts: CallOpts = {}): Promise<void> {
    await this.#unary(
      "StartWorkload",
      (o) => this.#client.startWorkload({ workloadId: id }, o),
      opts,
      workloadCallMs,
    );
  }

  /** StopWorkload: the host signals the process and kills it after `timeoutSeconds`. */
  async stopWorkload(id: string, timeoutSeconds: number, opts: CallOpts = {}): Promise<void> {
    await this.#unary(
      "StopWorkload",
      (o) => this.#client.stopWorkload({ workloadId: id, timeout: BigInt(timeoutSeconds) }, o),
      opts,
      (timeoutSeconds + 30) * 1000,
    );
  }

  async destroyWorkload(id: string, opts: CallOpts = {}): Promise<void> {
    await this.#unary(
      "DestroyWorkload",
      (o) => this.#client.destroyWorkload({ workloadId: id }, o),
      opts,
      workloadCallMs,
    );
  }

  /** Device names on the host and whether a zone holds them; empty from a daemon without ListDevices. */
  async listDevices(opts: CallOpts = {}): Promise<{ name: string; claimed: boolean }[]> {
    try {
      const reply = await this.#unary("ListDevices", (o) => this.#client.listDevices({}, o), opts);
      return reply.devices.map((d) => ({ name: d.name, claimed: d.claimed }));
    } catch (err) {
      if (ProtectError.is(err, "unimplemented")) return [];
      throw err;
    }
  }

  /**
   * PullImage to completion; resolves with the image's digest and the format the host stored.
   * With `wantEntrypoint`, also the image config's Entrypoint (a Compose `command:` follows it).
   */
  async pullImage(
    reference: string,
    format: OciImageFormat,
    onProgress: (p: PullProgress) => void,
    opts: CallOpts & { readonly wantEntrypoint?: boolean } = {},
  ): Promise<PulledImage> {
    let result: PulledImage | undefined;
    // Always with metadata: the config carries the devcontainer.metadata label (and Entrypoint).
    const replies = this.#stream(
      `PullImage ${reference}`,
      (o) => this.#client.pullImage({ image: reference, format, wantMetadata: true }, o),
      opts,
    );
    for await (const reply of replies) {
      if (reply.progress) onProgress(pullProgressOf(reply.progress));
      if (reply.spec?.digest) {
        const config = reply.metadata?.config.length ? reply.metadata.config : undefined;
        const entrypoint = config && opts.wantEntrypoint ? entrypointOf(config) : undefined;
        result = {
          digest: reply.spec.digest,
          format: reply.spec.format || format,
          ...(entrypoint ? { entrypoint } : {}),
          ...(config ? { config } : {}),
        };
      }
    }
    if (!result)
      throw new ProtectError(
        "invalidReply",
        `PullImage ${reference} on ${this.name}: the daemon sent no image digest.`,
        { host: this.name, operation: "PullImage" },
      );
    return result;
  }

  /** ListImages: the host's images with their names and config; empty from a daemon without it. */
  async listImages(opts: CallOpts = {}): Promise<HostImage[]> {
    try {
      return await this.#unary(
        "ListImages",
        async (o) => {
          const images: HostImage[] = [];
          for await (const reply of this.#client.listImages({}, o))
            for (const i of reply.images)
              images.push({
                digest: i.digest,
                format: i.format,
                names: [...i.names],
                ...(i.metadata?.config.length ? { config: i.metadata.config } : {}),
              });
          return images;
        },
        opts,
      );
    } catch (err) {
      if (ProtectError.is(err, "unimplemented")) return [];
      throw err;
    }
  }

  /** ImportImage: streams an image archive (OCI layout or docker save tar) under `upload.name`. */
  async importImage(
    upload: ImageUpload,
    onProgress: (p: ImportProgress) => void,
    opts: CallOpts = {},
  ): Promise<HostImage> {
    let sent = 0;
    const total = upload.size;
    async function* requests(): AsyncGenerator<MessageInitShape<typeof ImportImageRequestSchema>> {
      yield { image: upload.name, format: upload.format, wantMetadata: true };
      for await (const chunk of upload.chunks) {
        sent += chunk.length;
        onProgress({ sentBytes: sent, totalBytes: total, phase: "sending" });
        yield { chunk };
      }
      yield { lastChunk: true };
    }
    let result: HostImage | undefined;
    const replies = this.#stream(
      `ImportImage ${upload.name}`,
      (o) => this.#client.importImage(requests(), o),
      opts,
    );
    for await (const reply of replies) {
      if (reply.progress)
        onProgress({ sentBytes: sent, totalBytes: total, phase: pullProgressOf(reply.progress).phase });
      if (reply.spec?.digest)
        result = {
          digest: reply.spec.digest,
          format: reply.spec.format || upload.format,
          names: [upload.name],
          ...(reply.metadata?.config.length ? { config: reply.metadata.config } : {}),
        };
    }
    if (!result)
      throw new ProtectError(
        "invalidReply",
        `ImportImage ${upload.name} on ${this.name}: the daemon sent no image digest.`,
        { host: this.name, operation: "ImportImage" },
      );
    return result;
  }

  /** ExecuteZoneCommand; {@link startExec} runs a session over it. */
  executeZoneCommand(
    requests: AsyncIterable<MessageInitShape<typeof ExecuteZoneCommandRequestSchema>>,
    opts: StreamOpts = {},
  ): AsyncIterable<ExecuteZoneCommandReply> {
    return this.#stream("ExecuteZoneCommand", (o) => this.#client.executeZoneCommand(requests, o), opts);
  }

  /** AttachZoneConsole: a zone's kernel console (ZoneConsole in core/terminal follows it). */
  attachZoneConsole(
    requests: AsyncIterable<MessageInitShape<typeof ZoneConsoleRequestSchema>>,
    opts: StreamOpts = {},
  ): AsyncIterable<ZoneConsoleReply> {
    return this.#stream("AttachZoneConsole", (o) => this.#client.attachZoneConsole(requests, o), opts);
  }

  /** AttachWorkloadConsole: a workload's own stdio (WorkloadConsole in core/terminal follows it). */
  attachWorkloadConsole(
    requests: AsyncIterable<MessageInitShape<typeof WorkloadConsoleRequestSchema>>,
    opts: StreamOpts = {},
  ): AsyncIterable<WorkloadConsoleReply> {
    return this.#stream(
      "AttachWorkloadConsole",
      (o) => this.#client.attachWorkloadConsole(requests, o),
      opts,
    );
  }

  /** DialNetworkSocket: a TCP connection inside a zone (core/forward's protectDialer wraps it). */
  dialNetworkSocket(
    requests: AsyncIterable<MessageInitShape<typeof DialNetworkSocketRequestSchema>>,
    opts: StreamOpts = {},
  ): AsyncIterable<DialNetworkSocketReply> {
    return this.#stream("DialNetworkSocket", (o) => this.#client.dialNetworkSocket(requests, o), opts);
  }

  /** Runs a command to completion with stdin closed; resolves with its exit code. */
  exec(request: ExecRequest, options: ExecOptions = {}): Promise<number> {
    const session = startExec(this, request, options);
    session.endInput();
    return session.exited;
  }

  /** The host's file system: SFTP over the SSH connection, or this machine's for a unix:// host. The caller closes it. */
  async openFiles(): Promise<HostFiles> {
    if (this.target.kind === "unix") return new LocalHostFiles();
    const ssh = this.ssh ?? (await this.sshConnection?.connection());
    if (!ssh)
      throw new ProtectError("lost", `${this.name}: no SSH connection for the workspace copy.`, {
        host: this.name,
      });
    return SftpHostFiles.open(ssh);
  }

  /**
   * How to reach a port inside a zone: DialNetworkSocket through the daemon, or with route
   * `ssh` (SSH hosts, zones with an address) a direct-tcpip channel to the zone's IP.
   */
  dialer(zone: Zone, port: number, route: ForwardRoute = "dial"): Dialer {
    if (route === "ssh" && this.target.kind === "ssh") {
      const ip = zoneView(zone).ipv4 ?? zoneView(zone).ipv6;
      if (ip) return sshDialer(() => this.ssh, ip, port);
    }
    return protectDialer(this, zone.id, "127.0.0.1", port);
  }

  /**
   * WatchEvents as an async iterable that survives reconnects: it starts with a `resync`
   * carrying the full zone and workload lists, then yields changes; when the stream or the
   * connection breaks it yields `disconnected`, waits for the connection to come back (with
   * backoff), re-subscribes, re-lists and yields another `resync`. Treat `resync` as "replace
   * everything" and changes as upserts by id: nothing is lost and nothing counts twice.
   * Ends when `signal` aborts; throws on errors a retry cannot fix (permission, host key…).
   */
  async *watch(signal?: AbortSignal): AsyncGenerator<HostEvent, void, undefined> {
    let reason: "start" | "reconnect" = "start";
    let failures = 0;
    while (!signal?.aborted && !this.#closed) {
      const attempt = new AbortController();
      const attemptSignal = anySignal(signal, attempt.signal);
      // Unbounded: a burst of events (a thousand zones created) must not cut the watch off.
      const queue = new AsyncQueue<HostEvent>(Number.POSITIVE_INFINITY);
      try {
        // Subscribe first, list second: a change made while we list is then not lost (it
        // arrives as an event after the resync, and upserting it again is harmless).
        const stream = this.#client.watchEvents({}, { signal: attemptSignal });
        void (async () => {
          try {
            for await (const reply of stream) {
              const ev = reply.event;
              if (ev.case === "zoneChanged" && ev.value.zone)
                queue.push({ type: "zone", zone: ev.value.zone });
              else if (ev.case === "workloadChanged" && ev.value.workload)
                queue.push({ type: "workload", workload: ev.value.workload });
            }
            queue.fail(
              new ProtectError("lost", `WatchEvents on ${this.name}: the daemon ended the stream.`, {
                host: this.name,
                operation: "WatchEvents",
              }),
            );
          } catch (err) {
            queue.fail(err);
          }
        })(); // the pump's outcome reaches the consumer through the queue
        const [zones, workloads] = await Promise.all([
          this.listZones({ signal: attemptSignal }),
          this.listWorkloads({ signal: attemptSignal }),
        ]);
        yield { type: "resync", reason, zones, workloads };
        failures = 0;
        yield* queue;
      } catch (err) {
        if (signal?.aborted || this.#closed) return;
        const error = toProtectError(err, "WatchEvents", this.name);
        if (!isRetryableHostError(error)) throw error;
        this.#log.info(`watch interrupted: ${error.message}; reconnecting`);
        yield { type: "disconnected", error };
        failures++;
        try {
          await delay(Math.min(10_000, 250 * 2 ** (failures - 1)), signal);
          if (this.#ssh) await this.#ssh.connection(signal);
        } catch (waitErr) {
          if (signal?.aborted || isAbortError(waitErr)) return;
          // Still unreachable: keep trying (the next round reports it again); give up only on
          // what retrying cannot fix, such as a changed host key.
          if (!(SshError.is(waitErr) && isRetryable(waitErr))) throw waitErr;
        }
        reason = "reconnect";
      } finally {
        attempt.abort();
      }
    }
  }

  /**
   * Resolves with the zone once `until` holds for it (checked against every resync and change;
   * `undefined` means the zone is gone: not listed, or reported DESTROYED). Rejects with
   * `deadline` after timeoutMs (default 120 s), `cancelled` on abort.
   */
  waitForZone(
    id: string,
    until: (zone: Zone | undefined) => boolean,
    options: WaitOptions<Zone> = {},
  ): Promise<Zone | undefined> {
    const check = (zone: Zone | undefined): { value: Zone | undefined } | undefined => {
      options.onChange?.(zone);
      return until(zone) ? { value: zone } : undefined;
    };
    return this.#watchUntil(`zone ${id}`, options, (ev) => {
      if (ev.type === "resync") return check(ev.zones.find((z) => z.id === id));
      if (ev.type !== "zone" || ev.zone.id !== id) return undefined;
      // A DESTROYED zone is about to vanish from the list: to the predicate it is gone.
      return check(ev.zone.status?.state === ZoneState.DESTROYED ? undefined : ev.zone);
    });
  }

  /** The same for a workload: resolves once `until` holds for it (undefined: it is gone). */
  waitForWorkload(
    id: string,
    until: (workload: Workload | undefined) => boolean,
    options: WaitOptions<Workload> = {},
  ): Promise<Workload | undefined> {
    const check = (w: Workload | undefined): boolean => {
      const gone = w === undefined || w.status?.state === WorkloadState.DESTROYED;
      const value = gone ? undefined : w;
      options.onChange?.(value);
      return until(value);
    };
    return this.#watchUntil(`workload ${id}`, options, (ev) => {
      if (ev.type === "resync") {
        const w = ev.workloads.find((x) => x.id === id);
        return check(w) ? { value: w } : undefined;
      }
      if (ev.type !== "workload" || ev.workload.id !== id || !check(ev.workload)) return undefined;
      return { value: ev.workload.status?.state === WorkloadState.DESTROYED ? undefined : ev.workload };
    });
  }

  /** Closes the transport and (unless pooled) the SSH connection. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.dispose();
  }

  /** Follows watch() until `check` returns a value; the waits' deadline and cancel errors. */
  async #watchUntil<T>(
    what: string,
    options: WaitOptions<T>,
    check: (ev: HostEvent) => { value: T | undefined } | undefined,
  ): Promise<T | undefined> {
    const timeoutMs = options.timeoutMs ?? 120_000;
    const timer = new AbortController();
    const handle = setTimeout(() => timer.abort(), timeoutMs);
    try {
      for await (const ev of this.watch(anySignal(options.signal, timer.signal))) {
        const hit = check(ev);
        if (hit) return hit.value;
      }
    } finally {
      clearTimeout(handle);
    }
    if (options.signal?.aborted)
      throw new ProtectError("cancelled", `waiting for ${what} on ${this.name} was cancelled.`, {
        host: this.name,
      });
    throw new ProtectError(
      "deadline",
      `${what} on ${this.name} did not reach the expected state within ${Math.round(timeoutMs / 1000)} s.`,
      { host: this.name },
    );
  }

  async #resolveIds(
    kind: "zone" | "workload",
    name: string,
    many: (o: CallOptions) => Promise<string[]>,
    one: (o: CallOptions) => Promise<string[]>,
    opts: CallOpts,
  ): Promise<string[]> {
    const op = kind === "zone" ? "ResolveZoneIds" : "ResolveWorkloadIds";
    let ids: string[];
    try {
      ids = await this.#unary(op, many, opts);
    } catch (err) {
      if (!ProtectError.is(err, "unimplemented")) throw err;
      ids = await this.#unary(kind === "zone" ? "ResolveZoneId" : "ResolveWorkloadId", one, opts);
    }
    ids = [...new Set(ids.filter(Boolean))];
    if (ids.length === 0)
      throw new ProtectError("notFound", `no ${kind} named '${name}' on ${this.name}.`, {
        host: this.name,
        operation: op,
      });
    if (ids.length > 1) {
      throw new ProtectError(
        "ambiguous",
        `'${name}' matches ${ids.length} ${kind}s on ${this.name} (${ids.join(", ")}); use an id.`,
        { host: this.name, operation: op, candidates: ids },
      );
    }
    return ids;
  }

  /** One unary call (or a stream read to its end) with a deadline; errors mapped to ProtectError. */
  async #unary<T>(
    operation: string,
    call: (o: CallOptions) => Promise<T>,
    opts: CallOpts,
    deadlineMs = this.#deadlineMs,
  ): Promise<T> {
    this.#assertOpen(operation);
    try {
      return await call({
        timeoutMs: opts.timeoutMs ?? deadlineMs,
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
    } catch (err) {
      throw toProtectError(err, operation, this.name);
    }
  }

  /** A streaming call, no deadline unless asked; whatever it throws is mapped to ProtectError. */
  async *#stream<T>(
    rpc: string,
    open: (o: CallOptions) => AsyncIterable<T>,
    opts: StreamOpts,
  ): AsyncGenerator<T, void, undefined> {
    const operation = opts.about ? `${rpc} ${opts.about}` : rpc;
    this.#assertOpen(operation);
    try {
      yield* open({
        ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
    } catch (err) {
      throw toProtectError(err, operation, this.name);
    }
  }

  #assertOpen(operation: string): void {
    if (this.#closed)
      throw new ProtectError("cancelled", `${operation} on ${this.name}: the host connection is closed.`, {
        host: this.name,
        operation,
      });
  }
}

/** During a reconnect, calls wait for the new connection instead of failing at once. */
function waitForSshOf(ssh: ManagedSshConnection): Interceptor {
  return (next) => async (req) => {
    if (!ssh.current) await ssh.connection(req.signal);
    return next(req);
  };
}

/** Errors a watch retries through: the connection or daemon went away, not "you may not". */
function isRetryableHostError(err: ProtectError | SshError): boolean {
  if (SshError.is(err)) return isRetryable(err);
  return err.reason === "lost" || err.reason === "unreachable" || err.reason === "deadline";
}
