import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fromJson, toJson } from "@bufbuild/protobuf";
import {
  OciImageFormat,
  WorkloadSpecSchema,
  ZoneNetworkBackend,
  ZoneResourceAdjustmentPolicy,
  ZoneSpecSchema,
  ZoneVirtualizationBackend,
} from "../../../extension/proto/gen/protect/control/v1/common_pb";
import { zoneNameFrom } from "../../../extension/core/devcontainer/translate/general";
import { devcontainerIdFor } from "../../../extension/core/devcontainer/devcontainerId";
import { annotationKeys, keepAliveCommand } from "../../../extension/core/devcontainer/plan";
import { planToJson } from "../../../extension/core/devcontainer/planJson";
import { renderPlan } from "../../../extension/core/devcontainer/renderPlan";
import { buildWith, configFile, localFolder, planOf, row } from "./planHelpers";

const fixtures = join(import.meta.dirname, "../../fixtures/devcontainer");
const id = devcontainerIdFor(localFolder, configFile);
const hostWorkspace = `/var/lib/styrolite-zones/workspaces/${id}`;

test("a minimal image config: zone, workload, image pull, workspace sync, keep-alive process", () => {
  const plan = planOf({ image: "mcr.microsoft.com/devcontainers/base:bookworm" });
  assert.equal(plan.launchable, true);
  assert.deepEqual(plan.refusals, []);
  assert.equal(plan.devcontainerId, id);
  assert.equal(plan.zoneName, `my-project-${id.slice(0, 8)}`);
  assert.deepEqual(plan.images, [
    {
      role: "workload",
      reference: "mcr.microsoft.com/devcontainers/base:bookworm",
      format: OciImageFormat.SQUASHFS,
      fills: "workloadSpec.image",
    },
  ]);
  const z = plan.zoneSpec;
  assert.equal(z.name, plan.zoneName);
  assert.deepEqual(
    z.annotations.map((a) => [a.key, a.value]),
    [
      [annotationKeys.devcontainerId, id],
      [annotationKeys.localFolder, localFolder],
      [annotationKeys.configFile, configFile],
    ],
  );
  assert.equal(z.initialResources?.targetCpus, 2);
  assert.equal(z.initialResources?.targetMemory, 2048n);
  const w = plan.workloadSpec;
  assert.equal(w.image?.format, OciImageFormat.SQUASHFS);
  assert.deepEqual(w.process?.command, [...keepAliveCommand]);
  assert.equal(w.process?.workingDirectory, "/workspaces/My Project");
  assert.deepEqual(
    w.mounts.map((m) => [m.hostPath, m.targetPath]),
    [[hostWorkspace, "/workspaces/My Project"]],
  );
  assert.deepEqual(plan.sync, {
    localFolder,
    hostPath: hostWorkspace,
    targetPath: "/workspaces/My Project",
    exclude: [".git/"],
    respectGitignore: true,
  });
  assert.deepEqual(
    plan.fillAtLaunch.map((f) => f.field),
    ["workloadSpec.zoneId", "workloadSpec.image.digest"],
  );
  assert.equal(plan.waitFor, "updateContentCommand");
  assert.equal(plan.shutdownAction, "stopWorkload");
  assert.deepEqual(row(plan, "image"), { ...row(plan, "image"), status: "translated" });
});

test("the keep-alive process exits promptly on SIGTERM and runs through /bin/sh", () => {
  assert.equal(keepAliveCommand[0], "/bin/sh");
  assert.match(keepAliveCommand[2] ?? "", /trap "exit 0" TERM/);
});

test("overrideCommand false keeps the image's own command", () => {
  const plan = planOf({ image: "nginx:1.27", overrideCommand: false });
  assert.deepEqual(plan.workloadSpec.process?.command, []);
  assert.match(row(plan, "overrideCommand").detail, /image's own/);
});

test("zone names: folder name cleaned to a DNS label plus the id prefix; --hostname overrides", () => {
  assert.equal(zoneNameFrom("My Project", id), `my-project-${id.slice(0, 8)}`);
  assert.equal(zoneNameFrom("___", id), `devcontainer-${id.slice(0, 8)}`);
  const long = zoneNameFrom("x".repeat(100), id);
  assert.ok(long.length <= 63 && long.endsWith(id.slice(0, 8)));
  const plan = planOf({ image: "alpine", runArgs: ["--hostname", "Build.Box", "--name", "main"] });
  assert.equal(plan.zoneName, "build-box");
  assert.equal(plan.workloadName, "main");
  assert.equal(plan.workloadSpec.name, "main");
});

test("hostRequirements: cpus and memory size the zone, storage is ignored, gpu becomes a device request", () => {
  const plan = planOf({
    image: "x",
    hostRequirements: { cpus: 4, memory: "8gb", storage: "64gb", gpu: "optional" },
  });
  const r = plan.zoneSpec.initialResources!;
  assert.deepEqual([r.targetCpus, r.maxCpus, r.minCpus], [4, 4, 4]);
  assert.deepEqual([r.targetMemory, r.maxMemory, r.minMemory], [8192n, 8192n, 8192n]);
  assert.equal(r.adjustmentPolicy, ZoneResourceAdjustmentPolicy.STATIC);
  assert.equal(row(plan, "hostRequirements.cpus").status, "translated");
  assert.equal(row(plan, "hostRequirements.memory").status, "translated");
  assert.equal(row(plan, "hostRequirements.storage").status, "ignored");
  assert.deepEqual(plan.deviceRequests, [{ kind: "gpu", optional: true, source: "hostRequirements.gpu" }]);
  assert.ok(plan.fillAtLaunch.some((f) => f.field === "zoneSpec.devices"));
  const detailed = planOf({ image: "x", hostRequirements: { gpu: { cores: 2, memory: "512mb" } } });
  assert.deepEqual(detailed.deviceRequests, [
    { kind: "gpu", optional: false, cores: 2, memoryMiB: 512, source: "hostRequirements.gpu" },
  ]);
  assert.deepEqual(planOf({ image: "x", hostRequirements: { gpu: false } }).deviceRequests, []);
  // Memory units are powers of 1024, rounded up to whole MiB.
  assert.equal(
    planOf({ image: "x", hostRequirements: { memory: "1500000000" } }).zoneSpec.initialResources
      ?.targetMemory,
    1431n,
  );
});

test("privileged and capAdd become workload security; securityOpt and init are ignored with reasons", () => {
  const plan = planOf({
    image: "x",
    privileged: true,
    capAdd: ["SYS_PTRACE", "cap_net_admin"],
    securityOpt: ["seccomp=unconfined"],
    init: true,
  });
  assert.equal(plan.workloadSpec.security?.privileged, true);
  assert.deepEqual(plan.workloadSpec.security?.raiseCapabilities, ["CAP_SYS_PTRACE", "CAP_NET_ADMIN"]);
  assert.equal(row(plan, "securityOpt").status, "ignored");
  assert.match(row(plan, "securityOpt").detail, /zone's own kernel/);
  assert.equal(row(plan, "init").status, "ignored");
});

test("containerEnv is the workload's environment; remoteEnv goes to hooks and terminals, containerEnv refs deferred", () => {
  const plan = planOf({
    image: "x",
    containerEnv: { A: "1", WS: "${containerWorkspaceFolder}" },
    remoteEnv: { PATH: "${containerEnv:PATH}:/extra", GONE: null, HOME_HERE: "${localEnv:HOME}" },
    workspaceFolder: "/src",
  });
  assert.deepEqual(
    plan.workloadSpec.process?.environment.map((e) => [e.key, e.value]),
    [
      ["A", "1"],
      ["WS", "/src"],
    ],
  );
  assert.deepEqual(plan.remote.env, [
    { name: "PATH", value: "${containerEnv:PATH}:/extra", deferred: true },
    { name: "GONE", value: null, deferred: false },
    { name: "HOME_HERE", value: "/home/dev", deferred: false },
  ]);
  assert.match(row(plan, "remoteEnv").detail, /PATH resolved after start/);
});

test("containerUser sets the workload user (ids or names, user:group); remoteUser the hooks' user", () => {
  const numeric = planOf({ image: "x", containerUser: "1000:1001", remoteUser: "vscode" });
  assert.deepEqual(numeric.workloadSpec.process?.user?.idOrName, { case: "id", value: 1000 });
  assert.deepEqual(numeric.workloadSpec.process?.group?.idOrName, { case: "id", value: 1001 });
  assert.equal(numeric.remote.user, "vscode");
  const named = planOf({ image: "x", containerUser: "node" });
  assert.deepEqual(named.workloadSpec.process?.user?.idOrName, { case: "name", value: "node" });
  assert.equal(named.workloadSpec.process?.group, undefined);
  assert.equal(named.remote.user, "node", "remoteUser defaults to containerUser");
});

test("mounts: named volumes → host folders, anonymous → scratch, workspace binds → the synced copy, other binds ignored", () => {
  const plan = planOf({
    image: "x",
    mounts: [
      "source=cache-${devcontainerId},target=/cache,type=volume",
      { type: "volume", target: "/anon" },
      { type: "bind", source: "${localWorkspaceFolder}/data", target: "/data" },
      { type: "bind", source: "${localEnv:HOME}/.ssh", target: "/root/.ssh" },
      "type=tmpfs,target=/tmp/t",
      { type: "volume", source: "../../etc", target: "/evil" },
    ],
  });
  assert.deepEqual(plan.volumes, [
    { name: `cache-${id}`, hostPath: `/var/lib/styrolite-zones/volumes/cache-${id}`, target: "/cache" },
  ]);
  assert.deepEqual(
    plan.workloadSpec.mounts.map((m) => [m.hostPath, m.targetPath]),
    [
      [hostWorkspace, "/workspaces/My Project"],
      [`/var/lib/styrolite-zones/volumes/cache-${id}`, "/cache"],
      [`${hostWorkspace}/data`, "/data"],
    ],
  );
  assert.deepEqual(
    plan.workloadSpec.scratchMount.map((s) => s.path),
    ["/anon", "/tmp/t"],
  );
  assert.equal(row(plan, "mounts[3]").status, "ignored");
  assert.match(row(plan, "mounts[3]").detail, /on your machine/);
  assert.equal(
    row(plan, "mounts[5]").status,
    "refused",
    "a volume name that walks out of the volume folder is refused",
  );
  assert.equal(plan.launchable, false);
});

test("workspaceFolder and workspaceMount decide the sync target; .gitignore patterns are excluded", () => {
  const plan = planOf(
    {
      image: "x",
      workspaceFolder: "/code",
      workspaceMount: "source=${localWorkspaceFolder}/src,target=/code,type=bind",
    },
    { gitignore: ["node_modules/", "# comment", "", "*.log"] },
  );
  assert.deepEqual(plan.sync, {
    localFolder: `${localFolder}/src`,
    hostPath: hostWorkspace,
    targetPath: "/code",
    exclude: [".git/", "node_modules/", "*.log"],
    respectGitignore: true,
  });
  assert.equal(row(plan, "workspaceMount").status, "translated");
  const volume = planOf({
    image: "x",
    workspaceFolder: "/w",
    workspaceMount: "source=vol,target=/w,type=volume",
  });
  assert.equal(row(volume, "workspaceMount").status, "ignored");
  assert.equal(volume.sync.targetPath, "/w");
  assert.equal(planOf({ image: "x", workspaceFolder: "relative" }).launchable, false);
});

test("forwardPorts, appPort and -p become forwards with portsAttributes labels", () => {
  const plan = planOf({
    image: "x",
    forwardPorts: [3000, "db:5432", "localhost:4000"],
    appPort: ["8000:8080", 9000, "53/udp"],
    runArgs: ["-p", "127.0.0.1:7000:7001"],
    portsAttributes: {
      "3000": { label: "Web", protocol: "https", onAutoForward: "openBrowser" },
      "9000-9100": { label: "Range" },
      ".+/server.js": { label: "regex" },
    },
    otherPortsAttributes: { onAutoForward: "silent" },
  });
  assert.deepEqual(plan.forwards, [
    {
      containerPort: 3000,
      localPort: 3000,
      label: "Web",
      protocol: "https",
      onAutoForward: "openBrowser",
      source: "forwardPorts[0]",
    },
    { containerPort: 4000, localPort: 4000, onAutoForward: "silent", source: "forwardPorts[2]" },
    { containerPort: 8080, localPort: 8000, onAutoForward: "silent", source: "appPort[0]" },
    { containerPort: 9000, localPort: 9000, label: "Range", source: "appPort[1]" },
    {
      containerPort: 7001,
      localPort: 7000,
      localAddress: "127.0.0.1",
      onAutoForward: "silent",
      source: "runArgs[0]",
    },
  ]);
  assert.equal(row(plan, "forwardPorts[1]").status, "ignored");
  assert.match(row(plan, "appPort[2]").detail, /udp ports cannot be forwarded/);
  assert.equal(row(plan, 'portsAttributes["3000"]').status, "translated");
  assert.equal(row(plan, 'portsAttributes[".+/server.js"]').status, "ignored");
});

test("features on an image become a build; a Dockerfile is built; the host no longer pulls the image", () => {
  const features = planOf({
    image: "mcr.microsoft.com/devcontainers/base:debian",
    features: { "ghcr.io/devcontainers/features/node:1": { version: "20" }, node: {} },
    overrideFeatureInstallOrder: ["ghcr.io/devcontainers/features/node"],
  });
  assert.equal(features.launchable, true, features.refusals.join("\n"));
  assert.equal(
    features.images.filter((i) => i.role === "workload").length,
    0,
    "nothing for the host to pull",
  );
  assert.deepEqual(features.build?.base, {
    kind: "image",
    reference: "mcr.microsoft.com/devcontainers/base:debian",
  });
  assert.deepEqual(
    features.build?.features.map((f) => f.userId),
    ["ghcr.io/devcontainers/features/node:1", "node"],
  );
  assert.equal(features.build?.lockfile, "/home/dev/My Project/.devcontainer/devcontainer-lock.json");
  assert.match(features.build?.repository ?? "", /^localhost\/zones-build\/my-project-/);
  assert.match(row(features, "features").detail, /2 feature\(s\) installed/);
  assert.match(
    row(features, "features.node").detail,
    /legacy id "node" → OCI feature ghcr.io\/devcontainers\/features\/node:1/,
  );
  assert.equal(row(features, "overrideFeatureInstallOrder").status, "translated");
  assert.match(row(features, "image").detail, /base image of the features build/);

  const build = planOf({
    build: {
      dockerfile: "Dockerfile",
      context: "..",
      args: { VARIANT: "bookworm" },
      target: "dev",
      cacheFrom: "ghcr.io/x/cache:1",
      options: ["--pull"],
    },
  });
  assert.equal(build.launchable, true, build.refusals.join("\n"));
  assert.deepEqual(build.build?.base, {
    kind: "dockerfile",
    dockerfile: "/home/dev/My Project/.devcontainer/Dockerfile",
    context: "/home/dev/My Project",
    args: { VARIANT: "bookworm" },
    target: "dev",
    cacheFrom: ["ghcr.io/x/cache:1"],
    options: ["--pull"],
  });
  assert.deepEqual(build.build?.features, []);
  // The legacy form: the context defaults to the Dockerfile's folder.
  const legacy = planOf({ dockerFile: "../docker/Dockerfile" });
  assert.deepEqual(
    legacy.build?.base.kind === "dockerfile" && legacy.build.base.context,
    "/home/dev/My Project/docker",
  );

  const plain = planOf({ image: "x", features: {} });
  assert.equal(plain.build, undefined);
  assert.equal(row(plain, "features").status, "ignored");
  assert.equal(plain.images[0]?.reference, "x");
  const compose = planOf({ dockerComposeFile: "compose.yml", service: "app", workspaceFolder: "/workspace" });
  // Without the Compose files (planFromPath reads them) there is nothing to launch.
  assert.equal(compose.launchable, false);
  assert.match(compose.refusals.join("\n"), /dockerComposeFile: the Compose files were not read/);
  const none = planOf({ name: "no image" });
  assert.deepEqual(none.refusals, ['no image: set "image" to the container image to run in the zone']);
});

test("features the reference tools reject are refused, each saying what to write instead", () => {
  const plan = planOf({
    image: "x",
    features: {
      "codspace/myfeatures/helloworld": {},
      myfeature: {},
      "https://example.com/features.tgz": {},
      "http://example.com/devcontainer-feature-a.tgz": {},
      "/abs/feature": {},
      "../outside": {},
      "ghcr.io/devcontainers/features/node:1": 3,
    },
  });
  assert.equal(plan.launchable, false);
  assert.match(
    row(plan, 'features["codspace/myfeatures/helloworld"]').detail,
    /deprecated GitHub-release form.*ghcr\.io\/codspace\/myfeatures\/helloworld/,
  );
  assert.match(
    row(plan, "features.myfeature").detail,
    /legacy feature id that is no longer supported.*"\.\/myfeature"/,
  );
  assert.match(
    row(plan, 'features["https://example.com/features.tgz"]').detail,
    /devcontainer-feature-<id>\.tgz/,
  );
  assert.match(row(plan, 'features["http://example.com/devcontainer-feature-a.tgz"]').detail, /https only/);
  assert.match(row(plan, 'features["/abs/feature"]').detail, /never by absolute path/);
  assert.match(row(plan, 'features["../outside"]').detail, /inside \.devcontainer\//);
  assert.match(row(plan, 'features["ghcr.io/devcontainers/features/node:1"]').detail, /options must be/);
  assert.equal(plan.refusals.length, 7);
});

test("a Dockerfile build with an option off the allow-list is refused, naming it", () => {
  const plan = planOf({ build: { dockerfile: "Dockerfile", options: ["--privileged"] } });
  assert.equal(plan.launchable, false);
  assert.match(row(plan, "build.options").detail, /"--privileged" is not an allowed build option/);
});

test("with the image's metadata: features' privileges, mounts, entrypoint, env and hooks apply, features first", () => {
  const entries = [
    { remoteUser: "vscode", containerEnv: { FROM_BASE: "1" } },
    {
      id: "ghcr.io/devcontainers/features/docker-in-docker:2",
      privileged: true,
      init: true,
      entrypoint: "/usr/local/share/docker-init.sh",
      mounts: [
        {
          source: "dind-var-lib-docker-${devcontainerId}",
          target: "/var/lib/docker",
          type: "volume" as const,
        },
      ],
      capAdd: ["NET_ADMIN"],
      securityOpt: ["seccomp=unconfined"],
      postStartCommand: "echo dind started",
    },
  ];
  const plan = buildWith(
    {
      image: "x",
      features: { "ghcr.io/devcontainers/features/docker-in-docker:2": {} },
      postStartCommand: "echo mine",
    },
    { entries, entrypoint: [], cmd: ["bash"], user: "" },
  );
  assert.equal(plan.launchable, true, plan.refusals.join("\n"));
  const process = plan.workloadSpec.process!;
  assert.equal(process.command[0], "/bin/sh");
  assert.match(process.command[2] ?? "", /^\/usr\/local\/share\/docker-init\.sh\ntrap "exit 0" TERM/);
  assert.ok(process.environment.some((e) => e.key === "FROM_BASE"));
  assert.equal(plan.workloadSpec.security?.privileged, true);
  assert.deepEqual(plan.workloadSpec.security?.raiseCapabilities, ["CAP_NET_ADMIN"]);
  assert.equal(plan.remote.user, "vscode");
  const volume = plan.volumes.find((v) => v.target === "/var/lib/docker");
  assert.ok(volume, "the feature's volume is a host folder");
  assert.match(volume.name, new RegExp(`^dind-var-lib-docker-${plan.devcontainerId}$`));
  const starts = plan.hooks.filter((h) => h.hook === "postStartCommand");
  assert.deepEqual(
    starts.map((h) => [h.origin, h.commands[0]?.argv.at(-1)]),
    [
      ["feature ghcr.io/devcontainers/features/docker-in-docker:2", "echo dind started"],
      [undefined, "echo mine"],
    ],
  );
  assert.deepEqual(
    plan.imageContributions.map((c) => c.origin),
    ["the base image", "feature ghcr.io/devcontainers/features/docker-in-docker:2"],
  );
});

test("an image that still holds a placeholder, or is not a reference, is refused", () => {
  const template = planOf({
    image: "mcr.microsoft.com/devcontainers/python:1-${templateOption:imageVariant}",
  });
  assert.equal(template.launchable, false);
  assert.match(template.refusals[0] ?? "", /\$\{templateOption:imageVariant\}/);
  assert.equal(planOf({ image: "Not A Reference" }).launchable, false);
  for (const ok of [
    "alpine",
    "localhost:5000/busybox:1.36",
    "ghcr.io/a/b/c:tag",
    `docker.io/library/x@sha256:${"a".repeat(64)}`,
  ]) {
    assert.equal(planOf({ image: ok }).launchable, true, ok);
  }
});

test("customizations.styrolite fills the zone spec: kernel, resources, devices, network, virtualization, scratch disk, annotations, host", () => {
  const path = join(fixtures, "styrolite/.devcontainer/devcontainer.json");
  const plan = planOf(readFileSync(path, "utf8"));
  const z = plan.zoneSpec;
  assert.deepEqual(
    plan.images.map((i) => [i.role, i.reference, i.format, i.fills]),
    [
      ["workload", "busybox:1.36", OciImageFormat.EROFS, "workloadSpec.image"],
      ["kernel", "ghcr.io/edera-dev/zone-kernel:6.12", OciImageFormat.TAR, "zoneSpec.kernel"],
      ["initrd", "ghcr.io/edera-dev/zone-initrd:latest", OciImageFormat.TAR, "zoneSpec.initrd"],
    ],
  );
  assert.deepEqual([z.kernel?.format, z.initrd?.format], [OciImageFormat.TAR, OciImageFormat.TAR]);
  assert.equal(z.kernelOptions?.verbose, true);
  assert.equal(z.kernelOptions?.cmdlineAppend, "console=hvc0");
  assert.deepEqual(z.kernelOptions?.modules, ["overlay"]);
  assert.deepEqual(
    z.kernelOptions?.sysctlParameters.map((s) => [s.key, s.value]),
    [["net.ipv4.ip_forward", "1"]],
  );
  const r = z.initialResources!;
  assert.deepEqual([r.minCpus, r.targetCpus, r.maxCpus], [1, 2, 4]);
  assert.deepEqual([r.minMemory, r.targetMemory, r.maxMemory], [512n, 1024n, 4096n]);
  assert.equal(r.adjustmentPolicy, ZoneResourceAdjustmentPolicy.DYNAMIC);
  assert.deepEqual(
    z.devices.map((d) => d.name),
    ["gpu-0000:01:00.0"],
  );
  assert.deepEqual(plan.deviceRequests, [], "named devices satisfy hostRequirements.gpu");
  assert.equal(z.networkOptions?.backend, ZoneNetworkBackend.DEFAULT);
  assert.deepEqual(z.networkOptions?.dnsConfig?.nameservers, ["1.1.1.1"]);
  assert.equal(z.virtualizationOptions?.backend, ZoneVirtualizationBackend.PVH);
  assert.deepEqual(z.scratchDisk?.backend, { case: "image", value: z.scratchDisk?.backend.value });
  assert.equal(
    z.scratchDisk?.backend.case === "image" ? z.scratchDisk.backend.value.size : undefined,
    10240n,
  );
  const annotations = Object.fromEntries(z.annotations.map((a) => [a.key, a.value]));
  assert.equal(annotations["team"], "platform");
  assert.equal(
    annotations[annotationKeys.devcontainerId],
    plan.devcontainerId,
    "a file cannot forge the reserved annotation",
  );
  assert.equal(row(plan, "customizations.styrolite.annotations").status, "ignored");
  // Reported as what it is: nothing applies a repository's connection overrides.
  assert.equal(row(plan, "customizations.styrolite.host").status, "ignored");
  assert.equal(plan.sync.hostPath, `/srv/zones/workspaces/${plan.devcontainerId}`);
  assert.deepEqual(plan.connection, {
    socketPath: "/run/protect/daemon.socket",
    bridge: ["sudo", "-n", "socat", "-", "UNIX-CONNECT:{socket}"],
  });
  assert.equal(plan.launchable, true);
});

test("inconsistent styrolite resources are refused", () => {
  const plan = planOf({
    image: "x",
    customizations: { styrolite: { resources: { targetCpus: 8, maxCpus: 2 } } },
  });
  assert.equal(plan.launchable, false);
  assert.match(plan.refusals[0] ?? "", /zone CPUs/);
});

test("the table has a row for every property in the file (kitchen sink)", () => {
  const path = join(fixtures, "kitchen-sink/.devcontainer/devcontainer.json");
  const text = readFileSync(path, "utf8");
  const plan = planOf(text);
  const topLevel = new Set(plan.properties.map((p) => p.path[0]));
  for (const key of [
    "$schema",
    "name",
    "image",
    "containerEnv",
    "remoteEnv",
    "containerUser",
    "remoteUser",
    "updateRemoteUserUID",
    "userEnvProbe",
    "mounts",
    "workspaceFolder",
    "runArgs",
    "appPort",
    "forwardPorts",
    "portsAttributes",
    "otherPortsAttributes",
    "overrideCommand",
    "shutdownAction",
    "init",
    "privileged",
    "capAdd",
    "securityOpt",
    "features",
    "overrideFeatureInstallOrder",
    "hostRequirements",
    "initializeCommand",
    "onCreateCommand",
    "updateContentCommand",
    "postCreateCommand",
    "postStartCommand",
    "postAttachCommand",
    "waitFor",
    "secrets",
    "customizations",
  ]) {
    assert.ok(topLevel.has(key), `a row for ${key}`);
  }
  for (const p of plan.properties) {
    assert.ok(["translated", "ignored", "refused"].includes(p.status));
    assert.ok(p.detail.length > 3, `${p.property} says what or why`);
    assert.ok(p.line >= 1 && p.column >= 1);
  }
  // Rows point at the property in the file.
  const image = plan.properties.find((p) => p.property === "image")!;
  assert.deepEqual([image.line, image.column], [5, 3]);
  assert.equal(plan.launchable, true, plan.refusals.join("\n"));
  assert.equal(plan.shutdownAction, "none");
  assert.equal(plan.waitFor, "postCreateCommand");
  assert.deepEqual(plan.deviceRequests, [{ kind: "gpu", optional: true, source: "hostRequirements.gpu" }]);
  assert.equal(plan.zoneSpec.initialResources?.targetMemory, 8192n, "hostRequirements.memory wins over -m");
  assert.equal(row(plan, "runArgs[6]").status, "ignored");
  assert.match(row(plan, "runArgs[6]").detail, /^-m 3g: hostRequirements\.memory sets the zone's memory/);
});

test("planToJson: stable, JSON-safe (bigint as strings, enums by name), and the specs round-trip exactly", () => {
  const plan = planOf(readFileSync(join(fixtures, "styrolite/.devcontainer/devcontainer.json"), "utf8"));
  const json = planToJson(plan);
  const text = JSON.stringify(json);
  assert.equal(JSON.stringify(planToJson(plan)), text, "same plan, same bytes");
  const zone = json.zoneSpec as Record<string, Record<string, unknown>>;
  assert.equal(zone["initialResources"]?.["maxMemory"], "4096");
  assert.equal(zone["initialResources"]?.["adjustmentPolicy"], "ZONE_RESOURCE_ADJUSTMENT_POLICY_DYNAMIC");
  assert.equal(json.images[0]?.format, "OCI_IMAGE_FORMAT_EROFS");
  assert.deepEqual(toJson(ZoneSpecSchema, fromJson(ZoneSpecSchema, json.zoneSpec)), json.zoneSpec);
  assert.deepEqual(fromJson(WorkloadSpecSchema, json.workloadSpec), plan.workloadSpec);
  assert.deepEqual(fromJson(ZoneSpecSchema, json.zoneSpec), plan.zoneSpec);
  assert.deepEqual(Object.keys(json), [
    "version",
    "launchable",
    "refusals",
    "configFile",
    "localFolder",
    "devcontainerId",
    "idLabels",
    "displayName",
    "zoneName",
    "workloadName",
    "images",
    "imageContributions",
    "zoneSpec",
    "workloadSpec",
    "fillAtLaunch",
    "deviceRequests",
    "sync",
    "volumes",
    "hooks",
    "waitFor",
    "remote",
    "forwards",
    "shutdownAction",
    "connection",
    "properties",
    "diagnostics",
  ]);
});

test("renderPlan: zone, workload, image, sync, hooks in order, forwards, then the table", () => {
  const plan = planOf(readFileSync(join(fixtures, "kitchen-sink/.devcontainer/devcontainer.json"), "utf8"));
  const text = renderPlan(plan);
  const order = [
    "Plan for",
    "  zone",
    "  workload",
    "image registry.example.com:5000/team/dev-image:1.2.3",
    "  sync",
    "  hooks",
    "initializeCommand",
    "onCreateCommand",
    "updateContentCommand",
    "postCreateCommand",
    "postStartCommand",
    "postAttachCommand",
    "  forwards",
    "Properties",
    "Launchable",
  ];
  let at = -1;
  for (const marker of order) {
    const next = text.indexOf(marker, at + 1);
    assert.ok(next > at, `"${marker}" after the previous section:\n${text}`);
    at = next;
  }
  assert.match(text, /ignored\s+securityOpt\s+seccomp/);
  const refused = renderPlan(planOf({ image: "x", features: { myfeature: {} } }));
  assert.match(refused, /NOT launchable:\n {2}- features\.myfeature: "myfeature" is a legacy feature id/);
});
