import type {
  OciImageFormat,
  Workload,
  WorkloadSpec,
  Zone,
  ZoneSpec,
} from "../../proto/gen/protect/control/v1/common_pb";
import type { Dialer } from "../forward/dialers";
import type { CallOpts, ForwardRoute } from "../protect/callOptions";
import type { ExecOptions, ExecRequest } from "../terminal/execSession";
import type { LayerProgress } from "./events";
import type { HostFiles } from "./hostFiles";

/** One PullImage progress reply, as plain data. */
export interface PullProgress {
  readonly phase: string;
  readonly layers: readonly LayerProgress[];
  readonly current?: number;
  readonly total?: number;
  readonly isBytes?: boolean;
}

/** Where an exec's output goes. */
export type ExecOutput = Pick<ExecOptions, "onStdout" | "onStderr">;

/** What PullImage left on the host. */
export interface PulledImage {
  readonly digest: string;
  readonly format: OciImageFormat;
  /** The image config's Entrypoint, when asked for and the host sent the config. */
  readonly entrypoint?: readonly string[];
  /** The image config (JSON bytes), when the host sent metadata (the devcontainer.metadata label). */
  readonly config?: Uint8Array;
}

/** An image the host has. */
export interface HostImage {
  readonly digest: string;
  readonly format: OciImageFormat;
  readonly names: readonly string[];
  /** The image config (JSON bytes), when the host sent metadata. */
  readonly config?: Uint8Array;
}

/** An archive to send with ImportImage. */
export interface ImageUpload {
  /** The name the host files it under (`localhost/zones-build/app:1f2e…`). */
  readonly name: string;
  readonly format: OciImageFormat;
  /** Size in bytes, for progress. */
  readonly size: number;
  readonly chunks: AsyncIterable<Uint8Array>;
}

/** Progress of an ImportImage: bytes sent, then the host's own phases. */
export interface ImportProgress {
  readonly sentBytes: number;
  readonly totalBytes: number;
  /** sending, then the host's phase (assemble, pack, complete…). */
  readonly phase: string;
}

/** Options of the waits. */
export interface WaitOptions<T> {
  /** Default 120 s. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal | undefined;
  /** Called with every version of the object seen while waiting (undefined: it is gone). */
  onChange?(value: T | undefined): void;
}

/**
 * Everything the launch executor asks of a host: ProtectHost implements it, unit tests
 * implement it in memory. Calls reject with ProtectError / SshError; the waits reject with
 * ProtectError `deadline` or `cancelled`.
 */
export interface LaunchHost {
  /** For messages: "unix:///…" or "user@host:22". */
  readonly name: string;
  listZones(opts?: CallOpts): Promise<Zone[]>;
  /** Empty when the daemon does not implement ListWorkloads. */
  listWorkloads(opts?: CallOpts): Promise<Workload[]>;
  createZone(spec: ZoneSpec, opts?: CallOpts): Promise<string>;
  destroyZone(id: string, opts?: CallOpts): Promise<void>;
  /** Resolves with the zone once `until` holds for it (undefined: it is gone). */
  waitForZone(
    id: string,
    until: (zone: Zone | undefined) => boolean,
    options?: WaitOptions<Zone>,
  ): Promise<Zone | undefined>;
  createWorkload(spec: WorkloadSpec, opts?: CallOpts): Promise<string>;
  startWorkload(id: string, opts?: CallOpts): Promise<void>;
  stopWorkload(id: string, timeoutSeconds: number, opts?: CallOpts): Promise<void>;
  destroyWorkload(id: string, opts?: CallOpts): Promise<void>;
  waitForWorkload(
    id: string,
    until: (workload: Workload | undefined) => boolean,
    options?: WaitOptions<Workload>,
  ): Promise<Workload | undefined>;
  /**
   * PullImage to completion; resolves with the image's digest, the format the host stored, and
   * its config when the host sends metadata (the devcontainer.metadata label; with
   * `wantEntrypoint`, also its Entrypoint — a Compose `command:` follows it).
   */
  pullImage(
    reference: string,
    format: OciImageFormat,
    onProgress: (p: PullProgress) => void,
    opts?: CallOpts & { readonly wantEntrypoint?: boolean },
  ): Promise<PulledImage>;
  /** The host's images with their names and config; empty when the daemon has no ListImages. */
  listImages(opts?: CallOpts): Promise<HostImage[]>;
  /** ImportImage: streams an image archive (OCI layout or docker save tar) under `name`. */
  importImage(
    upload: ImageUpload,
    onProgress: (p: ImportProgress) => void,
    opts?: CallOpts,
  ): Promise<HostImage>;
  /** Device names on the host and whether a zone holds them; empty when the daemon has no ListDevices. */
  listDevices(opts?: CallOpts): Promise<{ name: string; claimed: boolean }[]>;
  /** ExecuteZoneCommand to completion with stdin closed; resolves with the exit code. */
  exec(request: ExecRequest, options?: ExecOptions): Promise<number>;
  /** The host's file system (SFTP, or local for a unix:// host). The caller closes it. */
  openFiles(): Promise<HostFiles>;
  /** How to reach a port inside a zone (`route` "ssh": a direct-tcpip channel where the host has one). */
  dialer(zone: Zone, port: number, route?: ForwardRoute): Dialer;
}
