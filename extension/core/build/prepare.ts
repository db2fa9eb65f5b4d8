import { createReadStream } from "node:fs";
import { cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { OciImageFormat } from "../../proto/gen/protect/control/v1/common_pb";
import { messageOf } from "../errors";
import type { ImageBuild, LaunchImage, LaunchPlan } from "../devcontainer/plan";
import type { Logger } from "../log";
import { silentLogger } from "../log";
import { formatLockfile, readLockfile, writeLockfile } from "../features/lockfile";
import type { LockEntry } from "../features/lockfile";
import { featureMetadataProperties, metadataLabel, metadataLabelValue, pick } from "../features/metadata";
import type { MetadataEntry } from "../features/metadata";
import { canonicalOptions } from "../features/order";
import { fetchContent, resolveFeatures } from "../features/resolve";
import type { ResolveOptions, ResolvedFeature } from "../features/resolve";
import type { HostImage, ImportProgress, LaunchHost } from "../launch/launchHost";
import { registryCredentials } from "../registry/credentials";
import { normalizeName, parseReference } from "../registry/reference";
import { RegistryClient } from "../registry/registryClient";
import { BuildError } from "./buildError";
import { findBuilder } from "./builder";
import type { BuilderName, ImageBuilder, ImageConfigView } from "./builder";
import { cacheKey, contextDigest } from "./cacheKey";
import { featureMarker, featuresStage, stageProblems } from "./featuresDockerfile";
import { buildKeyLabel, launchImageOf } from "./imageConfig";
import { formatBytes } from "../format";

/** How the image is built and delivered, beyond what the plan says. */
export interface PreparationOptions {
  /** The builder to use (setting, --builder); wins over customizations.styrolite.build.builder. */
  readonly builder?: BuilderName | "auto" | undefined;
  /** Push here and let the host pull (--push); wins over customizations.styrolite.build.push. */
  readonly push?: string | undefined;
  /** buildah's/podman's storage folder; default ZONES_BUILD_ROOT, else ~/.local/share/styrolite-zones/builds. */
  readonly storageRoot?: string | undefined;
  /** This machine's environment (PATH for builders, credentials, HOME). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The lockfile must already pin exactly what resolves (nothing is written). */
  readonly frozenLockfile?: boolean;
  readonly signal?: AbortSignal;
  readonly logger?: Logger;
  /** The builder's output as it comes. */
  onOutput?(text: string): void;
  onImportProgress?(p: ImportProgress): void;
  onWarning?(message: string): void;
}

/** The image the workload will run, on the host. */
export interface PreparedImage {
  readonly digest: string;
  readonly format: OciImageFormat;
  /** The name the host has it under. */
  readonly name: string;
  readonly launch: LaunchImage;
}

/** What to build: a plan's `build` and where its project is. A Compose service makes its own. */
export interface BuildTarget {
  readonly build: ImageBuild;
  /** The devcontainer.json (local features are relative to its folder). */
  readonly configFile: string;
  readonly localFolder: string;
  /** The format the host should store the image in. */
  readonly format: OciImageFormat;
}

/** The build target of a plan with a `build`. */
export function buildTargetOf(plan: LaunchPlan): BuildTarget {
  if (!plan.build) throw new Error("the plan has no build");
  return {
    build: plan.build,
    configFile: plan.configFile,
    localFolder: plan.localFolder,
    format: plan.workloadSpec.image?.format ?? OciImageFormat.SQUASHFS,
  };
}

/**
 * Builds and delivers the image a plan's `build` describes, one phase per launch step:
 * `resolve` (features to exact digests, the base image's digest, the cache key; then whether the
 * host already has an image under that key), `build` (fetch features, build on this machine),
 * `export` (an archive, or a push), `deliver` (ImportImage, or PullImage from the registry).
 * The same key means no build and no upload. Temporary files go in `dispose`.
 */
export class ImagePreparation {
  readonly #build: ImageBuild;
  readonly #target: BuildTarget;
  readonly #host: Pick<LaunchHost, "name" | "listImages" | "importImage" | "pullImage">;
  readonly #options: PreparationOptions;
  readonly #log: Logger;
  #workDir: string | undefined;
  #features: readonly ResolvedFeature[] = [];
  #lock: Readonly<Record<string, LockEntry>> = {};
  #key = "";
  #cached: HostImage | undefined;
  #builder: ImageBuilder | undefined;
  #archive: { file: string; size: number; format: OciImageFormat } | undefined;
  #pushed: string | undefined;
  #output: string[] = [];

  constructor(
    target: BuildTarget,
    host: Pick<LaunchHost, "name" | "listImages" | "importImage" | "pullImage">,
    options: PreparationOptions,
  ) {
    this.#build = target.build;
    this.#target = target;
    this.#host = host;
    this.#options = options;
    this.#log = options.logger ?? silentLogger;
  }

  /** The name the image has on the host: `<repository>:<key>`, or the pushed reference. */
  get name(): string {
    const tag = `${this.#build.repository}:${this.#key.slice(0, 32)}`;
    const push = this.#pushTarget();
    return push
      ? `${push}/${this.#build.repository.replace(/^localhost\//, "")}:${this.#key.slice(0, 32)}`
      : tag;
  }

  /** True once `resolve` found the image on the host. */
  get cached(): boolean {
    return this.#cached !== undefined;
  }

  /** Resolves features and the base, computes the cache key, and looks for it on the host. */
  async resolve(): Promise<string> {
    const build = this.#build;
    const work = await this.#work();
    const lock = await readLockfile(build.lockfile);
    if (lock.problem) throw new BuildError("invalid", lock.problem);
    const resolveOptions = this.#resolveOptions(work, lock.lockfile);
    if (build.features.length) {
      const resolution = await resolveFeatures(build.features, resolveOptions);
      this.#features = resolution.features;
      this.#lock = resolution.lock;
      if (this.#options.frozenLockfile) {
        const current = lock.lockfile ? formatLockfile(lock.lockfile.features) : undefined;
        if (current !== formatLockfile(this.#lock))
          throw new BuildError(
            "invalid",
            `${build.lockfile} ${current === undefined ? "does not exist" : "does not match what the features resolve to"} (frozen lockfile)`,
          );
      }
    }
    const base = await this.#baseIdentity();
    this.#key = cacheKey({
      v: 1,
      base,
      features: this.#features.map((f) => ({
        id: f.userId,
        digest: f.digest,
        options: canonicalOptions(f.options),
      })),
      users: {
        containerUser: this.#build.containerUser ?? null,
        remoteUser: this.#build.remoteUser ?? null,
      },
    });
    const wanted = normalizeName(this.name) ?? this.name;
    const images = await this.#host.listImages({ signal: this.#options.signal });
    this.#cached = images.find((i) => i.names.some((n) => (normalizeName(n) ?? n) === wanted));
    const what = [
      ...(build.base.kind === "dockerfile" ? ["Dockerfile"] : []),
      ...(this.#features.length
        ? [`${this.#features.length} feature(s): ${this.#features.map((f) => f.userId).join(", ")}`]
        : []),
    ].join(" + ");
    return `${what}; key ${this.#key.slice(0, 12)}; ${this.#cached ? `${this.#host.name} has it already` : "not on the host yet"}`;
  }

  /** Builds the image on this machine (the user's Dockerfile, then the features on top). */
  async build(): Promise<string | undefined> {
    if (this.#cached) return undefined;
    const build = this.#build;
    const builder = await this.#getBuilder();
    const work = await this.#work();
    const tag = this.#localTag();
    let baseRef: string;
    if (build.base.kind === "dockerfile") {
      const b = build.base;
      const finalOnly = !this.#features.length;
      baseRef = finalOnly ? tag : `${tag}-base`;
      await this.#run(() =>
        builder.build(
          {
            context: b.context,
            dockerfile: b.dockerfile,
            tag: baseRef,
            ...(b.target ? { target: b.target } : {}),
            args: b.args,
            cacheFrom: b.cacheFrom,
            options: b.options,
            ...(finalOnly ? { labels: { [buildKeyLabel]: this.#key } } : {}),
          },
          this.#io(),
        ),
      );
      if (finalOnly) return `${builder.version}: ${b.dockerfile} → ${tag}`;
    } else {
      baseRef = build.base.reference;
      await this.#run(() => builder.pull(baseRef, this.#io()));
    }
    const baseConfig = await builder.inspect(baseRef, this.#io());
    if (!baseConfig)
      throw new BuildError(
        "buildFailed",
        `${builder.name} has no image ${baseRef} after building or pulling it`,
      );
    await fetchContent(this.#features, this.#resolveOptions(work, undefined));
    const labels = this.#labels(baseConfig);
    const users = this.#users(baseConfig);
    const problems = stageProblems(this.#features, baseConfig.user);
    if (problems.length) throw new BuildError("invalid", problems.join("; "));
    const stage = featuresStage(baseRef, this.#features, users);
    const context = await mkdtemp(join(work, "context-"));
    for (const f of stage.files) {
      await mkdir(join(context, f.path, ".."), { recursive: true });
      await writeFile(join(context, f.path), f.content, { mode: f.mode ?? 0o644 });
    }
    for (let i = 0; i < this.#features.length; i++) {
      const dir = this.#features[i]!.dir;
      if (!dir)
        throw new BuildError("featureFailed", `feature "${this.#features[i]!.userId}" has no content`);
      await cp(dir, join(context, stage.folders[i]!), { recursive: true, dereference: false });
    }
    await writeFile(join(context, "Dockerfile"), stage.dockerfile);
    await this.#run(() =>
      builder.build({ context, dockerfile: join(context, "Dockerfile"), tag, labels }, this.#io()),
    );
    return `${builder.version}: ${this.#features.length} feature(s) on ${baseRef} → ${tag}`;
  }

  /** Writes the image out: an archive for ImportImage, or a push to the registry. */
  async export(): Promise<string | undefined> {
    if (this.#cached) return undefined;
    const builder = await this.#getBuilder();
    const push = this.#pushTarget();
    if (push) {
      const digest = await this.#run(() => builder.push(this.#localTag(), this.name, this.#io()));
      this.#pushed = this.name;
      return `pushed ${this.name} (${digest})`;
    }
    const file = join(await this.#work(), "image.tar");
    const kind = await this.#run(() => builder.exportArchive(this.#localTag(), file, this.#io()));
    const size = (await stat(file)).size;
    this.#archive = { file, size, format: this.#target.format };
    return `${kind} of ${formatBytes(size)}`;
  }

  /** Gets the image onto the host (or finds it there) and writes the lockfile. */
  async deliver(): Promise<{ image: PreparedImage; detail: string }> {
    let hostImage: HostImage;
    let detail: string;
    const format = this.#target.format;
    if (this.#cached) {
      hostImage = this.#cached;
      detail = `${this.name} is on ${this.#host.name} already (${hostImage.digest.slice(0, 19)}…)`;
    } else if (this.#pushed) {
      const pulled = await this.#host.pullImage(this.#pushed, format, () => {}, {
        signal: this.#options.signal,
      });
      hostImage = { ...pulled, names: [this.#pushed] };
      detail = `${this.#host.name} pulled ${this.#pushed}`;
    } else {
      const archive = this.#archive;
      if (!archive) throw new Error("deliver() before export()");
      hostImage = await this.#host.importImage(
        {
          name: this.name,
          format: archive.format,
          size: archive.size,
          chunks: createReadStream(archive.file, { highWaterMark: 1024 * 1024 }),
        },
        (p) => this.#options.onImportProgress?.(p),
        { signal: this.#options.signal },
      );
      detail = `imported ${formatBytes(archive.size)} as ${this.name} (${hostImage.digest.slice(0, 19)}…)`;
    }
    const { image, problems } = launchImageOf(hostImage.config);
    for (const p of problems) this.#options.onWarning?.(p);
    if (!this.#options.frozenLockfile && Object.keys(this.#lock).length) {
      try {
        if (await writeLockfile(this.#build.lockfile, this.#lock))
          detail += `; wrote ${this.#build.lockfile}`;
      } catch (err) {
        this.#options.onWarning?.(`could not write ${this.#build.lockfile}: ${messageOf(err)}`);
      }
    }
    return {
      image: { digest: hostImage.digest, format: hostImage.format || format, name: this.name, launch: image },
      detail,
    };
  }

  /** Removes temporary files (downloads, build contexts, the archive). */
  async dispose(): Promise<void> {
    if (this.#workDir) await rm(this.#workDir, { recursive: true, force: true });
    this.#workDir = undefined;
  }

  async #work(): Promise<string> {
    this.#workDir ??= await mkdtemp(join(tmpdir(), "zones-build-"));
    return this.#workDir;
  }

  #resolveOptions(workDir: string, lockfile: ResolveOptions["lockfile"]): ResolveOptions {
    return {
      configFile: this.#target.configFile,
      localFolder: this.#target.localFolder,
      lockfile,
      overrideOrder: this.#build.overrideInstallOrder,
      workDir,
      credentials: (registry) => registryCredentials(registry, { env: this.#options.env, logger: this.#log }),
      ...(this.#options.signal ? { signal: this.#options.signal } : {}),
      logger: this.#log,
    };
  }

  /** What the base contributes to the key: the image's manifest digest, or the Dockerfile build's inputs. */
  async #baseIdentity(): Promise<unknown> {
    const base = this.#build.base;
    if (base.kind === "image") return { image: base.reference, digest: await this.#digestOf(base.reference) };
    const dockerfile = await readFile(base.dockerfile, "utf8").catch((err: unknown) => {
      throw new BuildError("invalid", `cannot read ${base.dockerfile}: ${messageOf(err)}`);
    });
    const froms = [...dockerfile.matchAll(/^\s*FROM\s+(?:--platform=\S+\s+)?([^\s$]+)(?:\s|$)/gim)].map(
      (m) => m[1]!,
    );
    const fromDigests: Record<string, string> = {};
    for (const ref of froms) {
      if (!ref.includes("/") && !ref.includes(":") && !ref.includes("@")) continue; // a stage name, or a short name we leave to the builder
      fromDigests[ref] = await this.#digestOf(ref);
    }
    return {
      dockerfile,
      context: await contextDigest(base.context, base.dockerfile),
      args: base.args,
      target: base.target ?? null,
      options: base.options,
      from: fromDigests,
    };
  }

  /** A reference's manifest digest from its registry; the reference itself when unreachable (warned). */
  async #digestOf(reference: string): Promise<string> {
    try {
      const ref = parseReference(reference);
      if (ref.digest) return ref.digest;
      const auth = await registryCredentials(ref.domain, { env: this.#options.env, logger: this.#log });
      const client = new RegistryClient(ref.domain, ref.path, {
        ...(auth ? { auth } : {}),
        ...(this.#options.signal ? { signal: this.#options.signal } : {}),
        logger: this.#log,
      });
      return (await client.getManifest(ref.tag ?? "latest")).digest;
    } catch (err) {
      if (this.#options.signal?.aborted) throw err;
      this.#options.onWarning?.(
        `cannot resolve ${reference} to a digest (${messageOf(err)}); the cache key uses its name`,
      );
      return `unresolved:${reference}`;
    }
  }

  async #getBuilder(): Promise<ImageBuilder> {
    if (this.#builder) return this.#builder;
    const env = this.#options.env;
    const root = this.#options.storageRoot ?? env["ZONES_BUILD_ROOT"] ?? defaultStorageRoot(env);
    this.#builder = await findBuilder({
      choice: this.#options.builder ?? this.#build.builder ?? "auto",
      env,
      storageRoot: root,
      storageDriver: env["ZONES_BUILD_STORAGE_DRIVER"] || (process.getuid?.() === 0 ? "overlay" : "vfs"),
    });
    return this.#builder;
  }

  #pushTarget(): string | undefined {
    return this.#options.push ?? this.#build.push;
  }

  #localTag(): string {
    return `${this.#build.repository}:${this.#key.slice(0, 32)}`;
  }

  #io(): { signal?: AbortSignal; onOutput(text: string): void } {
    return {
      ...(this.#options.signal ? { signal: this.#options.signal } : {}),
      onOutput: (text) => {
        this.#output.push(text);
        if (this.#output.length > 2000) this.#output.splice(0, 1000);
        this.#options.onOutput?.(text);
      },
    };
  }

  /** Runs a builder call; a failed build names the feature whose install was running. */
  async #run<T>(call: () => Promise<T>): Promise<T> {
    this.#output = [];
    try {
      return await call();
    } catch (err) {
      if (!BuildError.is(err, "buildFailed")) throw err;
      const lines = this.#output.join("").split(/\r?\n/);
      const marker = [...lines].reverse().find((l) => l.includes(featureMarker));
      const feature = marker
        ? marker.slice(marker.indexOf(": ", marker.indexOf(featureMarker)) + 2).trim()
        : undefined;
      const tail = (err.details.outputTail ?? lines.filter((l) => l.trim()).slice(-30)).slice(-15);
      throw new BuildError(
        "buildFailed",
        feature
          ? `feature "${feature}" failed to install (exit code ${err.details.exitCode ?? "?"}); its last output:\n${tail.join("\n")}`
          : `${err.message}; last output:\n${tail.join("\n")}`,
        {
          ...(feature ? { feature } : {}),
          outputTail: tail,
          ...(err.details.exitCode !== undefined ? { exitCode: err.details.exitCode } : {}),
        },
        { cause: err },
      );
    }
  }

  /** The devcontainer.metadata label: the base image's entries, then each feature's. */
  #labels(base: ImageConfigView): Record<string, string> {
    const entries: MetadataEntry[] = [
      ...parseBaseEntries(base),
      ...this.#features.map((f) => ({ id: f.userId, ...pick(f.json, featureMetadataProperties) })),
    ];
    return { [metadataLabel]: metadataLabelValue(entries), [buildKeyLabel]: this.#key };
  }

  /** _CONTAINER_USER and _REMOTE_USER as the spec finds them: the file, the image's metadata, the image's user. */
  #users(base: ImageConfigView): { containerUser: string; remoteUser: string; imageUser: string } {
    const entries = parseBaseEntries(base);
    const last = <K extends "containerUser" | "remoteUser">(key: K): string | undefined =>
      [...entries].reverse().find((e) => e[key])?.[key];
    const containerUser = this.#build.containerUser ?? last("containerUser") ?? (base.user || "root");
    const remoteUser = this.#build.remoteUser ?? last("remoteUser") ?? containerUser;
    return { containerUser, remoteUser, imageUser: base.user };
  }
}

function parseBaseEntries(base: ImageConfigView): MetadataEntry[] {
  return launchImageOf(
    Buffer.from(JSON.stringify({ config: { Labels: base.labels, User: base.user } })),
  ).image.entries.slice();
}

/** Where our builds keep buildah's/podman's storage by default. */
export function defaultStorageRoot(env: Readonly<Record<string, string | undefined>>): string {
  const data = env["XDG_DATA_HOME"] || join(env["HOME"] || homedir(), ".local", "share");
  return join(data, "styrolite-zones", "builds");
}

/**
 * All phases at once, for callers without launch steps of their own (a Compose service's
 * `build:`): resolve, build, export, deliver; temporary files removed whatever happens.
 */
export async function prepareImage(
  target: BuildTarget,
  host: Pick<LaunchHost, "name" | "listImages" | "importImage" | "pullImage">,
  options: PreparationOptions,
): Promise<PreparedImage> {
  const prep = new ImagePreparation(target, host, options);
  try {
    await prep.resolve();
    await prep.build();
    await prep.export();
    return (await prep.deliver()).image;
  } finally {
    await prep.dispose();
  }
}
