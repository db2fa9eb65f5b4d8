// A Compose project end to end: the real CLI → a real OpenSSH sshd → the real dev host. The dev
// service waits for a database service (busybox httpd in the test image) to pass its
// healthcheck, then reaches it by name; `down` removes both.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { annotationKeys } from "../../../extension/core/devcontainer/plan";
import { composeServiceAnnotation } from "../../../extension/core/compose/composePlan";
import { ProtectHost } from "../../../extension/core/protect/host";
import type { Zone } from "../../../extension/proto/gen/protect/control/v1/common_pb";
import { startDevHost } from "../../harness/devHost";
import type { StartedDevHost } from "../../harness/devHost";
import { pushTestImage, startRegistry } from "../../harness/registry";
import type { TestRegistry } from "../../harness/registry";
import { startSshd } from "../../harness/sshd";
import type { Sshd } from "../../harness/sshd";
import { buildTestImage } from "../../harness/testImage";
import { zonectl } from "./cli";

let work: string;
let registry: TestRegistry;
let devHost: StartedDevHost;
let sshd: Sshd;
let api: ProtectHost;
let env: Record<string, string>;

before(async () => {
  work = mkdtempSync(join(tmpdir(), "compose-it-"));
  const image = await buildTestImage(join(work, "image"));
  registry = await startRegistry();
  await pushTestImage(registry, image);
  devHost = await startDevHost();
  sshd = await startSshd();
  api = await ProtectHost.open(`unix://${devHost.socketPath}`);
  env = {
    ZONECTL_HOST: sshd.alias,
    ZONECTL_SSH_CONFIG: sshd.sshConfigPath,
    ZONECTL_SOCKET: devHost.socketPath,
    ZONECTL_WORKSPACE_ROOT: join(work, "host-workspaces"),
    LAUNCH_TEST_IMAGE: `${registry.host}/test/busybox:1`,
  };
});

after(async () => {
  try {
    for (const z of (await api?.listZones().catch(() => [] as Zone[])) ?? [])
      await api.destroyZone(z.id).catch(() => undefined);
  } finally {
    api?.close();
    await sshd?.stop();
    await devHost?.stop();
    await registry?.stop();
    rmSync(work, { recursive: true, force: true });
  }
});

/** The Compose app: `app` (the dev service) depends on a healthy `db` serving HTTP on 8080. */
const composeApp = {
  "devcontainer.json": JSON.stringify({
    name: "compose app",
    dockerComposeFile: "compose.yml",
    service: "app",
    workspaceFolder: "/workspaces/${localWorkspaceFolderBasename}",
    postCreateCommand: "wget -q -O - http://db:8080/ > /tmp/from-db.txt",
  }),
  "compose.yml": `
services:
  app:
    image: \${LAUNCH_TEST_IMAGE}
    command: ["sleep", "1000000"]
    volumes: ["../..:/workspaces:cached"]
    environment: {DB_URL: "http://db:8080/"}
    depends_on:
      db: {condition: service_healthy}
  db:
    image: \${LAUNCH_TEST_IMAGE}
    entrypoint: ["/bin/sh", "-c"]
    # The database comes up late, so the dev service must really wait for the healthcheck.
    command: ["sleep 2; mkdir -p /www && cat /data/seed.txt > /www/index.html && exec httpd -f -p 8080 -h /www"]
    volumes: ["dbdata:/data", "../seed:/data/seed.txt:ro"]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://localhost:8080/"]
      interval: 300ms
      retries: 40
volumes:
  dbdata: {}
`,
};

function makeProject(name: string, files: Record<string, string>): string {
  const folder = join(work, name);
  mkdirSync(join(folder, ".devcontainer"), { recursive: true });
  for (const [file, text] of Object.entries(files)) writeFileSync(join(folder, ".devcontainer", file), text);
  writeFileSync(join(folder, "seed"), "ok-from-db\n");
  return folder;
}

describe("zonectl up of a Compose project on the dev host", () => {
  test("a broken Compose file: an error at compose.yml:line:col, nothing created", async () => {
    const folder = makeProject("broken", {
      ...composeApp,
      "compose.yml": "services:\n  app:\n    image: x\n    depends_on: [nowhere]\n",
    });
    const before = (await api.listZones()).length;
    const r = await zonectl(["up", folder], env);
    assert.equal(r.code, 40, r.stderr);
    assert.match(
      r.stderr,
      /\.devcontainer\/compose\.yml:4:18: error: depends on undefined service "nowhere"/,
    );
    assert.equal((await api.listZones()).length, before);
  });

  test("the dev service starts after the database is healthy, reaches it by name and on localhost; down removes both", async () => {
    const folder = makeProject("shop", composeApp);
    const r = await zonectl(["--json", "up", folder], env, { timeoutMs: 240_000 });
    assert.equal(r.code, 0, `${r.stderr}\n${r.stdout}`);
    const up = JSON.parse(r.stdout.slice(r.stdout.indexOf("{"))) as { zoneName: string; zoneId: string };
    assert.match(r.stderr, /service db: healthy/);

    const workloads = (await api.listWorkloads()).filter((w) => w.spec?.zoneId === up.zoneId);
    const services = workloads.map(
      (w) => w.spec?.annotations.find((a) => a.key === composeServiceAnnotation)?.value ?? "(dev)",
    );
    assert.deepEqual(services.sort(), ["(dev)", "db"]);
    assert.ok(
      workloads.every((w) => w.spec?.annotations.some((a) => a.key === annotationKeys.devcontainerId)),
      "every service carries the project's devcontainer id",
    );

    // postCreateCommand ran in the dev service once db was healthy, and reached it by name.
    const fromHook = await zonectl(["exec", up.zoneName, "--", "cat", "/tmp/from-db.txt"], env);
    assert.equal(fromHook.code, 0, fromHook.stderr);
    assert.equal(fromHook.stdout, "ok-from-db\n");
    const byName = await zonectl(["exec", up.zoneName, "--", "sh", "-c", 'wget -q -O - "$DB_URL"'], env);
    assert.equal(byName.stdout, "ok-from-db\n", byName.stderr);
    const onLocalhost = await zonectl(
      ["exec", up.zoneName, "--", "wget", "-q", "-O", "-", "http://localhost:8080/"],
      env,
    );
    assert.equal(onLocalhost.stdout, "ok-from-db\n", onLocalhost.stderr);
    // ZONE/SERVICE reaches the other service; the project is synced where the Compose bind put it.
    const inDb = await zonectl(["exec", `${up.zoneName}/db`, "--", "cat", "/www/index.html"], env);
    assert.equal(inDb.stdout, "ok-from-db\n", inDb.stderr);
    const workspace = await zonectl(["exec", up.zoneName, "--", "cat", "/workspaces/shop/seed"], env);
    assert.equal(workspace.stdout, "ok-from-db\n", workspace.stderr);

    const down = await zonectl(["down", folder], env, { timeoutMs: 120_000 });
    assert.equal(down.code, 0, down.stderr);
    assert.equal((await api.listZones()).filter((z) => z.id === up.zoneId).length, 0);
    assert.equal((await api.listWorkloads()).filter((w) => w.spec?.zoneId === up.zoneId).length, 0);
    const hostCopies = join(work, "host-workspaces");
    assert.ok(
      !existsSync(hostCopies) ||
        !readdirSync(hostCopies).some((f) => f.endsWith(".compose") || f.length > 40),
      "the workspace copy and the hosts-file folder are gone",
    );
  });
});
