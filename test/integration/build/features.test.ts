// Features and Dockerfile builds end to end: the real zonectl against the real dev host (gRPC on
// its unix socket), features published to a loopback docker-registry as the distribution spec
// says (OCI artifact, tar layer, application/vnd.devcontainers config), built with the real
// buildah on this machine (its storage in the test's folder) and sent with ImportImage.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ProtectHost } from "../../../extension/core/protect/host";
import { findBuilder } from "../../../extension/core/build/builder";
import { buildahContainers, buildahImages, removeBuildStorage } from "../../harness/buildStorage";
import { startDevHost } from "../../harness/devHost";
import type { StartedDevHost } from "../../harness/devHost";
import { publishFeature } from "../../harness/featureArtifacts";
import { pushTestImage, startRegistry } from "../../harness/registry";
import type { TestRegistry } from "../../harness/registry";
import { buildTestImage } from "../../harness/testImage";
import { CliRun, zonectl } from "../launch/cli";

let work: string;
let registry: TestRegistry;
let devHost: StartedDevHost;
let api: ProtectHost;
let base: string;
let env: Record<string, string>;
let buildRoot: string;
let temp: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), "zones-features-it-"));
  registry = await startRegistry();
  ({ single: base } = await pushTestImage(registry, await buildTestImage(join(work, "image"))));
  await publishFeature(registry, "features/greeter", ["1", "1.0.0"], {
    json: {
      id: "greeter",
      version: "1.0.0",
      options: {
        greeting: { type: "string", default: "hello" },
        loud: { type: "boolean", default: false },
      },
      containerEnv: { GREETER_HOME: "/opt/greeter", PATH: "/opt/greeter/bin:${PATH}" },
      dependsOn: { [`${registry.host}/features/base-tools:1`]: { flavour: "plain" } },
      postCreateCommand: "cat /opt/greeter/greeting > /tmp/order; echo greeter >> /tmp/order",
    },
    files: {
      "install.sh": [
        "#!/bin/sh",
        "set -e",
        "test -f /opt/base-tools/flavour # dependsOn installed first",
        "mkdir -p /opt/greeter/bin",
        'echo "$GREETING|$LOUD|$_REMOTE_USER|$_REMOTE_USER_HOME|$_CONTAINER_USER" > /opt/greeter/greeting',
        "",
      ].join("\n"),
    },
  });
  await publishFeature(registry, "features/base-tools", ["1"], {
    json: { id: "base-tools", version: "1.2.0", options: { flavour: { type: "string", default: "x" } } },
    files: {
      "install.sh":
        '#!/bin/sh\nset -e\nmkdir -p /opt/base-tools\necho "$FLAVOUR" > /opt/base-tools/flavour\n',
    },
  });
  await publishFeature(registry, "features/broken", ["1"], {
    json: { id: "broken", version: "0.1.0" },
    files: {
      "install.sh": "#!/bin/sh\necho 'installing broken'\necho 'the last words of broken' >&2\nexit 3\n",
    },
  });
  await publishFeature(registry, "features/slow", ["1"], {
    json: { id: "slow", version: "0.1.0" },
    files: { "install.sh": "#!/bin/sh\necho slow-started\nsleep 1234\n" },
  });
  devHost = await startDevHost();
  api = await ProtectHost.open(`unix://${devHost.socketPath}`);
  buildRoot = join(work, "build-root");
  temp = join(work, "tmp");
  mkdirSync(temp);
  env = {
    ZONECTL_HOST: `unix://${devHost.socketPath}`,
    ZONECTL_WORKSPACE_ROOT: join(work, "host-workspaces"),
    ZONES_BUILD_ROOT: buildRoot,
    TMPDIR: temp,
  };
});

after(async () => {
  api?.close();
  await devHost?.stop();
  await registry?.stop();
  if (buildRoot) removeBuildStorage(buildRoot);
  rmSync(work, { recursive: true, force: true });
});

function project(name: string, config: Record<string, unknown>, files: Record<string, string> = {}): string {
  const dir = join(work, name);
  mkdirSync(join(dir, ".devcontainer"), { recursive: true });
  writeFileSync(join(dir, ".devcontainer/devcontainer.json"), JSON.stringify(config, null, 2));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, ".."), { recursive: true });
    writeFileSync(join(dir, path), text, { mode: path.endsWith(".sh") ? 0o755 : 0o644 });
  }
  return dir;
}

async function exec(zone: string, script: string): Promise<string> {
  const r = await zonectl(["exec", zone, "--", "sh", "-c", script], env);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

async function hostImageNames(): Promise<string[]> {
  return (await api.listImages()).flatMap((i) => [...i.names]);
}

// tsx keeps its own cache in TMPDIR; ours are zones-*.
const ours = (names: string[]): string[] => names.filter((n) => n.startsWith("zones-"));

const doneSteps = (json: { timings: Array<{ step: string; outcome: string }> }): string[] =>
  json.timings.filter((t) => t.outcome === "done").map((t) => t.step);

describe("features from a loopback registry", () => {
  test("image + OCI features with options and dependsOn: installed in order, contributions applied, lockfile written; a second up builds nothing", async () => {
    const dir = project("features", {
      image: base,
      remoteUser: "tester",
      features: { [`${registry.host}/features/greeter:1`]: { greeting: "hi there", loud: true } },
      postCreateCommand: "echo devcontainer.json >> /tmp/order",
    });
    const first = await zonectl(["--json", "up", dir], env, { timeoutMs: 300_000 });
    assert.equal(first.code, 0, first.stderr);
    const result = JSON.parse(first.stdout) as {
      zoneName: string;
      timings: Array<{ step: string; outcome: string }>;
    };
    assert.deepEqual(
      doneSteps(result).filter((s) => /Image$/.test(s)),
      ["resolveImage", "buildImage", "exportImage", "importImage"],
    );
    assert.match(first.stderr, /\[build\].*==> styrolite-zones feature 0: .*base-tools:1/);
    // Options and built-in variables reached install.sh; the dependency was there first.
    assert.equal(
      (await exec(result.zoneName, "cat /opt/greeter/greeting /opt/base-tools/flavour")).trim(),
      "hi there|true|tester|/home/tester|root\nplain",
    );
    // containerEnv became image ENV; the feature's postCreateCommand ran before the file's.
    assert.equal(
      (await exec(result.zoneName, 'echo "$GREETER_HOME $PATH"; cat /tmp/order')).trim(),
      "/opt/greeter /opt/greeter/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nhi there|true|tester|/home/tester|root\ngreeter\ndevcontainer.json",
    );
    const lock = JSON.parse(readFileSync(join(dir, ".devcontainer/devcontainer-lock.json"), "utf8")) as {
      features: Record<string, { version: string; integrity: string; dependsOn?: string[] }>;
    };
    assert.deepEqual(Object.keys(lock.features), [
      `${registry.host}/features/base-tools:1`,
      `${registry.host}/features/greeter:1`,
    ]);
    assert.equal(lock.features[`${registry.host}/features/base-tools:1`]?.version, "1.2.0");
    assert.deepEqual(lock.features[`${registry.host}/features/greeter:1`]?.dependsOn, [
      `${registry.host}/features/base-tools:1`,
    ]);
    const label = execFileSync(
      "buildah",
      [
        "--root",
        join(buildRoot, "root"),
        "--runroot",
        join(buildRoot, "runroot"),
        "inspect",
        "--type",
        "image",
        "--format",
        '{{index .OCIv1.Config.Labels "devcontainer.metadata"}}',
        (await hostImageNames()).find((n) => n.includes("zones-build/features-"))!,
      ],
      { encoding: "utf8" },
    );
    assert.match(label, /"id":".*greeter:1","postCreateCommand"/);

    assert.equal((await zonectl(["down", dir], env)).code, 0);
    const second = await zonectl(["--json", "up", dir], env, { timeoutMs: 120_000 });
    assert.equal(second.code, 0, second.stderr);
    const again = JSON.parse(second.stdout) as {
      zoneName: string;
      timings: Array<{ step: string; outcome: string }>;
    };
    assert.deepEqual(
      doneSteps(again).filter((s) => /Image$/.test(s)),
      ["resolveImage", "importImage"],
      "same cache key: no build, no export; the host's copy is used",
    );
    assert.match(second.stderr, /buildImage skipped: the host has this image/);
    assert.equal(
      (await exec(again.zoneName, "cat /tmp/order")).trim().split("\n").length,
      3,
      "hooks ran again in the new zone",
    );
    assert.equal((await zonectl(["down", dir], env)).code, 0);
  });

  test("a failing install.sh stops at the build with the feature and its last lines; nothing is left behind", async () => {
    const dir = project("broken", {
      image: base,
      features: { [`${registry.host}/features/broken:1`]: {} },
    });
    const imagesBefore = await hostImageNames();
    const r = await zonectl(["up", dir], env, { timeoutMs: 300_000 });
    assert.equal(r.code, 50, r.stderr);
    assert.match(r.stderr, /✗ buildImage failed after .*feature ".*features\/broken:1" failed to install/);
    assert.match(r.stderr, /the last words of broken/);
    assert.deepEqual(await hostImageNames(), imagesBefore, "no image imported");
    const zones = await api.listZones();
    assert.equal(zones.filter((z) => z.spec?.name.startsWith("broken-")).length, 0, "no zone");
    assert.deepEqual(ours(readdirSync(temp)), [], "no temporary folders");
    assert.equal(existsSync(join(dir, ".devcontainer/devcontainer-lock.json")), false, "no lockfile");
    assert.deepEqual(buildahContainers(buildRoot), [], "no working container");
  });

  test("an unreachable registry names the feature reference and the registry", async () => {
    const dir = project("unreachable", { image: base, features: { "127.0.0.1:9/features/nowhere:1": {} } });
    const r = await zonectl(["up", dir], env, { timeoutMs: 120_000 });
    assert.equal(r.code, 50, r.stderr);
    assert.match(
      r.stderr,
      /feature "127\.0\.0\.1:9\/features\/nowhere:1": cannot reach the registry 127\.0\.0\.1:9/,
    );
  });

  test("Ctrl-C during a build stops buildah and rolls back", async () => {
    const dir = project("slow", { image: base, features: { [`${registry.host}/features/slow:1`]: {} } });
    const run = new CliRun(["up", dir], env, { timeoutMs: 300_000 });
    await run.waitFor(/slow-started/, 240_000);
    run.child.kill("SIGINT");
    const r = await run.done;
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stderr, /cancelled/);
    assert.equal(
      spawnSync("pgrep", ["-f", "sleep 1234"]).status,
      1,
      "the install script was stopped with buildah",
    );
    assert.deepEqual(buildahContainers(buildRoot), []);
    assert.deepEqual(ours(readdirSync(temp)), []);
  });
});

describe("an image's own devcontainer.metadata", () => {
  test("a prebuilt image's label applies to an image-only launch: its user, environment and hooks", async () => {
    const builder = await findBuilder({ choice: "buildah", storageRoot: buildRoot });
    const ctx = join(work, "prebuilt-ctx");
    mkdirSync(ctx, { recursive: true });
    writeFileSync(join(ctx, "Dockerfile"), `FROM ${base}\n`);
    await builder.build({
      context: ctx,
      dockerfile: join(ctx, "Dockerfile"),
      tag: "localhost/zones-it/prebuilt:1",
      labels: {
        "devcontainer.metadata": JSON.stringify([
          { remoteUser: "tester", containerEnv: { FROM_LABEL: "yes" } },
          { id: "some-feature", postCreateCommand: "id -un > /tmp/label-user" },
        ]),
      },
    });
    await builder.push("localhost/zones-it/prebuilt:1", `${registry.host}/prebuilt/app:1`);
    const dir = project("prebuilt", { image: `${registry.host}/prebuilt/app:1` });
    const r = await zonectl(["--json", "up", dir], env, { timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /from feature some-feature: postCreateCommand/);
    const { zoneName } = JSON.parse(r.stdout) as { zoneName: string };
    assert.equal((await exec(zoneName, 'cat /tmp/label-user; echo "$FROM_LABEL"')).trim(), "tester\nyes");
    assert.equal((await zonectl(["down", dir], env)).code, 0);
  });
});

describe("a Dockerfile build", () => {
  test("--push: the built image goes to the registry and the host pulls it from there", async () => {
    const dir = project(
      "pushed",
      { build: { dockerfile: "Dockerfile" } },
      { ".devcontainer/Dockerfile": `FROM ${base}\nRUN echo pushed > /pushed\n` },
    );
    const r = await zonectl(["--json", "up", "--push", registry.host, dir], env, { timeoutMs: 300_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`✓ exportImage .*pushed ${registry.host.replace(/\./g, "\\.")}/zones-build/pushed-`),
    );
    assert.match(r.stderr, /✓ importImage .*pulled/);
    const { zoneName } = JSON.parse(r.stdout) as { zoneName: string };
    assert.equal((await exec(zoneName, "cat /pushed")).trim(), "pushed");
    const tags = (await (await fetch(`${registry.url}/v2/_catalog`)).json()) as { repositories: string[] };
    assert.ok(
      tags.repositories.some((n) => n.startsWith("zones-build/pushed-")),
      JSON.stringify(tags),
    );
    assert.ok((await hostImageNames()).some((n) => n.startsWith(`${registry.host}/zones-build/pushed-`)));
    assert.equal((await zonectl(["down", dir], env)).code, 0);
  });

  test("args and a target stage, a local feature on top", async () => {
    const dir = project(
      "dockerfile",
      {
        build: { dockerfile: "Dockerfile", context: "..", args: { FLAVOUR: "from-args" }, target: "dev" },
        features: { "./local-feature": { message: "local says hi" } },
      },
      {
        ".devcontainer/Dockerfile": [
          `FROM ${base} AS dev`,
          "ARG FLAVOUR=unset",
          "COPY app.txt /app.txt",
          'RUN echo "$FLAVOUR" > /flavour',
          "FROM dev AS other",
          "RUN exit 1",
          "",
        ].join("\n"),
        "app.txt": "from the context\n",
        ".devcontainer/local-feature/devcontainer-feature.json": JSON.stringify({
          id: "local-feature",
          version: "0.0.1",
          options: { message: { type: "string", default: "none" } },
        }),
        ".devcontainer/local-feature/install.sh": '#!/bin/sh\nset -e\necho "$MESSAGE" > /local-message\n',
      },
    );
    const r = await zonectl(["--json", "up", dir], env, { timeoutMs: 300_000 });
    assert.equal(r.code, 0, r.stderr);
    const { zoneName } = JSON.parse(r.stdout) as { zoneName: string };
    assert.equal(
      (await exec(zoneName, "cat /flavour /app.txt /local-message")).trim(),
      "from-args\nfrom the context\nlocal says hi",
    );
    assert.equal(
      existsSync(join(dir, ".devcontainer/devcontainer-lock.json")),
      false,
      "local features are not pinned",
    );
    assert.ok(buildahImages(buildRoot).some((i) => i.includes("zones-build/dockerfile-")));
    assert.equal((await zonectl(["down", dir], env)).code, 0);
  });
});

describe("a Compose project with build: services", () => {
  test("the dev service is built with a feature on top; a sibling is built from its own Dockerfile and reached by name", async () => {
    const dir = project(
      "composebuild",
      {
        dockerComposeFile: "compose.yml",
        service: "app",
        workspaceFolder: "/workspaces/composebuild",
        features: { "./marker": {} },
        postCreateCommand: "wget -q -O - http://web:8080/ > /tmp/from-web",
      },
      {
        ".devcontainer/compose.yml": [
          "services:",
          "  app:",
          "    build: {context: ., dockerfile: app.Dockerfile, args: {WHO: app}}",
          '    command: ["sleep", "1000000"]',
          "    depends_on: [web]",
          "  web:",
          "    build: {context: web, target: serve}",
          '    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]',
          "",
        ].join("\n"),
        ".devcontainer/app.Dockerfile": `FROM ${base}\nARG WHO=nobody\nRUN echo "$WHO" > /who\n`,
        ".devcontainer/web/Dockerfile": `FROM ${base} AS serve\nRUN mkdir -p /www && echo built-web > /www/index.html\n`,
        ".devcontainer/marker/devcontainer-feature.json": JSON.stringify({ id: "marker", version: "1.0.0" }),
        ".devcontainer/marker/install.sh": "#!/bin/sh\necho feature-on-app > /marker\n",
      },
    );
    const r = await zonectl(["--json", "up", dir], env, { timeoutMs: 300_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /service web: building/);
    const { zoneName } = JSON.parse(r.stdout) as { zoneName: string };
    assert.equal(
      (await exec(zoneName, "cat /who /marker /tmp/from-web")).trim(),
      "app\nfeature-on-app\nbuilt-web",
    );
    const names = await hostImageNames();
    assert.ok(
      names.some((n) => n.includes("zones-build/composebuild-") && n.includes("-web:")),
      names.join(", "),
    );
    assert.equal((await zonectl(["down", dir], env)).code, 0);
  });
});

describe("lockfile and credentials", () => {
  test("devcontainer-lock.json: a pin is honoured after the tag moves; --frozen-lockfile refuses a missing or different one; without the pin the new version is used and written", async () => {
    const publish = (text: string): Promise<string> =>
      publishFeature(registry, "features/moving", ["1"], {
        json: { id: "moving", version: text === "first" ? "1.0.0" : "1.0.1" },
        files: { "install.sh": `#!/bin/sh\necho ${text} > /moving\n` },
      });
    const ref = `${registry.host}/features/moving:1`;
    const pinOf = (path: string): { version: string; resolved: string; integrity: string } | undefined =>
      (
        JSON.parse(readFileSync(path, "utf8")) as {
          features: Record<string, { version: string; resolved: string; integrity: string }>;
        }
      ).features[ref];
    const first = await publish("first");
    const dir = project("pinned", { image: base, features: { [ref]: {} } });
    const a = await zonectl(["--json", "up", dir], env, { timeoutMs: 300_000 });
    assert.equal(a.code, 0, a.stderr);
    const lockPath = join(dir, ".devcontainer/devcontainer-lock.json");
    const lock = readFileSync(lockPath, "utf8");
    assert.deepEqual(pinOf(lockPath), {
      version: "1.0.0",
      resolved: `${registry.host}/features/moving@${first}`,
      integrity: first,
    });

    // The tag now names another manifest; the lockfile still pins the first.
    const second = await publish("second");
    assert.notEqual(second, first);
    const b = await zonectl(["--json", "up", "--recreate", dir], env, { timeoutMs: 300_000 });
    assert.equal(b.code, 0, b.stderr);
    assert.equal(
      (await exec((JSON.parse(b.stdout) as { zoneName: string }).zoneName, "cat /moving")).trim(),
      "first",
    );
    assert.equal(readFileSync(lockPath, "utf8"), lock, "the lockfile is left as it was");

    // Frozen: a feature the lockfile does not pin is refused before anything is built, created or
    // replaced: with --recreate the running zone stays.
    const zonesBefore = (await api.listZones()).map((z) => z.id).sort();
    writeFileSync(
      join(dir, ".devcontainer/devcontainer.json"),
      JSON.stringify({
        image: base,
        features: { [ref]: {}, [`${registry.host}/features/base-tools:1`]: {} },
      }),
    );
    const different = await zonectl(["up", "--recreate", "--frozen-lockfile", dir], env, {
      timeoutMs: 120_000,
    });
    assert.equal(different.code, 50, different.stderr);
    assert.match(different.stderr, /devcontainer-lock\.json does not match what the features resolve to/);
    assert.equal(readFileSync(lockPath, "utf8"), lock, "a frozen lockfile is never written");
    writeFileSync(
      join(dir, ".devcontainer/devcontainer.json"),
      JSON.stringify({ image: base, features: { [ref]: {} } }),
    );
    rmSync(lockPath);
    const missing = await zonectl(["up", "--recreate", "--frozen-lockfile", dir], env, {
      timeoutMs: 120_000,
    });
    assert.equal(missing.code, 50, missing.stderr);
    assert.match(missing.stderr, /devcontainer-lock\.json does not exist \(frozen lockfile\)/);
    assert.equal(existsSync(lockPath), false);
    assert.deepEqual(
      (await api.listZones()).map((z) => z.id).sort(),
      zonesBefore,
      "no zone created or removed by a refusal",
    );
    const kept = (JSON.parse(b.stdout) as { zoneName: string }).zoneName;
    assert.equal((await exec(kept, "cat /moving")).trim(), "first", "the old zone still runs");

    // Without a pin the tag's current manifest is used, and pinned.
    const c = await zonectl(["--json", "up", "--recreate", dir], env, { timeoutMs: 300_000 });
    assert.equal(c.code, 0, c.stderr);
    assert.equal(
      (await exec((JSON.parse(c.stdout) as { zoneName: string }).zoneName, "cat /moving")).trim(),
      "second",
    );
    assert.deepEqual(pinOf(lockPath), {
      version: "1.0.1",
      resolved: `${registry.host}/features/moving@${second}`,
      integrity: second,
    });
    assert.equal((await zonectl(["down", dir], env)).code, 0);
  });

  test("a feature on a registry with basic auth: credentials from docker's config.json, through its credential helper", async () => {
    const secured = await startRegistry({ auth: "basic" });
    try {
      await publishFeature(secured, "features/private", ["1"], {
        json: { id: "private", version: "1.0.0" },
        files: { "install.sh": "#!/bin/sh\necho private > /private\n" },
      });
      const dir = project("private", {
        image: base,
        features: { [`${secured.host}/features/private:1`]: {} },
      });
      const denied = await zonectl(
        ["up", dir],
        { ...env, DOCKER_CONFIG: join(work, "no-docker-config") },
        { timeoutMs: 120_000 },
      );
      assert.equal(denied.code, 50, denied.stderr);
      assert.match(
        denied.stderr,
        new RegExp(
          `the registry ${secured.host.replace(/\./g, "\\.")} refused access \\(log in with docker login`,
        ),
      );

      // A credential helper as docker login leaves one: docker-credential-<name> on PATH.
      const bin = join(work, "helper-bin");
      mkdirSync(bin, { recursive: true });
      writeFileSync(
        join(bin, "docker-credential-zonestest"),
        `#!/bin/sh\nread server\n[ "$server" = "${secured.host}" ] || exit 1\necho '{"ServerURL":"${secured.host}","Username":"${secured.username}","Secret":"${secured.password}"}'\n`,
        { mode: 0o755 },
      );
      const dockerConfig = join(work, "docker-config");
      mkdirSync(dockerConfig, { recursive: true });
      writeFileSync(
        join(dockerConfig, "config.json"),
        JSON.stringify({ credHelpers: { [secured.host]: "zonestest" } }),
      );
      const r = await zonectl(
        ["--json", "up", dir],
        { ...env, DOCKER_CONFIG: dockerConfig, PATH: `${bin}:${process.env["PATH"] ?? ""}` },
        { timeoutMs: 300_000 },
      );
      assert.equal(r.code, 0, r.stderr);
      assert.ok(!r.stderr.includes(secured.password!), "the secret is never printed");
      assert.equal(
        (await exec((JSON.parse(r.stdout) as { zoneName: string }).zoneName, "cat /private")).trim(),
        "private",
      );
      assert.equal((await zonectl(["down", dir], env)).code, 0);
    } finally {
      await secured.stop();
    }
  });
});
