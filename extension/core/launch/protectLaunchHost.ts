import { anySignal } from "../abort";
import { protectDialer, sshDialer } from "../forward/dialers";
import type { Dialer } from "../forward/dialers";
import { ProtectError, toProtectError } from "../protect/errors";
import type { ProtectHost } from "../protect/host";
import { zoneView } from "../protect/views";
import { startExec } from "../terminal/execSession";
import type { ExecRequest } from "../terminal/execSession";
import {
  OciImageProgressLayerPhaseSchema,
  OciImageProgressPhaseSchema,
  WorkloadState,
} from "../../proto/gen/protect/control/v1/common_pb";
import type {
  OciImageFormat,
  OciImageProgress,
  Workload,
  WorkloadSpec,
  Zone,
  ZoneSpec,
} from "../../proto/gen/protect/control/v1/common_pb";
import type { HostFiles } from "./hostFiles";
import { LocalHostFiles } from "./hostFiles";
import type {
  ExecOutput,
  HostImage,
  ImageUpload,
  ImportProgress,
  LaunchHost,
  PulledImage,
  PullProgress,
  WaitOptions,
} from "./launchHost";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ImportImageRequestSchema } from "../../proto/gen/protect/control/v1/control_pb";
import { SftpHostFiles } from "./sftpFiles";

/** How `dialer()` reaches a zone port: through the daemon (DialNetworkSocket) or an SSH direct-tcpip channel to the zone's IP. */
export type ForwardRoute = "dial" | "ssh";

/** A LaunchHost over a real ProtectHost (SSH or unix socket). */
export class ProtectLaunchHost implements LaunchHost {
  constructor(
    readonly host: ProtectHost,
    private readonly forwardRoute: ForwardRoute = "dial",
  ) {}

  get name(): string {
    return this.host.name;
  }

  listZones(signal?: AbortSignal): Promise<Zone[]> {
    return this.host.listZones(signal ? { signal } : {});
  }

  async listWorkloads(signal?: AbortSignal): Promise<Workload[]> {
    try {
      return await this.host.listWorkloads(signal ? { signal } : {});
    } catch (err) {
      if (ProtectError.is(err, "unimplemented")) return [];
      throw err;
    }
  }

  createZone(spec: ZoneSpec, signal?: AbortSignal): Promise<string> {
    return this.host.createZone(spec, signal ? { signal } : {});
  }

  destroyZone(id: string, signal?: AbortSignal): Promise<void> {
    return this.host.destroyZone(id, signal ? { signal } : {});
  }

  waitZone(
    id: string,
    until: (zone: Zone | undefined) => boolean,
    options: WaitOptions<Zone>,
  ): Promise<Zone | undefined> {
    return this.host.waitForZone(
      id,
      (zone) => {
        options.onChange?.(zone);
        return until(zone);
      },
      { timeoutMs: options.timeoutMs, ...(options.signal ? { signal: options.signal } : {}) },
    );
  }

  async createWorkload(spec: WorkloadSpec, signal?: AbortSignal): Promise<string> {
    try {
      const reply = await this.host.client.createWorkload(
        { spec },
        { ...(signal ? { signal } : {}), timeoutMs: 60_000 },
      );
      if (!reply.workloadId)
        throw new ProtectError(
          "invalidReply",
          `CreateWorkload on ${this.name}: the daemon returned no workload id.`,
          { host: this.name, operation: "CreateWorkload" },
        );
      return reply.workloadId;
    } catch (err) {
      throw toProtectError(err, "CreateWorkload", this.name);
    }
  }

  async startWorkload(id: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.host.client.startWorkload(
        { workloadId: id },
        { ...(signal ? { signal } : {}), timeoutMs: 60_000 },
      );
    } catch (err) {
      throw toProtectError(err, "StartWorkload", this.name);
    }
  }

  async stopWorkload(id: string, timeoutSeconds: number, signal?: AbortSignal): Promise<void> {
    try {
      await this.host.client.stopWorkload(
        { workloadId: id, timeout: BigInt(timeoutSeconds) },
        { ...(signal ? { signal } : {}), timeoutMs: (timeoutSeconds + 30) * 1000 },
      );
    } catch (err) {
      throw toProtectError(err, "StopWorkload", this.name);
    }
  }

  async destroyWorkload(id: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.host.client.destroyWorkload(
        { workloadId: id },
        { ...(signal ? { signal } : {}), timeoutMs: 60_000 },
      );
    } catch (err) {
      throw toProtectError(err, "DestroyWorkload", this.name);
    }
  }

  /** Follows WatchEvents (the resync lists, then workload changes) until `until` holds. */
  async waitWorkload(
    id: string,
    until: (workload: Workload | undefined) => boolean,
    options: WaitOptions<Workload>,
  ): Promise<Workload | undefined> {
    const timer = new AbortController();
    const handle = setTimeout(() => timer.abort(), options.timeoutMs);
    const signal = anySignal(options.signal, timer.signal);
    const check = (w: Workload | undefined): boolean => {
      const gone = w === undefined || w.status?.state === WorkloadState.DESTROYED;
      const value = gone ? undefined : w;
      options.onChange?.(value);
      return until(value);
    };
    try {
      for await (const ev of this.host.watch(signal)) {
        if (ev.type === "resync") {
          const w = ev.workloads.find((x) => x.id === id);
          if (check(w)) return w;
        } else if (ev.type === "workload" && ev.workload.id === id) {
          if (check(ev.workload))
            return ev.workload.status?.state === WorkloadState.DESTROYED ? undefined : ev.workload;
        }
      }
    } finally {
      clearTimeout(handle);
    }
    if (options.signal?.aborted)
      throw new ProtectError("cancelled", `waiting for workload ${id} on ${this.name} was cancelled.`, {
        host: this.name,
      });
    throw new ProtectError(
      "deadline",
      `workload ${id} on ${this.name} did not reach the expected state within ${Math.round(options.timeoutMs / 1000)} s.`,
      { host: this.name },
    );
  }

  async pullImage(
    reference: string,
    format: OciImageFormat,
    onProgress: (p: PullProgress) => void,
    signal?: AbortSignal,
    options: { readonly wantEntrypoint?: boolean } = {},
  ): Promise<PulledImage> {
    let result: PulledImage | undefined;
    try {
      // Always with metadata: the config carries the devcontainer.metadata label (and Entrypoint).
      for await (const reply of this.host.client.pullImage(
        { image: reference, format, wantMetadata: true },
        signal ? { signal } : {},
      )) {
        if (reply.progress) onProgress(pullProgressOf(reply.progress));
        if (reply.spec?.digest) {
          const config = reply.metadata?.config.length ? reply.metadata.config : undefined;
          const entrypoint = config && options.wantEntrypoint ? entrypointOf(config) : undefined;
          result = {
            digest: reply.spec.digest,
            format: reply.spec.format || format,
            ...(entrypoint ? { entrypoint } : {}),
            ...(config ? { config } : {}),
          };
        }
      }
    } catch (err) {
      throw toProtectError(err, `PullImage ${reference}`, this.name);
    }
    if (!result)
      throw new ProtectError(
        "invalidReply",
        `PullImage ${reference} on ${this.name}: the daemon sent no image digest.`,
        { host: this.name, operation: "PullImage" },
      );
    return result;
  }

  async listImages(signal?: AbortSignal): Promise<HostImage[]> {
    const images: HostImage[] = [];
    try {
      for await (const reply of this.host.client.listImages({}, signal ? { signal } : {}))
        for (const i of reply.images)
          images.push({
            digest: i.digest,
            format: i.format,
            names: [...i.names],
            ...(i.metadata?.config.length ? { config: i.metadata.config } : {}),
          });
    } catch (err) {
      const e = toProtectError(err, "ListImages", this.name);
      if (ProtectError.is(e, "unimplemented")) return [];
      throw e;
    }
    return images;
  }

  async importImage(
    upload: ImageUpload,
    onProgress: (p: ImportProgress) => void,
    signal?: AbortSignal,
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
    try {
      for await (const reply of this.host.client.importImage(requests(), signal ? { signal } : {})) {
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
    } catch (err) {
      throw toProtectError(err, `ImportImage ${upload.name}`, this.name);
    }
    if (!result)
      throw new ProtectError(
        "invalidReply",
        `ImportImage ${upload.name} on ${this.name}: the daemon sent no image digest.`,
        {
          host: this.name,
          operation: "ImportImage",
        },
      );
    return result;
  }

  async listDevices(signal?: AbortSignal): Promise<{ name: string; claimed: boolean }[]> {
    try {
      const reply = await this.host.client.listDevices({}, signal ? { signal } : {});
      return reply.devices.map((d) => ({ name: d.name, claimed: d.claimed }));
    } catch (err) {
      const e = toProtectError(err, "ListDevices", this.name);
      if (ProtectError.is(e, "unimplemented")) return [];
      throw e;
    }
  }

  exec(request: ExecRequest, output: ExecOutput, signal?: AbortSignal): Promise<number> {
    const session = startExec(this.host.client, request, {
      hostName: this.name,
      ...(signal ? { signal } : {}),
      ...(output.onStdout ? { onStdout: output.onStdout } : {}),
      ...(output.onStderr ? { onStderr: output.onStderr } : {}),
    });
    session.endInput();
    return session.exited;
  }

  async openFiles(): Promise<HostFiles> {
    if (this.host.target.kind === "unix") return new LocalHostFiles();
    const ssh = this.host.ssh ?? (await this.host.sshConnection?.connection());
    if (!ssh)
      throw new ProtectError("lost", `${this.name}: no SSH connection for the workspace copy.`, {
        host: this.name,
      });
    return SftpHostFiles.open(ssh);
  }

  dialer(zone: Zone, port: number): Dialer {
    if (this.forwardRoute === "ssh" && this.host.target.kind === "ssh") {
      const ip = zoneView(zone).ipv4 ?? zoneView(zone).ipv6;
      if (ip) return sshDialer(() => this.host.ssh, ip, port);
    }
    return protectDialer(this.host.client, zone.id, "127.0.0.1", port, this.name);
  }
}

function enumWord(values: readonly { number: number; name: string }[], prefix: string, n: number): string {
  return (values.find((v) => v.number === n)?.name ?? `${prefix}UNKNOWN`).slice(prefix.length).toLowerCase();
}

/** An OciImageProgress as plain data: phase words, per-layer bars, the overall bar. */
export function pullProgressOf(p: OciImageProgress): PullProgress {
  const bar = (
    ind: OciImageProgress["indication"],
  ): { current?: number; total?: number; isBytes?: boolean } => {
    const i = ind?.indication;
    if (i?.case === "bar")
      return { current: Number(i.value.current), total: Number(i.value.total), isBytes: i.value.isBytes };
    if (i?.case === "completed")
      return { current: Number(i.value.total), total: Number(i.value.total), isBytes: i.value.isBytes };
    return {};
  };
  return {
    phase: enumWord(OciImageProgressPhaseSchema.values, "OCI_IMAGE_PROGRESS_PHASE_", p.phase),
    layers: p.layers.map((l) => ({
      id: l.id,
      phase: enumWord(OciImageProgressLayerPhaseSchema.values, "OCI_IMAGE_PROGRESS_LAYER_PHASE_", l.phase),
      ...bar(l.indication),
    })),
    ...bar(p.indication),
  };
}

/** `config.Entrypoint` of an OCI image config blob; undefined when absent or unreadable. */
function entrypointOf(config: Uint8Array): string[] | undefined {
  try {
    const parsed = JSON.parse(new TextDecoder().decode(config)) as { config?: { Entrypoint?: unknown } };
    const e = parsed.config?.Entrypoint;
    return Array.isArray(e) && e.every((x) => typeof x === "string") ? e : undefined;
  } catch {
    return undefined;
  }
}
