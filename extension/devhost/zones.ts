import { randomUUID } from "node:crypto";
import { release } from "node:os";
import { clone, create, fromJson, toJson } from "@bufbuild/protobuf";
import type { JsonValue } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Emitter } from "../core/events";
import type { Event } from "../core/events";
import type { Logger } from "../core/log";
import { messageOf } from "../core/errors";
import {
  ZoneNetworkIpVersion,
  ZoneResourcesSpecSchema,
  ZoneSchema,
  ZoneSpecSchema,
  ZoneState,
} from "../proto/gen/protect/control/v1/common_pb";
import type { Zone, ZoneResourcesSpec, ZoneSpec } from "../proto/gen/protect/control/v1/common_pb";
import { ConsoleBuffer } from "./consoleBuffer";
import { DevHostError } from "./errors";
import type { StateStore } from "./stateStore";
import type { CgroupLimits } from "./sandbox/cgroups";
import type { ZoneAddress } from "./sandbox/network";
import { ZoneSandbox } from "./sandbox/zoneSandbox";
import type { SandboxHost, ZoneRuntimeRecord } from "./sandbox/zoneSandbox";
import { VmZone } from "./vm/vmZone";
import type { ZoneRuntime } from "./zoneRuntime";
import { cleanupLeftovers } from "./leftovers";
import { devHostZoneAnnotations } from "../core/protect/zoneIsolation";

/** Zone sizes when a spec asks for nothing: what `protect zone launch` gives by default. */
export const defaultZoneCpus = 1;
export const defaultZoneMemoryMiB = 1024;

/**
 * Annotation keys the dev host adds to every zone, so nobody mistakes a namespace sandbox for a
 * VM: `isolation` is the machine-readable kind (the extension shows it), the others say it in
 * words.
 */
export const annotationKeys = devHostZoneAnnotations;

interface ZoneRecord {
  id: string;
  spec: ZoneSpec;
  state: ZoneState;
  errorMessage?: string | undefined;
  createdAt: Date;
  readyAt?: Date | undefined;
  domid: number;
  resources: ZoneResourcesSpec;
  address?: ZoneAddress | undefined;
  runtime?: ZoneRuntimeRecord | undefined;
}

interface ZoneEntry {
  record: ZoneRecord;
  console: ConsoleBuffer;
  sandbox?: ZoneRuntime | undefined;
  boot?: Promise<void> | undefined;
  destroying?: Promise<void> | undefined;
}

/** Host facts every zone reports. */
export interface HostFacts {
  hostUuid: string;
  nextDomid(): number;
}

/**
 * Zones: their records on disk, their sandboxes, and the lifecycle a real host shows —
 * CREATING → CREATED → READY, DESTROYING → DESTROYED (then gone), FAILED with a message.
 * Every state change is persisted first, then announced on `onDidChange`.
 */
export class ZoneManager {
  readonly #zones = new Map<string, ZoneEntry>();
  readonly #onDidChange = new Emitter<Zone>();
  /** Fires a snapshot of a zone after each state change (including DESTROYED). */
  readonly onDidChange: Event<Zone> = this.#onDidChange.event;
  /** Runs before a zone's sandbox is torn down: the workload manager destroys its workloads. */
  beforeDestroy: (zoneId: string) => Promise<void> = async () => undefined;
  #shuttingDown = false;

  constructor(
    private readonly store: StateStore,
    private readonly sandboxHost: SandboxHost,
    private readonly host: HostFacts,
    private readonly log: Logger,
  ) {}

  /** Loads the zones of a previous run; those whose processes are gone come back FAILED. */
  async restore(previousStop: string): Promise<void> {
    for (const { id, data } of this.store.loadAll("zones")) {
      let record: ZoneRecord;
      try {
        record = parseRecord(data);
      } catch (err) {
        this.log.warn(`zones: cannot parse record ${id}; left on disk untouched`, err);
        continue;
      }
      if (record.runtime) await cleanupLeftovers(this.sandboxHost, record.runtime, this.log);
      if (record.state === ZoneState.DESTROYING || record.state === ZoneState.DESTROYED) {
        this.store.remove("zones", record.id);
        continue;
      }
      if (record.state !== ZoneState.FAILED && record.state !== ZoneState.EXITED) {
        record.state = ZoneState.FAILED;
        record.errorMessage = `the dev host restarted (${previousStop}); this zone's processes are gone. Destroy it and create it again.`;
      }
      record.runtime = undefined;
      record.address = undefined;
      this.#zones.set(record.id, { record, console: new ConsoleBuffer() });
      this.#save(record);
      this.log.info(
        `zones: restored ${record.id} (${record.spec.name || "unnamed"}) as ${ZoneState[record.state]}`,
      );
    }
  }

  list(): Zone[] {
    return [...this.#zones.values()].map((e) => this.#toProto(e));
  }

  get(id: string): Zone {
    return this.#toProto(this.#entry(id));
  }

  has(id: string): boolean {
    return this.#zones.has(id);
  }

  /** Zone ids whose name (or id) is `name`, oldest first. */
  resolve(name: string): string[] {
    return [...this.#zones.values()]
      .filter((e) => e.record.spec.name === name || e.record.id === name)
      .sort((a, b) => a.record.createdAt.getTime() - b.record.createdAt.getTime())
      .map((e) => e.record.id);
  }

  console(id: string): ConsoleBuffer {
    return this.#entry(id).console;
  }

  /** The running sandbox (or VM) of a READY zone; refuses otherwise. */
  sandbox(id: string): ZoneRuntime {
    const entry = this.#entry(id);
    if (entry.record.state !== ZoneState.READY || !entry.sandbox) {
      throw new DevHostError(
        "failedPrecondition",
        `zone ${id} is ${ZoneState[entry.record.state]}, not READY`,
      );
    }
    return entry.sandbox;
  }

  /** The live sandbox if there is one, in any state. */
  maybeSandbox(id: string): ZoneRuntime | undefined {
    return this.#zones.get(id)?.sandbox;
  }

  create(specIn: ZoneSpec): string {
    if (this.#shuttingDown) throw new DevHostError("unavailable", "the dev host is shutting down");
    const spec = create(ZoneSpecSchema, specIn);
    spec.annotations = spec.annotations.filter((a) => !a.key.startsWith(annotationKeys.devhost));
    const resources = effectiveResources(spec.initialResources);
    const record: ZoneRecord = {
      id: randomUUID(),
      spec,
      state: ZoneState.CREATING,
      createdAt: new Date(),
      domid: this.host.nextDomid(),
      resources,
    };
    const entry: ZoneEntry = { record, console: new ConsoleBuffer() };
    this.#zones.set(record.id, entry);
    this.#changed(entry);
    this.log.info(
      `zones: creating ${record.id} (${spec.name || "unnamed"}, ${resources.targetCpus} cpu, ${resources.targetMemory} MiB)`,
    );
    entry.boot = this.#boot(entry);
    return record.id;
  }

  async #boot(entry: ZoneEntry): Promise<void> {
    const { record } = entry;
    const started = Date.now();
    try {
      const onCreated = (runtime: ZoneRuntimeRecord): void => {
        record.runtime = runtime;
        if (record.state === ZoneState.CREATING) this.#setState(entry, ZoneState.CREATED);
      };
      const vm = this.sandboxHost.vm;
      const sandbox: ZoneRuntime = vm
        ? await VmZone.boot(vm, {
            zoneId: record.id,
            hostname: hostnameFor(record),
            resources: record.resources,
            requestedKernel: record.spec.kernel?.digest || undefined,
            console: entry.console,
            tools: this.sandboxHost.tools,
            onCreated,
          })
        : await ZoneSandbox.boot(this.sandboxHost, {
            zoneId: record.id,
            hostname: hostnameFor(record),
            banner: this.#banner(record),
            limits: limitsOf(record.resources),
            console: entry.console,
            onCreated,
          });
      entry.sandbox = sandbox;
      record.runtime = sandbox.runtimeRecord();
      record.address = sandbox.address;
      if (record.state !== ZoneState.CREATED && record.state !== ZoneState.CREATING) return; // being destroyed
      record.readyAt = new Date();
      this.#setState(entry, ZoneState.READY);
      this.log.info(
        `zones: ${record.id} READY in ${Date.now() - started} ms${sandbox.address ? ` at ${sandbox.address.ip}` : ""}`,
      );
      void sandbox.exited.then((exit) => this.#initExited(entry, sandbox, exit.code, exit.signal)); // watches for a zone dying on its own
    } catch (err) {
      if (record.state === ZoneState.DESTROYING) return;
      record.runtime = undefined;
      record.errorMessage = `zone failed to start: ${messageOf(err)}`;
      this.log.warn(`zones: ${record.id} FAILED`, err);
      this.#setState(entry, ZoneState.FAILED);
    }
  }

  #initExited(
    entry: ZoneEntry,
    sandbox: ZoneRuntime,
    code: number | undefined,
    signal: string | undefined,
  ): void {
    if (entry.sandbox !== sandbox || entry.destroying || this.#shuttingDown) return;
    const how = signal ? `signal ${signal}` : `exit code ${code}`;
    entry.record.errorMessage =
      sandbox.kind === "vm"
        ? `the VM stopped unexpectedly (QEMU ${how}): ${entry.console.history().subarray(-300).toString("utf8").trim().split(/\r?\n/).pop() ?? ""}`
        : `the zone's init exited unexpectedly (${how})`;
    this.log.warn(`zones: ${entry.record.id}: ${entry.record.errorMessage}`);
    entry.sandbox = undefined;
    entry.record.address = undefined;
    void sandbox.stop().catch((err: unknown) => this.log.warn(`zones: cleanup of ${entry.record.id}`, err)); // removes cgroup and veth left behind
    this.#setState(entry, ZoneState.FAILED);
  }

  /** Starts destruction; resolves once DESTROYING is recorded. `done` resolves at DESTROYED. */
  destroy(id: string): { done: Promise<void> } {
    const entry = this.#entry(id);
    if (entry.destroying) return { done: entry.destroying };
    this.#setState(entry, ZoneState.DESTROYING);
    entry.destroying = this.#destroy(entry);
    return { done: entry.destroying };
  }

  async #destroy(entry: ZoneEntry): Promise<void> {
    const { record } = entry;
    try {
      await entry.boot?.catch(() => undefined);
      await this.beforeDestroy(record.id).catch((err: unknown) =>
        this.log.warn(`zones: destroying workloads of ${record.id}`, err),
      );
      const sandbox = entry.sandbox;
      entry.sandbox = undefined;
      if (sandbox) await sandbox.stop();
      else if (record.runtime) await cleanupLeftovers(this.sandboxHost, record.runtime, this.log);
    } catch (err) {
      this.log.warn(`zones: teardown of ${record.id} was incomplete`, err);
    }
    entry.console.close();
    record.runtime = undefined;
    record.address = undefined;
    this.#setState(entry, ZoneState.DESTROYED);
    this.#zones.delete(record.id);
    this.store.remove("zones", record.id);
    this.log.info(`zones: ${record.id} destroyed`);
  }

  async updateResources(id: string, resources: ZoneResourcesSpec): Promise<void> {
    const entry = this.#entry(id);
    const next = effectiveResources(resources);
    const how = await this.sandbox(id).applyResources(next);
    entry.record.resources = next;
    this.#save(entry.record);
    this.#onDidChange.fire(this.#toProto(entry));
    this.log.info(`zones: ${id} resources now ${next.targetCpus} cpu, ${next.targetMemory} MiB (${how})`);
  }

  /** Stops every sandbox, leaving records on disk as they are (they come back FAILED). */
  async shutdown(): Promise<void> {
    this.#shuttingDown = true;
    const work: Promise<void>[] = [];
    for (const entry of this.#zones.values()) {
      work.push(
        (async () => {
          await entry.boot?.catch(() => undefined);
          await entry.destroying?.catch(() => undefined);
          const sandbox = entry.sandbox;
          entry.sandbox = undefined;
          if (sandbox)
            await sandbox
              .stop()
              .catch((err: unknown) => this.log.warn(`zones: stopping ${entry.record.id}`, err));
          entry.console.close();
        })(),
      );
    }
    await Promise.all(work);
    this.#onDidChange.dispose();
  }

  #entry(id: string): ZoneEntry {
    const entry = this.#zones.get(id);
    if (!entry) throw new DevHostError("notFound", `zone ${id} not found`);
    return entry;
  }

  #setState(entry: ZoneEntry, state: ZoneState): void {
    entry.record.state = state;
    const keepsError =
      state === ZoneState.FAILED || state === ZoneState.DESTROYING || state === ZoneState.DESTROYED;
    if (!keepsError) entry.record.errorMessage = undefined;
    this.#changed(entry);
  }

  #changed(entry: ZoneEntry): void {
    if (entry.record.state !== ZoneState.DESTROYED) this.#save(entry.record);
    this.#onDidChange.fire(this.#toProto(entry));
  }

  #save(record: ZoneRecord): void {
    this.store.save("zones", record.id, serializeRecord(record));
  }

  #banner(record: ZoneRecord): string[] {
    const mode =
      this.sandboxHost.mode === "namespaces"
        ? "namespaces (pid, mount, uts, ipc, net)"
        : "process group (no isolation)";
    return [
      `styrolite dev host zone ${record.spec.name || record.id} (${record.id})`,
      `kernel: shares the host kernel, Linux ${release()} — this is not a VM`,
      `sandbox: ${mode}; limits: ${this.sandboxHost.cgroups.note}`,
      `resources: ${record.resources.targetCpus} cpu, ${record.resources.targetMemory} MiB`,
    ];
  }

  /** How the zone is isolated, in the annotations every zone carries (see annotationKeys). */
  #isolation(entry: ZoneEntry): { isolation: string; sandbox: string; kernel: string; limits: string } {
    const vm = this.sandboxHost.vm;
    if (vm) {
      const running = entry.sandbox instanceof VmZone ? entry.sandbox.facts : undefined;
      const accelerator = running?.accelerator ?? vm.decided?.accelerator;
      return {
        isolation: accelerator ? `vm-${accelerator}` : "vm",
        sandbox: `QEMU virtual machine${accelerator ? (accelerator === "kvm" ? " (KVM)" : " (TCG emulation)") : ""}: own kernel, virtio devices, tap on the dev host bridge; workloads are runc containers in the guest`,
        kernel: `own kernel: Linux ${running?.kernelRelease ?? vm.kernel.release} (the dev host runs Linux ${release()})`,
        limits: "the VM's own vCPUs and memory (balloon; vCPUs online or offline up to max)",
      };
    }
    return this.sandboxHost.mode === "namespaces"
      ? {
          isolation: "namespaces",
          sandbox: "namespaces: pid, mount, uts, ipc, net; veth on the dev host bridge",
          kernel: `shares host kernel (Linux ${release()})`,
          limits: this.sandboxHost.cgroups.note,
        }
      : {
          isolation: "process",
          sandbox: "process group: no isolation, no limits, host network, host filesystem",
          kernel: `shares host kernel (Linux ${release()})`,
          limits: this.sandboxHost.cgroups.note,
        };
  }

  #toProto(entry: ZoneEntry): Zone {
    const r = entry.record;
    const iso = this.#isolation(entry);
    // A copy: create() would hand back the record's own message, and the annotations below
    // would pile up in it with every snapshot.
    const spec = clone(ZoneSpecSchema, r.spec);
    const note = (key: string, value: string) => ({
      $typeName: "protect.control.v1.AnnotationSpec" as const,
      key,
      value,
    });
    spec.annotations = [
      ...r.spec.annotations.filter((a) => !a.key.startsWith(annotationKeys.devhost)),
      note(annotationKeys.devhost, "true"),
      note(annotationKeys.isolation, iso.isolation),
      note(annotationKeys.sandbox, iso.sandbox),
      note(annotationKeys.kernel, iso.kernel),
      note(annotationKeys.limits, iso.limits),
    ];
    const ip = r.address;
    const loopback =
      this.sandboxHost.mode === "process" && (r.state === ZoneState.READY || r.state === ZoneState.CREATED);
    return create(ZoneSchema, {
      id: r.id,
      spec,
      status: {
        state: r.state,
        host: this.host.hostUuid,
        domid: r.domid,
        ...(r.errorMessage !== undefined ? { errorStatus: { message: r.errorMessage } } : {}),
        resourceStatus: { activeResources: r.resources },
        createdAt: timestampFromDate(r.createdAt),
        ...(r.readyAt ? { readyAt: timestampFromDate(r.readyAt) } : {}),
        ...(ip
          ? {
              networkStatus: {
                interfaces: [
                  {
                    hostInterface: ip.hostInterface,
                    zoneInterface: ip.zoneInterface,
                    zoneMac: ip.mac,
                    mtu: 1500,
                    ips: [
                      {
                        version: ZoneNetworkIpVersion.V4,
                        address: `${ip.ip}/${ip.prefixLength}`,
                        gateway: ip.gateway,
                      },
                    ],
                  },
                ],
              },
            }
          : loopback
            ? {
                networkStatus: {
                  interfaces: [
                    {
                      hostInterface: "lo",
                      zoneInterface: "lo",
                      mtu: 65536,
                      ips: [{ version: ZoneNetworkIpVersion.V4, address: "127.0.0.1/8", gateway: "" }],
                    },
                  ],
                },
              }
            : {}),
      },
    });
  }
}

/** Fills in what a spec leaves at zero: target from max, else the defaults. */
export function effectiveResources(input: ZoneResourcesSpec | undefined): ZoneResourcesSpec {
  const r = create(ZoneResourcesSpecSchema, input ?? {});
  if (r.targetCpus === 0) r.targetCpus = r.maxCpus || r.minCpus || defaultZoneCpus;
  if (r.targetMemory === 0n) r.targetMemory = r.maxMemory || r.minMemory || BigInt(defaultZoneMemoryMiB);
  if (r.maxCpus === 0) r.maxCpus = r.targetCpus;
  if (r.maxMemory === 0n) r.maxMemory = r.targetMemory;
  if (r.targetCpus > 4096)
    throw new DevHostError("invalidArgument", `target_cpus ${r.targetCpus} is not a sensible CPU count`);
  if (r.targetMemory < 8n)
    throw new DevHostError(
      "invalidArgument",
      `target_memory is in MiB; ${r.targetMemory} MiB is too little for any zone`,
    );
  return r;
}

export function limitsOf(r: ZoneResourcesSpec): CgroupLimits {
  return { cpus: r.targetCpus, memoryBytes: Number(r.targetMemory) * 1024 * 1024 };
}

function hostnameFor(record: ZoneRecord): string {
  const name = record.spec.name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 63);
  return name || `zone-${record.id.slice(0, 8)}`;
}

function serializeRecord(r: ZoneRecord): unknown {
  return {
    id: r.id,
    spec: toJson(ZoneSpecSchema, r.spec),
    state: ZoneState[r.state],
    errorMessage: r.errorMessage,
    createdAt: r.createdAt.toISOString(),
    readyAt: r.readyAt?.toISOString(),
    domid: r.domid,
    resources: toJson(ZoneResourcesSpecSchema, r.resources),
    address: r.address,
    runtime: r.runtime,
  };
}

function parseRecord(data: unknown): ZoneRecord {
  const d = data as Record<string, unknown>;
  if (typeof d["id"] !== "string") throw new Error("record has no id");
  const stateName = String(d["state"]);
  const state = (ZoneState as unknown as Record<string, ZoneState>)[stateName];
  if (state === undefined) throw new Error(`unknown state ${stateName}`);
  return {
    id: d["id"],
    spec: fromJson(ZoneSpecSchema, (d["spec"] ?? {}) as JsonValue),
    state,
    errorMessage: typeof d["errorMessage"] === "string" ? d["errorMessage"] : undefined,
    createdAt: new Date(String(d["createdAt"])),
    readyAt: typeof d["readyAt"] === "string" ? new Date(d["readyAt"]) : undefined,
    domid: Number(d["domid"] ?? 0),
    resources: fromJson(ZoneResourcesSpecSchema, (d["resources"] ?? {}) as JsonValue),
    address: d["address"] as ZoneAddress | undefined,
    runtime: d["runtime"] as ZoneRuntimeRecord | undefined,
  };
}
