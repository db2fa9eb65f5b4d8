import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadComposeProject } from "../../../extension/core/compose/load";
import { composeToPlan } from "../../../extension/core/compose/toPlan";
import { startServices, waitDependencies } from "../../../extension/core/launch/composeServices";
import type { ServicesRun } from "../../../extension/core/launch/composeServices";
import type { LaunchEvent } from "../../../extension/core/launch/events";
import { LocalHostFiles } from "../../../extension/core/launch/hostFiles";
import { OciImageFormat } from "../../../extension/proto/gen/protect/control/v1/common_pb";
import { FakeHost } from "./fakeHost";

const base = mkdtempSync(join(tmpdir(), "compose-services-"));
after(() => rmSync(base, { recursive: true, force: true }));

async function setup(yaml: string, devService = "app") {
  const loaded = await loadComposeProject({
    files: ["/proj/.devcontainer/compose.yml"],
    env: {},
    localFolder: "/proj",
    readText: async (p) => (p.endsWith("compose.yml") ? yaml : undefined),
  });
  assert.ok(loaded.project, JSON.stringify(loaded.diagnostics));
  const hostWorkspacePath = join(base, `ws-${Math.random().toString(36).slice(2)}`);
  const t = composeToPlan({
    project: loaded.project,
    devService,
    runServices: undefined,
    localFolder: "/proj",
    hostWorkspacePath,
    volumeRoot: join(base, "volumes"),
    zoneName: "proj-zone",
    imageFormat: OciImageFormat.SQUASHFS,
    annotations: [["zones.styrolite.dev/devcontainer-id", "abc"]],
  });
  assert.deepEqual(t.refusals, []);
  const host = new FakeHost();
  const zoneId = "zone-x";
  const events: LaunchEvent[] = [];
  const created: string[] = [];
  const run: ServicesRun = {
    host,
    compose: t.plan!,
    zoneId,
    files: new LocalHostFiles(),
    signal: undefined,
    workloadTimeoutMs: 5_000,
    emit: (e) => events.push(e),
    onCreated: (what) => created.push(what),
    pull: async (reference) => ({
      digest: `sha256:${reference}`,
      format: OciImageFormat.SQUASHFS,
      entrypoint: ["/entry.sh"],
    }),
    build: async (service) => ({ digest: `sha256:built-${service.name}`, format: OciImageFormat.SQUASHFS }),
  };
  return { host, run, plan: t.plan!, events, created };
}

const healthyDb = `
services:
  app:
    image: dev:1
    depends_on: {db: {condition: service_healthy}}
  db:
    image: db:1
    command: ["serve", "--port", "5432"]
    volumes: [data:/var/lib/db]
    healthcheck: {test: ["CMD", "probe"], interval: 10ms, retries: 3, start_period: 0s}
volumes:
  data:
`;

test("the dependency runs first, its healthcheck runs through exec until it passes, the hosts file names every service", async () => {
  const { host, run, plan, events } = await setup(healthyDb);
  let probes = 0;
  host.execResult = (req) => {
    assert.deepEqual(req.command, ["probe"]);
    probes++;
    return { code: probes < 3 ? 1 : 0, stdout: "not yet\n" };
  };
  const started = await startServices(run);
  await waitDependencies(run, "app", plan.devDependsOn, started);
  assert.equal(probes, 3);
  const [db] = [...host.workloads.values()];
  assert.equal(db!.spec!.name, "proj-zone-db");
  assert.equal(db!.spec!.zoneId, "zone-x");
  // Only `command:` was given: the image's entrypoint goes first.
  assert.deepEqual(db!.spec!.process!.command, ["/entry.sh", "serve", "--port", "5432"]);
  assert.ok(db!.spec!.mounts.some((m) => m.targetPath === "/etc/hosts"));
  assert.ok(
    db!.spec!.mounts.some(
      (m) => m.targetPath === "/var/lib/db" && m.hostPath.endsWith("/proj_devcontainer_data"),
    ),
  );
  const hosts = readFileSync(plan.hostsFile.hostPath, "utf8");
  assert.match(hosts, /^127\.0\.0\.1\tproj-zone db app$/m);
  assert.ok(events.some((e) => e.type === "service" && e.service === "db" && /healthy/.test(e.message)));
});

test("a dependency that stays unhealthy stops the launch with its probe's output", async () => {
  const { host, run, plan } = await setup(healthyDb);
  host.execResult = () => ({ code: 1, stdout: "connection refused\n" });
  const started = await startServices(run);
  await assert.rejects(waitDependencies(run, "app", plan.devDependsOn, started), (err: Error) => {
    assert.match(
      err.message,
      /app depends on db \(service_healthy\): db is unhealthy: "probe" failed 3 time/,
    );
    assert.match(err.message, /connection refused/);
    return true;
  });
});

test("service_completed_successfully waits for exit 0; a failed one-shot service stops the launch", async () => {
  const yaml = `
services:
  app: {image: dev:1, depends_on: {migrate: {condition: service_completed_successfully}}}
  migrate: {image: tool:1, command: ["migrate"]}
`;
  const ok = await setup(yaml);
  const started = await startServices(ok.run);
  const id = started.get("migrate")!;
  setTimeout(() => (ok.host.workloads.get(id)!.status!.state = 4 /* COMPLETED */), 20);
  await waitDependencies(ok.run, "app", ok.plan.devDependsOn, started);

  const bad = await setup(yaml);
  const started2 = await startServices(bad.run);
  const id2 = started2.get("migrate")!;
  setTimeout(() => {
    const w = bad.host.workloads.get(id2)!;
    w.status!.state = 7; // FAILED
    w.status!.exitStatus = { $typeName: "protect.control.v1.WorkloadExitStatus", code: 3 };
  }, 20);
  await assert.rejects(
    waitDependencies(bad.run, "app", bad.plan.devDependsOn, started2),
    /app depends on migrate \(service_completed_successfully\): workload of migrate failed with exit code 3/,
  );
});

test("a service already running in a reused zone is kept, not created twice", async () => {
  const { host, run } = await setup(healthyDb);
  await startServices(run);
  const count = host.workloads.size;
  await startServices(run);
  assert.equal(host.workloads.size, count);
});
