import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DevcontainerError } from "../../../extension/core/devcontainer/errors";
import { planFromPath } from "../../../extension/core/devcontainer/load";
import { planToJson } from "../../../extension/core/devcontainer/planJson";
import { renderPlan } from "../../../extension/core/devcontainer/renderPlan";
import { ProcessNamespace } from "../../../extension/proto/gen/protect/control/v1/common_pb";

const base = mkdtempSync(join(tmpdir(), "compose-plan-"));
after(() => rmSync(base, { recursive: true, force: true }));
let n = 0;

function project(devcontainer: Record<string, unknown>, files: Record<string, string>): string {
  const folder = join(base, `app${n++}`);
  mkdirSync(join(folder, ".devcontainer"), { recursive: true });
  writeFileSync(join(folder, ".devcontainer/devcontainer.json"), JSON.stringify(devcontainer, null, 2));
  for (const [p, text] of Object.entries(files)) writeFileSync(join(folder, ".devcontainer", p), text);
  return folder;
}

const compose = `
services:
  app:
    image: dev:1
    command: sleep infinity
    environment: {FROM_COMPOSE: "1", SHARED: compose}
    volumes: ["../..:/workspaces:cached", "cache:/cache"]
    depends_on: {db: {condition: service_healthy}}
  db:
    image: postgres:16
    environment: {POSTGRES_PASSWORD: pw}
    volumes: [data:/var/lib/postgresql/data]
    ports: ["5432:5432"]
    healthcheck: {test: ["CMD", "pg_isready"], interval: 1s}
  unused:
    image: other:1
    profiles: [extra]
volumes: {data: {}, cache: {}}
`;

test("a Compose project plans one zone: the dev service is the workload, the others its siblings", async () => {
  const folder = project(
    {
      dockerComposeFile: "docker-compose.yml",
      service: "app",
      workspaceFolder: "/workspaces/${localWorkspaceFolderBasename}",
      containerEnv: { SHARED: "devcontainer" },
      postCreateCommand: "echo hi",
    },
    { "docker-compose.yml": compose },
  );
  const { plan } = await planFromPath(folder, { cwd: folder, env: {} });
  assert.deepEqual(plan.refusals, []);
  assert.equal(plan.images.find((i) => i.role === "workload")?.reference, "dev:1");
  const w = plan.workloadSpec;
  assert.deepEqual(w.process?.command, ["sleep", "infinity"]);
  assert.equal(plan.compose?.devPrependImageEntrypoint, true);
  const env = Object.fromEntries((w.process?.environment ?? []).map((e) => [e.key, e.value]));
  assert.deepEqual(
    env,
    { FROM_COMPOSE: "1", SHARED: "devcontainer" },
    "containerEnv wins over the Compose file",
  );
  const name = folder.slice(folder.lastIndexOf("/") + 1);
  const mounts = w.mounts.map((m) => `${m.hostPath} → ${m.targetPath}`);
  assert.ok(mounts.includes(`${plan.sync.hostPath} → /workspaces/${name}`), mounts.join("\n"));
  assert.ok(mounts.some((m) => m.endsWith(`_devcontainer_cache → /cache`)));
  assert.ok(mounts.includes(`${plan.sync.hostPath}.compose/hosts → /etc/hosts`));
  assert.deepEqual(w.security?.disableNamespaces, [ProcessNamespace.NET]);
  assert.equal(plan.hooks.length, 1, "the devcontainer's hooks go to the dev service");

  const c = plan.compose;
  assert.deepEqual(
    c.services.map((s) => s.name),
    ["db"],
    "profiled-out services without a dependant stay off",
  );
  assert.deepEqual(c.devDependsOn, [{ service: "db", condition: "service_healthy", required: true }]);
  const db = c.services[0]!;
  assert.equal(db.image.reference, "postgres:16");
  assert.deepEqual(db.healthcheck?.argv, ["pg_isready"]);
  assert.ok(db.workloadSpec.annotations.some((a) => a.key === "zones.styrolite.dev/devcontainer-id"));
  assert.ok(db.workloadSpec.mounts.some((m) => m.targetPath === "/var/lib/postgresql/data"));
  assert.match(c.hostsFile.content, /127\.0\.0\.1\t\S+ db app/);
  assert.deepEqual(
    plan.forwards.map((f) => [f.localPort, f.containerPort, f.label]),
    [[5432, 5432, "db"]],
  );
  const json = JSON.parse(JSON.stringify(planToJson(plan))) as {
    compose: { services: Array<{ name: string }> };
  };
  assert.equal(json.compose.services[0]!.name, "db");
  assert.match(renderPlan(plan), /service db: workload \S+-db, image postgres:16/);
  assert.ok(plan.properties.some((p) => p.property === "dockerComposeFile" && p.status === "translated"));
});

test("two services on one port, an unknown service: refusals that say why", async () => {
  const clash = project(
    { dockerComposeFile: "c.yml", service: "app" },
    { "c.yml": "services:\n  app: {image: a, ports: ['8080']}\n  web: {image: b, expose: ['8080']}\n" },
  );
  const { plan } = await planFromPath(clash, { cwd: clash, env: {} });
  assert.equal(plan.launchable, false);
  assert.match(plan.refusals.join("\n"), /services "app" and "web" both claim port 8080\/tcp/);

  const unknown = project(
    { dockerComposeFile: "c.yml", service: "nope" },
    { "c.yml": "services:\n  app: {image: a}\n" },
  );
  const r = await planFromPath(unknown, { cwd: unknown, env: {} });
  assert.match(r.plan.refusals.join("\n"), /service "nope" is not defined in c\.yml \(services: app\)/);
});

test("a broken or missing Compose file is an error located in the file it concerns", async () => {
  const broken = project(
    { dockerComposeFile: "c.yml", service: "app" },
    { "c.yml": "services:\n  app:\n    image: a\n    volumes: [nope:/x]\n" },
  );
  await assert.rejects(planFromPath(broken, { cwd: broken, env: {} }), (err: unknown) => {
    assert.ok(DevcontainerError.is(err, "invalid"));
    const d = err.diagnostics.find((x) => x.severity === "error")!;
    assert.equal(`${d.file.endsWith("c.yml")} ${d.line}:${d.column}`, "true 4:15");
    return true;
  });
  const missing = project(
    { dockerComposeFile: ["c.yml", "gone.yml"], service: "app" },
    { "c.yml": "services: {app: {image: a}}\n" },
  );
  await assert.rejects(planFromPath(missing, { cwd: missing, env: {} }), (err: unknown) => {
    assert.ok(DevcontainerError.is(err, "invalid"));
    const d = err.diagnostics.find((x) => x.severity === "error")!;
    assert.ok(d.file.endsWith("devcontainer.json") && d.line === 4, `${d.file}:${d.line}`);
    assert.match(d.message, /gone\.yml: no such Compose file/);
    return true;
  });
});
