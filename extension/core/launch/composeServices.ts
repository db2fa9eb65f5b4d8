import { clone } from "@bufbuild/protobuf";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, posix } from "node:path";
import { delay } from "../abort";
import { composeServiceAnnotation } from "../compose/composePlan";
import type { ComposePlan, ServiceDependency, ServiceHealthcheck, ServicePlan } from "../compose/composePlan";
import { ProtectError } from "../protect/errors";
import { workloadStateName } from "../protect/zoneFacts";
import { WorkloadSpecSchema, WorkloadState } from "../../proto/gen/protect/control/v1/common_pb";
import type { OciImageFormat, Workload, WorkloadSpec } from "../../proto/gen/protect/control/v1/common_pb";
import { LaunchError } from "./errors";
import type { LaunchEvent } from "./events";
import type { HostFiles } from "./hostFiles";
import type { LaunchHost } from "./launchHost";
import { ensureHostDirectory } from "./workspaceSync";

/** What starting a zone's Compose services needs from the launch executor. */
export interface ServicesRun {
  readonly host: LaunchHost;
  readonly compose: ComposePlan;
  readonly zoneId: string;
  readonly files: HostFiles;
  readonly signal: AbortSignal | undefined;
  readonly workloadTimeoutMs: number;
  emit(event: LaunchEvent): void;
  /** Registers the undo of something this run created (newest undone first). */
  onCreated(what: string, undo: (signal: AbortSignal) => Promise<void>): void;
  pull(
    reference: string,
    format: OciImageFormat,
  ): Promise<{ digest: string; format: OciImageFormat; entrypoint?: readonly string[] }>;
  /** Builds a service's image on this machine and gets it onto the host (`build:` services). */
  build(
    service: ServicePlan,
  ): Promise<{ digest: string; format: OciImageFormat; entrypoint?: readonly string[] }>;
}

/** The workloads of the services, by service name, once started. */
export type ServiceWorkloads = Map<string, string>;

/**
 * Writes the zone's hosts file, creates the services' volume folders, then starts each sibling
 * service in order, each after its dependencies' conditions hold. A service whose workload
 * already runs in a reused zone is kept; a failed one is replaced. Resolves with the workload
 * id of every service, for the dev service's own dependencies.
 */
export async function startServices(run: ServicesRun): Promise<ServiceWorkloads> {
  const { host, compose, files, signal } = run;
  await writeHostFile(files, compose.hostsFile.hostPath, compose.hostsFile.content);
  for (const s of compose.services) for (const v of s.volumes) await ensureHostDirectory(files, v.hostPath);

  const existing = new Map<string, Workload>();
  for (const w of await host.listWorkloads({ signal: signal })) {
    if (w.spec?.zoneId !== run.zoneId) continue;
    const name = w.spec.annotations.find((a) => a.key === composeServiceAnnotation)?.value;
    if (name) existing.set(name, w);
  }
  const started: ServiceWorkloads = new Map();
  for (const service of compose.services) {
    await waitDependencies(run, service.name, service.dependsOn, started);
    const found = existing.get(service.name);
    const state = found?.status?.state;
    if (found && (state === WorkloadState.RUNNING || state === WorkloadState.COMPLETED)) {
      started.set(service.name, found.id);
      run.emit({
        type: "service",
        service: service.name,
        message: `reusing workload ${found.id} (${workloadStateName(state)})`,
      });
      continue;
    }
    if (found) await host.destroyWorkload(found.id, { signal: signal });
    started.set(service.name, await createService(run, service));
  }
  return started;
}

/** Waits until every dependency of `who` holds (as Compose's `depends_on` conditions say). */
export async function waitDependencies(
  run: ServicesRun,
  who: string,
  dependencies: readonly ServiceDependency[],
  started: ReadonlyMap<string, string>,
): Promise<void> {
  for (const dep of dependencies) {
    const workloadId = started.get(dep.service);
    const service = run.compose.services.find((s) => s.name === dep.service);
    try {
      if (!workloadId || !service) throw new Error(`service ${dep.service} was not started`);
      if (dep.condition === "service_started") await waitState(run, service, workloadId, "running");
      else if (dep.condition === "service_completed_successfully")
        await waitState(run, service, workloadId, "completed");
      else await waitHealthy(run, service, workloadId);
    } catch (err) {
      if (LaunchError.is(err, "cancelled") || run.signal?.aborted) throw err;
      const message = `${who} depends on ${dep.service} (${dep.condition}): ${err instanceof Error ? err.message : String(err)}`;
      if (!dep.required) {
        run.emit({ type: "warning", message: `${message}; not required, going on` });
        continue;
      }
      throw new LaunchError("workloadFailed", message, {}, { cause: err });
    }
  }
}

async function createService(run: ServicesRun, service: ServicePlan): Promise<string> {
  const { host, signal } = run;
  const spec: WorkloadSpec = clone(WorkloadSpecSchema, service.workloadSpec);
  spec.zoneId = run.zoneId;
  const pulled = service.build
    ? await run.build(service)
    : await run.pull(service.image.reference, service.image.format);
  spec.image = { ...spec.image!, digest: pulled.digest, format: pulled.format };
  if (service.prependImageEntrypoint && spec.process)
    spec.process.command = [...(pulled.entrypoint ?? []), ...spec.process.command];
  const id = await host.createWorkload(spec, { signal: signal });
  run.onCreated(`workload ${spec.name} (${id}) of service ${service.name}`, async (s) => {
    await host.destroyWorkload(id, { signal: s }).catch(() => undefined);
  });
  // A daemon that does not start workloads on create leaves them CREATED.
  const settled = await host.waitForWorkload(id, (w) => w?.status?.state !== WorkloadState.CREATING, {
    timeoutMs: run.workloadTimeoutMs,
    ...(signal ? { signal } : {}),
  });
  if (settled?.status?.state === WorkloadState.CREATED) {
    try {
      await host.startWorkload(id, { signal: signal });
    } catch (err) {
      if (!ProtectError.is(err, "failedPrecondition") && !ProtectError.is(err, "alreadyExists")) throw err;
    }
  }
  run.emit({ type: "service", service: service.name, message: `workload ${spec.name} (${id}) created` });
  return id;
}

/** RUNNING (or later) for "running"; COMPLETED with exit code 0 for "completed". */
async function waitState(
  run: ServicesRun,
  service: ServicePlan,
  workloadId: string,
  want: "running" | "completed",
): Promise<void> {
  const done = [WorkloadState.COMPLETED, WorkloadState.FAILED];
  const w = await run.host.waitForWorkload(
    workloadId,
    (x) => {
      const s = x?.status?.state ?? WorkloadState.DESTROYED;
      return x === undefined || done.includes(s) || (want === "running" && s === WorkloadState.RUNNING);
    },
    { timeoutMs: run.workloadTimeoutMs, ...(run.signal ? { signal: run.signal } : {}) },
  );
  const state = w?.status?.state ?? WorkloadState.DESTROYED;
  const exit = w?.status?.exitStatus?.code;
  if (want === "running" && (state === WorkloadState.RUNNING || (state === WorkloadState.COMPLETED && !exit)))
    return;
  if (want === "completed" && state === WorkloadState.COMPLETED && !exit) return;
  const why = w?.status?.errorStatus?.message;
  throw new Error(
    `workload of ${service.name} ${workloadStateName(state)}${exit ? ` with exit code ${exit}` : ""}${why ? `: ${why}` : ""}`,
  );
}

/**
 * Runs the service's healthcheck through exec until it passes, as Docker does: every
 * `start_interval` during `start_period` (failures there do not count), then every `interval`;
 * `retries` failures in a row make the service unhealthy. A probe that outlives `timeout` fails.
 */
async function waitHealthy(run: ServicesRun, service: ServicePlan, workloadId: string): Promise<void> {
  const check = service.healthcheck;
  if (!check) throw new Error(`service ${service.name} has no healthcheck`);
  await waitState(run, service, workloadId, "running");
  const began = Date.now();
  let failures = 0;
  let last: string;
  for (;;) {
    const inStart = Date.now() - began < check.startPeriodMs;
    const result = await probe(run, workloadId, check);
    if (result.code === 0) {
      run.emit({ type: "service", service: service.name, message: `healthy (${check.display})` });
      return;
    }
    last = result.output;
    if (!inStart) failures++;
    if (failures >= Math.max(1, check.retries))
      throw new Error(
        `${service.name} is unhealthy: "${check.display}" failed ${failures} time(s) in a row${last ? `; last output: ${last.trim().slice(-300)}` : ""}`,
      );
    const state = (await run.host.listWorkloads({ signal: run.signal })).find((w) => w.id === workloadId)
      ?.status?.state;
    if (state !== undefined && state !== WorkloadState.RUNNING)
      throw new Error(
        `workload of ${service.name} ${workloadStateName(state)} while its healthcheck was failing`,
      );
    await delay(inStart ? check.startIntervalMs : check.intervalMs, run.signal);
  }
}

async function probe(
  run: ServicesRun,
  workloadId: string,
  check: ServiceHealthcheck,
): Promise<{ code: number; output: string }> {
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), check.timeoutMs);
  const onAbort = (): void => timeout.abort();
  run.signal?.addEventListener("abort", onAbort, { once: true });
  const chunks: Buffer[] = [];
  try {
    const code = await run.host.exec(
      { zoneId: run.zoneId, workloadId, command: check.argv },
      {
        onStdout: (d) => chunks.push(Buffer.from(d)),
        onStderr: (d) => chunks.push(Buffer.from(d)),
        signal: timeout.signal,
      },
    );
    return { code, output: Buffer.concat(chunks).toString("utf8") };
  } catch (err) {
    if (run.signal?.aborted) throw err;
    if (timeout.signal.aborted) return { code: -1, output: `timed out after ${check.timeoutMs} ms` };
    return { code: -1, output: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
    run.signal?.removeEventListener("abort", onAbort);
  }
}

/** Puts a small text file on the host (HostFiles copies files, so it goes through a local temp file). */
async function writeHostFile(files: HostFiles, hostPath: string, content: string): Promise<void> {
  await ensureHostDirectory(files, posix.dirname(hostPath));
  const dir = await mkdtemp(join(tmpdir(), "zones-compose-"));
  try {
    const local = join(dir, "file");
    await writeFile(local, content);
    await files.upload(local, hostPath, { mode: 0o644, mtime: Math.floor(Date.now() / 1000) });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
