/**
 * Build: the first `up` of a project with features on an image, split into its build steps
 * (resolve, build, export, import) and the launch that follows — against `buildah build` of the
 * same generated Dockerfile alone, from equally empty storage. Then the second `up` of the
 * unchanged project (the cache key matches: no build, no upload) against an `up` of a project
 * that only names an image (target ≤ 1.3×). In process, through ProtectHost on the dev
 * host's local socket; features come from a loopback registry as OCI artifacts.
 */
import { cp, mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildLaunchPlan } from "../extension/core/devcontainer/buildPlan";
import { planFromPath } from "../extension/core/devcontainer/load";
import { featuresStage } from "../extension/core/build/featuresDockerfile";
import { fetchContent, resolveFeatures } from "../extension/core/features/resolve";
import { LaunchExecutor } from "../extension/core/launch/executor";
import type { LaunchResult } from "../extension/core/launch/executor";
import { ProtectHost } from "../extension/core/protect/host";
import { buildahArgs, removeBuildStorage } from "../test/harness/buildStorage";
import { startDevHost } from "../test/harness/devHost";
import { publishFeature } from "../test/harness/featureArtifacts";
import { pushTestImage, startRegistry } from "../test/harness/registry";
import { buildTestImage } from "../test/harness/testImage";
import type { BenchEnv } from "./env";
import { runProcess } from "./env";
import type { Report } from "./report";
import { median } from "./stats";

const section = "build";
const imageSteps = ["resolveImage", "buildImage", "exportImage", "importImage"];

function project(root: string, name: string, config: Record<string, unknown>): string {
  const dir = join(root, name);
  mkdirSync(join(dir, ".devcontainer"), { recursive: true });
  for (let f = 0; f < 50; f++) writeFileSync(join(dir, `file${f}.txt`), `content ${f}\n`.repeat(50));
  writeFileSync(join(dir, ".devcontainer", "devcontainer.json"), JSON.stringify({ name, ...config }));
  return dir;
}

async function up(
  dir: string,
  host: ProtectHost,
  work: string,
  buildRoot: string,
): Promise<{ result: LaunchResult; ms: number }> {
  const { plan, input } = await planFromPath(dir, {
    cwd: dir,
    env: process.env,
    planOptions: { workspaceRoot: join(work, "host-workspaces") },
  });
  const t0 = performance.now();
  const result = await new LaunchExecutor(plan, host, {
    zoneTimeoutMs: 180_000,
    build: { env: process.env, storageRoot: buildRoot },
    replan: (image) => buildLaunchPlan({ ...input, image }),
  }).run();
  return { result, ms: performance.now() - t0 };
}

export async function benchBuild(
  env: BenchEnv,
  report: Report,
  options: { runs?: number } = {},
): Promise<void> {
  const runs = options.runs ?? 5;
  console.log(
    `\n${section}: features built on this machine and sent with ImportImage (${runs} runs for the cache hit)`,
  );
  const registry = await startRegistry();
  env.cleanup.add("build registry", () => registry.stop());
  const { single: base } = await pushTestImage(registry, await buildTestImage(join(env.work, "build-image")));
  // Two features, one depending on the other, each writing a few MiB so build and export do work.
  await publishFeature(registry, "features/tools", ["1"], {
    json: { id: "tools", version: "1.0.0", options: { size: { type: "string", default: "2" } } },
    files: {
      "install.sh":
        "#!/bin/sh\nset -e\nmkdir -p /opt/tools\ndd if=/dev/urandom of=/opt/tools/blob bs=1M count=$SIZE 2>/dev/null\n",
    },
  });
  await publishFeature(registry, "features/app", ["1"], {
    json: {
      id: "app",
      version: "1.0.0",
      dependsOn: { [`${registry.host}/features/tools:1`]: {} },
      containerEnv: { APP_HOME: "/opt/app" },
    },
    files: { "install.sh": "#!/bin/sh\nset -e\nmkdir -p /opt/app\ncp /opt/tools/blob /opt/app/copy\n" },
  });
  const devHost = await startDevHost();
  env.cleanup.add("build dev host", () => devHost.stop());
  const buildRoot = join(env.work, "build-root");
  env.cleanup.add("build storage", () => removeBuildStorage(buildRoot));
  const api = await ProtectHost.open(`unix://${devHost.socketPath}`);
  const host = api;
  const projects = join(env.work, "build-projects");
  const featuresDir = project(projects, "features", {
    image: base,
    features: { [`${registry.host}/features/app:1`]: {} },
  });
  const imageDir = project(projects, "image-only", { image: base });
  const zones: string[] = [];
  try {
    // --- first up: everything built and sent -------------------------------------------------
    const first = await up(featuresDir, host, env.work, buildRoot);
    zones.push(first.result.zoneId);
    const stepMs = (r: LaunchResult, step: string): number =>
      r.timings.find((t) => t.step === step && t.outcome === "done")?.ms ?? 0;
    const buildParts = imageSteps.map((s) => stepMs(first.result, s));
    const launchMs = first.ms - buildParts.reduce((a, b) => a + b, 0);

    // --- buildah alone, on the same generated Dockerfile, from empty storage ---------------
    const bareRoot = join(env.work, "bare-build-root");
    env.cleanup.add("bare build storage", () => removeBuildStorage(bareRoot));
    const work = await mkdtemp(join(env.work, "bare-build-"));
    const resolveOptions = {
      configFile: join(featuresDir, ".devcontainer/devcontainer.json"),
      localFolder: featuresDir,
      workDir: work,
    };
    const { features } = await resolveFeatures(
      [{ userId: `${registry.host}/features/app:1`, value: {} }],
      resolveOptions,
    );
    await fetchContent(features, resolveOptions);
    const stage = featuresStage(base, features, { containerUser: "root", remoteUser: "root", imageUser: "" });
    const context = join(work, "context");
    for (const f of stage.files) {
      await mkdir(join(context, f.path, ".."), { recursive: true });
      await writeFile(join(context, f.path), f.content, { mode: f.mode ?? 0o644 });
    }
    for (let i = 0; i < features.length; i++)
      await cp(features[i]!.dir!, join(context, stage.folders[i]!), { recursive: true });
    await writeFile(join(context, "Dockerfile"), stage.dockerfile);
    const conf = join(work, "registries.conf");
    await writeFile(conf, `[[registry]]\nlocation = "${registry.host}"\ninsecure = true\n`);
    const bare = await runProcess(
      "buildah",
      [
        ...buildahArgs(bareRoot),
        "bud",
        "--isolation",
        "chroot",
        "--layers",
        "-t",
        "localhost/bench/bare:1",
        context,
      ],
      { env: { CONTAINERS_REGISTRIES_CONF: conf }, timeoutMs: 600_000 },
    );
    if (bare.code !== 0) throw new Error(`buildah bud failed: ${bare.stderr}`);
    report.add({
      section,
      name: "first up of an image + 2 features project: build steps (resolve + build + export + import)",
      value: buildParts.reduce((a, b) => a + b, 0),
      unit: "ms",
      baseline: { name: "buildah build of the same Dockerfile alone (empty storage)", value: bare.ms },
      note: `resolve ${buildParts[0]!.toFixed(0)}, build ${buildParts[1]!.toFixed(0)}, export ${buildParts[2]!.toFixed(0)}, import ${buildParts[3]!.toFixed(0)}, then the launch ${launchMs.toFixed(0)} ms (total ${first.ms.toFixed(0)} ms); buildah with overlay storage and chroot isolation`,
    });

    // --- the cache hit against an image-only up -------------------------------------------
    // The image-only project's first up pulls and copies everything: warm it like the other.
    const warm = await up(imageDir, host, env.work, buildRoot);
    zones.push(warm.result.zoneId);
    const hits: number[] = [];
    const plain: number[] = [];
    const hitResolve: number[] = [];
    const hitSteps = new Map<string, number[]>();
    const plainSteps = new Map<string, number[]>();
    const collect = (into: Map<string, number[]>, r: LaunchResult): void => {
      for (const t of r.timings)
        if (t.outcome === "done") into.set(t.step, [...(into.get(t.step) ?? []), t.ms]);
    };
    const breakdown = (from: Map<string, number[]>): string =>
      [...from].map(([step, ms]) => `${step} ${median(ms).toFixed(0)}`).join(", ");
    for (let i = 0; i < runs; i++) {
      for (const id of zones.splice(0)) {
        await api.destroyZone(id);
        await api.waitForZone(id, (z) => z === undefined, { timeoutMs: 60_000 });
      }
      const hit = await up(featuresDir, host, env.work, buildRoot);
      zones.push(hit.result.zoneId);
      if (hit.result.timings.some((t) => t.step === "buildImage" && t.outcome === "done"))
        throw new Error("the second up built again: the cache key changed");
      hits.push(hit.ms);
      collect(hitSteps, hit.result);
      console.log(
        `  cache hit ${i}: sync copied ${hit.result.sync?.filesCopied}/${hit.result.sync?.filesTotal}, ${hit.ms.toFixed(0)} ms`,
      );
      hitResolve.push(stepMs(hit.result, "resolveImage"));
      const only = await up(imageDir, host, env.work, buildRoot);
      zones.push(only.result.zoneId);
      plain.push(only.ms);
      collect(plainSteps, only.result);
      console.log(
        `  image only ${i}: sync copied ${only.result.sync?.filesCopied}/${only.result.sync?.filesTotal}, ${only.ms.toFixed(0)} ms`,
      );
    }
    report.add({
      section,
      name: "second up of the unchanged features project (cache hit: no build, no upload)",
      value: median(hits),
      unit: "ms",
      baseline: { name: "up of a project naming only the image", value: median(plain) },
      target: { on: "ratio", op: "<=", limit: 1.3, text: "≤ 1.3× an image-only up" },
      note: `median of ${runs}; resolveImage (feature manifests, base digest, ListImages) ${median(hitResolve).toFixed(0)} ms; steps (ms) of the cache hit: ${breakdown(hitSteps)}; of the image-only up: ${breakdown(plainSteps)}`,
    });
  } finally {
    for (const id of zones) await api.destroyZone(id).catch(() => undefined);
    for (const id of zones)
      await api.waitForZone(id, (z) => z === undefined, { timeoutMs: 60_000 }).catch(() => undefined);
    api.close();
  }
}
