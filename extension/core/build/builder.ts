import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isLoopbackRegistry } from "../registry/registryClient";
import { BuildError } from "./buildError";
import { runTool } from "./tool";
import type { ToolResult, ToolRunOptions } from "./tool";

/** The image builders we drive, in the order `auto` tries them. */
export const builderNames = ["buildah", "podman", "docker"] as const;
export type BuilderName = (typeof builderNames)[number];

/** One `build` of a Dockerfile. Paths are absolute on this machine. */
export interface BuildRequest {
  readonly context: string;
  /** The Dockerfile; it may lie outside the context. */
  readonly dockerfile: string;
  /** Name the result is tagged with, e.g. `localhost/zones-build/app:1f2e…`. */
  readonly tag: string;
  readonly target?: string;
  readonly args?: Readonly<Record<string, string>>;
  readonly cacheFrom?: readonly string[];
  readonly labels?: Readonly<Record<string, string>>;
  /** Further flags, already allow-listed by the caller (see `allowedBuildOption`). */
  readonly options?: readonly string[];
}

/** Cancellation and output of one call. */
export interface BuilderIo {
  readonly signal?: AbortSignal;
  onOutput?(text: string): void;
}

/** What launching needs from an image's config. */
export interface ImageConfigView {
  /** `User` ("" for the image's default, root). */
  readonly user: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly env: readonly string[];
  readonly entrypoint: readonly string[];
  readonly cmd: readonly string[];
}

/** How an exported archive is laid out (both are what ImportImage takes). */
export type ArchiveFormat = "oci-archive" | "docker-archive";

/**
 * A builder CLI on this machine. Every call runs the tool without a shell; a cancelled call
 * stops the tool's whole process group and rejects with BuildError `cancelled`.
 */
export interface ImageBuilder {
  readonly name: BuilderName;
  /** The tool's own version line. */
  readonly version: string;
  /** The folder images are stored under when it is ours (buildah, podman); undefined: the tool's default. */
  readonly storage: string | undefined;
  /** Builds; rejects with BuildError `buildFailed` carrying the last lines of output. */
  build(request: BuildRequest, io?: BuilderIo): Promise<void>;
  /** Pulls an image into the builder's storage. */
  pull(reference: string, io?: BuilderIo): Promise<void>;
  /** An image's config, or undefined when the builder has no image by that name. */
  inspect(reference: string, io?: BuilderIo): Promise<ImageConfigView | undefined>;
  /** Writes the image to `file` as an archive ImportImage accepts. */
  exportArchive(reference: string, file: string, io?: BuilderIo): Promise<ArchiveFormat>;
  /** Pushes to `destination` (`registry/repo:tag`); resolves with the manifest digest. */
  push(reference: string, destination: string, io?: BuilderIo): Promise<string>;
  /** Removes the name (and the image when nothing else names it). Missing names are fine. */
  remove(reference: string): Promise<void>;
}

/** Where and how to look for a builder. */
export interface FindBuilderOptions {
  /** A builder by name, or `auto` (default): buildah, then podman, then docker. */
  readonly choice?: BuilderName | "auto";
  /** The environment the tools run with (PATH decides which exist). Default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * A folder of ours for buildah's and podman's image storage (`root/`, `runroot/` inside), so
   * builds neither depend on nor litter the machine's shared container storage. Undefined: the
   * tool's own default storage. Docker always uses its daemon's.
   */
  readonly storageRoot?: string;
  /** buildah/podman storage driver with `storageRoot`; default `overlay`. */
  readonly storageDriver?: string;
}

const installHint =
  "install buildah (Debian/Ubuntu: apt-get install buildah; Fedora: dnf install buildah), or podman, or Docker with a running daemon";

/**
 * The builder to use: the one named, or the first of buildah, podman, docker that answers.
 * Docker counts only when its daemon answers too. Rejects with BuildError `noBuilder` saying
 * what to install.
 */
export async function findBuilder(options: FindBuilderOptions = {}): Promise<ImageBuilder> {
  const choice = options.choice ?? "auto";
  const candidates = choice === "auto" ? builderNames : [choice];
  const problems: string[] = [];
  for (const name of candidates) {
    const builder = new CliBuilder(name, options);
    const version = await builder.probe();
    if (typeof version === "string") return builder.withVersion(version);
    problems.push(`${name}: ${version.problem}`);
  }
  throw new BuildError(
    "noBuilder",
    choice === "auto"
      ? `no image builder found on this machine (${problems.join("; ")}); ${installHint}`
      : `the builder "${choice}" cannot be used here (${problems.join("; ")}); install it, or choose another with zones.build.builder / --builder`,
  );
}

/** Flags of `build.options` we pass on; anything else is refused (it could change what runs where). */
const allowedOptions: ReadonlyArray<{ readonly flag: string; readonly takesValue: boolean }> = [
  { flag: "--pull", takesValue: false },
  { flag: "--no-cache", takesValue: false },
  { flag: "--platform", takesValue: true },
  { flag: "--label", takesValue: true },
  { flag: "--add-host", takesValue: true },
  { flag: "--network", takesValue: true },
  { flag: "--build-arg", takesValue: true },
  { flag: "--target", takesValue: true },
  { flag: "--cache-from", takesValue: true },
  { flag: "--ulimit", takesValue: true },
  { flag: "--shm-size", takesValue: true },
  { flag: "-q", takesValue: false },
  { flag: "--quiet", takesValue: false },
];

/**
 * Splits `build.options` into allowed flags, or says which entry is not allowed. `--flag=value`
 * and `--flag value` are both accepted; `--network` only as `host`, `none` or `default`.
 */
export function allowedBuildOptions(options: readonly string[]): { flags: string[] } | { refused: string } {
  const flags: string[] = [];
  for (let i = 0; i < options.length; i++) {
    const entry = options[i]!;
    const eq = entry.indexOf("=");
    const name = eq > 0 ? entry.slice(0, eq) : entry;
    const allowed = allowedOptions.find((o) => o.flag === name);
    if (!allowed) return { refused: `"${entry}" is not an allowed build option` };
    let value: string | undefined;
    if (allowed.takesValue) {
      value = eq > 0 ? entry.slice(eq + 1) : options[++i];
      if (value === undefined) return { refused: `"${entry}" needs a value` };
      if (name === "--network" && !["host", "none", "default"].includes(value))
        return { refused: `"--network ${value}": only host, none or default` };
      flags.push(`${name}=${value}`);
    } else {
      if (eq > 0) return { refused: `"${entry}" takes no value` };
      flags.push(name);
    }
  }
  return { flags };
}

/** The registries (host[:port]) among image references that are loopback, so plain HTTP. */
export function loopbackRegistries(references: readonly string[]): string[] {
  const out = new Set<string>();
  for (const ref of references) {
    const first = ref.split("/")[0] ?? "";
    if (ref.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost"))
      if (isLoopbackRegistry(first)) out.add(first);
  }
  return [...out];
}

/** buildah, podman or docker through its CLI. */
class CliBuilder implements ImageBuilder {
  readonly storage: string | undefined;
  #version = "";

  constructor(
    readonly name: BuilderName,
    private readonly options: FindBuilderOptions,
  ) {
    this.storage = name !== "docker" ? options.storageRoot : undefined;
  }

  get version(): string {
    return this.#version;
  }

  withVersion(version: string): this {
    this.#version = version;
    return this;
  }

  /** The version line, or why the tool cannot be used. */
  async probe(): Promise<string | { problem: string }> {
    const args =
      this.name === "docker" ? ["version", "--format", "{{.Server.Version}}"] : ["version", "--json"];
    let result: ToolResult;
    try {
      result = await runTool(this.name, this.name === "buildah" ? ["--version"] : args, {
        env: this.#env(),
        captureStdout: true,
      });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return { problem: code === "ENOENT" ? "not installed" : `cannot run (${code ?? String(err)})` };
    }
    if (result.exitCode !== 0)
      return {
        problem:
          this.name === "docker"
            ? `its daemon does not answer (${result.tail.at(-1) ?? `exit ${result.exitCode}`})`
            : `\`${this.name} version\` failed: ${result.tail.at(-1) ?? `exit ${result.exitCode}`}`,
      };
    const text = result.stdout.trim();
    if (this.name === "docker") return `docker ${text}`;
    if (this.name === "buildah") return text.split("\n")[0]?.trim() ?? "buildah";
    try {
      const parsed = JSON.parse(text) as { Client?: { Version?: string } };
      return `podman ${parsed.Client?.Version ?? "?"}`;
    } catch {
      return "podman";
    }
  }

  async build(request: BuildRequest, io: BuilderIo = {}): Promise<void> {
    const args = [...this.#global(), this.name === "buildah" ? "bud" : "build"];
    if (this.name !== "docker") args.push("--isolation", this.#isolation(), "--layers", "--force-rm");
    args.push("-f", request.dockerfile, "-t", request.tag);
    if (request.target) args.push("--target", request.target);
    for (const [k, v] of Object.entries(request.args ?? {})) args.push("--build-arg", `${k}=${v}`);
    for (const c of request.cacheFrom ?? []) args.push("--cache-from", c);
    for (const [k, v] of Object.entries(request.labels ?? {})) args.push("--label", `${k}=${v}`);
    args.push(...(request.options ?? []), request.context);
    const fromRefs = await baseReferences(request.dockerfile);
    const known = await this.#containers();
    let result: ToolResult;
    try {
      result = await this.#run(args, io, [...fromRefs, ...(request.cacheFrom ?? [])]);
    } catch (err) {
      // A stopped buildah leaves the step's working container; remove what this build started.
      await this.#removeContainersBut(known);
      throw err;
    }
    if (result.exitCode !== 0)
      throw new BuildError("buildFailed", `${this.name} build failed with exit code ${result.exitCode}`, {
        outputTail: result.tail,
        exitCode: result.exitCode,
      });
  }

  async pull(reference: string, io: BuilderIo = {}): Promise<void> {
    const result = await this.#run([...this.#global(), "pull", reference], io, [reference]);
    if (result.exitCode !== 0)
      throw new BuildError("buildFailed", `${this.name} could not pull ${reference}: ${lastLine(result)}`, {
        outputTail: result.tail,
      });
  }

  async inspect(reference: string, io: BuilderIo = {}): Promise<ImageConfigView | undefined> {
    const args =
      this.name === "buildah"
        ? [...this.#global(), "inspect", "--type", "image", reference]
        : [...this.#global(), "image", "inspect", reference];
    const result = await this.#run(args, { ...(io.signal ? { signal: io.signal } : {}) }, [], true);
    if (result.exitCode !== 0) return undefined;
    return parseInspect(this.name, result.stdout);
  }

  async exportArchive(reference: string, file: string, io: BuilderIo = {}): Promise<ArchiveFormat> {
    const docker = this.name === "docker";
    const args = docker
      ? ["save", "-o", file, reference]
      : [...this.#global(), "push", reference, `oci-archive:${file}`];
    const result = await this.#run(args, io, []);
    if (result.exitCode !== 0)
      throw new BuildError(
        "exportFailed",
        `${this.name} could not write ${reference} to ${file}: ${lastLine(result)}`,
        {
          outputTail: result.tail,
        },
      );
    return docker ? "docker-archive" : "oci-archive";
  }

  async push(reference: string, destination: string, io: BuilderIo = {}): Promise<string> {
    const insecure = loopbackRegistries([destination]).length > 0;
    let result: ToolResult;
    let digest: string | undefined;
    if (this.name === "docker") {
      const tagged = await this.#run(["tag", reference, destination], io, []);
      if (tagged.exitCode !== 0)
        throw new BuildError("exportFailed", `docker could not tag ${reference}: ${lastLine(tagged)}`);
      result = await this.#run(["push", destination], io, [], true);
      digest = /digest: (sha256:[a-f0-9]{64})/.exec(result.stdout)?.[1];
    } else {
      const dir = await mkdtemp(join(tmpdir(), "zones-push-"));
      try {
        const digestFile = join(dir, "digest");
        result = await this.#run(
          [
            ...this.#global(),
            "push",
            ...(insecure ? ["--tls-verify=false"] : []),
            "--digestfile",
            digestFile,
            reference,
            `docker://${destination}`,
          ],
          io,
          [],
        );
        if (result.exitCode === 0) digest = (await readFile(digestFile, "utf8")).trim();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
    if (result.exitCode !== 0 || !digest)
      throw new BuildError(
        "exportFailed",
        `${this.name} could not push to ${destination}: ${lastLine(result)}`,
        {
          outputTail: result.tail,
        },
      );
    return digest;
  }

  /** Working containers in the builder's storage (buildah, podman), by id. */
  async #containers(): Promise<Set<string> | undefined> {
    if (this.name === "docker") return undefined;
    const args = this.name === "buildah" ? ["containers", "-q", "--all"] : ["ps", "-a", "-q", "--no-trunc"];
    const result = await this.#run([...this.#global(), ...args], {}, [], true);
    return result.exitCode === 0 ? new Set(result.stdout.split(/\s+/).filter(Boolean)) : undefined;
  }

  async #removeContainersBut(known: Set<string> | undefined): Promise<void> {
    if (!known) return;
    const now = await this.#containers();
    const stray = [...(now ?? [])].filter((id) => !known.has(id));
    if (stray.length) await this.#run([...this.#global(), "rm", ...stray], {}, []);
  }

  async remove(reference: string): Promise<void> {
    await this.#run([...this.#global(), "rmi", reference], {}, []);
  }

  /** Runs the tool; a cancel becomes BuildError `cancelled`. Loopback registries are spoken to over HTTP. */
  async #run(
    args: string[],
    io: BuilderIo,
    references: readonly string[],
    capture = false,
  ): Promise<ToolResult> {
    const insecure = this.name === "docker" ? [] : loopbackRegistries(references);
    const confDir = insecure.length ? await mkdtemp(join(tmpdir(), "zones-registries-")) : undefined;
    try {
      const env = { ...this.#env() };
      if (confDir) {
        const conf = join(confDir, "registries.conf");
        await writeFile(conf, await registriesConf(insecure, env["CONTAINERS_REGISTRIES_CONF"]));
        env["CONTAINERS_REGISTRIES_CONF"] = conf;
      }
      const run: ToolRunOptions = {
        env,
        captureStdout: capture,
        ...(io.signal ? { signal: io.signal } : {}),
        ...(io.onOutput ? { onOutput: (text: string) => io.onOutput!(text) } : {}),
      };
      let result: ToolResult;
      try {
        result = await runTool(this.name, args, run);
      } catch (err) {
        throw new BuildError(
          "noBuilder",
          `cannot run ${this.name}: ${(err as Error).message}`,
          {},
          { cause: err },
        );
      }
      if (result.cancelled) throw new BuildError("cancelled", `${this.name} was stopped (cancelled)`);
      return result;
    } finally {
      if (confDir) await rm(confDir, { recursive: true, force: true });
    }
  }

  #global(): string[] {
    const root = this.storage;
    if (!root) return [];
    return [
      "--root",
      join(root, "root"),
      "--runroot",
      join(root, "runroot"),
      "--storage-driver",
      this.options.storageDriver ?? "overlay",
    ];
  }

  #env(): Record<string, string | undefined> {
    return { ...(this.options.env ?? process.env) };
  }

  /**
   * buildah's and podman's RUN isolation: BUILDAH_ISOLATION when set, else chroot — it needs no
   * OCI runtime, which some hosts cannot use (crun on cgroup v1 hybrid).
   */
  #isolation(): string {
    return this.#env()["BUILDAH_ISOLATION"] || "chroot";
  }
}

function lastLine(result: ToolResult): string {
  return result.tail.filter((l) => l.trim()).at(-1) ?? `exit code ${result.exitCode}`;
}

/** Image references on the Dockerfile's FROM lines (those without variables), for registry settings. */
async function baseReferences(dockerfile: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(dockerfile, "utf8");
  } catch {
    return [];
  }
  const refs: string[] = [];
  const args = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const arg = /^\s*ARG\s+([A-Za-z_][A-Za-z0-9_]*)=("?)([^"\s]*)\2\s*$/i.exec(line);
    if (arg) args.set(arg[1]!, arg[3]!);
    const from = /^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)/i.exec(line);
    if (from)
      refs.push(from[1]!.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_, n: string) => args.get(n) ?? ""));
  }
  return refs;
}

/**
 * A registries.conf for one call: the machine's own (so mirrors and short names keep working),
 * Docker's default of docker.io for short names when it sets none, and the loopback registries
 * marked insecure (plain HTTP), as Docker treats them.
 */
async function registriesConf(insecure: readonly string[], override: string | undefined): Promise<string> {
  let base = "";
  try {
    base = await readFile(override || "/etc/containers/registries.conf", "utf8");
  } catch {
    // no system configuration: ours alone
  }
  const head = /^\s*unqualified-search-registries\s*=/m.test(base)
    ? ""
    : 'unqualified-search-registries = ["docker.io"]\n';
  const tables = insecure
    .filter((r) => !base.includes(`"${r}"`))
    .map((r) => `\n[[registry]]\nlocation = "${r}"\ninsecure = true\n`)
    .join("");
  return `${head}${base}\n${tables}`;
}

/** The parts of `inspect` output launching needs, from buildah's or podman's/docker's JSON. */
function parseInspect(name: BuilderName, text: string): ImageConfigView | undefined {
  try {
    const parsed = JSON.parse(text) as unknown;
    const config =
      name === "buildah"
        ? ((parsed as { OCIv1?: { config?: RawConfig } }).OCIv1?.config ?? {})
        : ((parsed as Array<{ Config?: RawConfig }>)[0]?.Config ?? {});
    return {
      user: config.User ?? "",
      labels: config.Labels ?? {},
      env: config.Env ?? [],
      entrypoint: config.Entrypoint ?? [],
      cmd: config.Cmd ?? [],
    };
  } catch {
    return undefined;
  }
}

interface RawConfig {
  User?: string;
  Labels?: Record<string, string> | null;
  Env?: string[] | null;
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
}
