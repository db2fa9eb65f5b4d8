import type { ZoneResourcesSpec } from "../proto/gen/protect/control/v1/common_pb";
import type { CgroupNode } from "./sandbox/cgroups";
import type { ZoneAddress } from "./sandbox/network";
import type { ProcessExit, SandboxProcess } from "./sandbox/processes";
import type { LaunchRequest, ZoneRuntimeRecord } from "./sandbox/zoneSandbox";

/**
 * How a zone is isolated. "namespaces": Linux namespaces and a cgroup sharing the dev host's
 * kernel; "process": a plain process group (no root needed, no isolation); "vm": a QEMU virtual
 * machine with its own kernel.
 */
export type ZoneKind = "namespaces" | "process" | "vm";

/**
 * A running zone, whatever isolates it: what the zone manager, exec, consoles, forwards and
 * metrics use. The namespace sandbox (sandbox/zoneSandbox.ts) and the VM (vm/vmZone.ts) both
 * satisfy it; what only one kind has (a host cgroup, a guest agent) is reached by narrowing on
 * `kind`.
 */
export interface ZoneRuntime {
  readonly kind: ZoneKind;
  readonly zoneId: string;
  /** The zone's address on the dev host bridge, if it has one. */
  readonly address: ZoneAddress | undefined;
  /** Resolves when the zone ended by itself or was stopped (its init exited, the VM powered off). */
  readonly exited: Promise<ProcessExit>;
  /** The zone's cgroup on the dev host, when it has one (a VM's limits live in the guest). */
  readonly cgroup: CgroupNode | undefined;
  /** The group zone-level execs join on the dev host, if any. */
  readonly execGroup: CgroupNode | undefined;
  /** What a later dev host run needs to remove the zone's leftovers after a crash. */
  runtimeRecord(): ZoneRuntimeRecord;
  /** Console input: the init's stdin, or the VM's serial port. */
  writeConsole(data: Buffer): void;
  /** New vCPUs and memory; resolves with a note on how they were applied, or rejects. */
  applyResources(next: ZoneResourcesSpec): Promise<string>;
  /** A zone-level process (an exec into the zone rather than into a workload). */
  launch(request: LaunchRequest): SandboxProcess;
  /** A TCP connection made from inside the zone, its loopback included. */
  dial(address: string, port: number): SandboxProcess;
  /** Ends the zone and removes everything it held on the dev host. Idempotent. */
  stop(): Promise<void>;
}
