import type { JsonPathSegment } from "../diagnostics";
import type { ParsedDocument } from "../jsonc";
import type { MergedMetadata, MetadataEntry } from "../../features/metadata";
import type { LaunchImage, LaunchTimeField, PropertyStatus } from "../plan";
import type { RunArgVerdict, interpretRunArgs } from "../runArgs";
import type { DevcontainerConfig } from "../schema";
import type { StyroliteCustomizations } from "../styrolite";
import type { ComposeInput } from "./compose";

/** Tunables that come from settings rather than the file. */
export interface PlanOptions {
  /** Host folder for synced workspaces (customizations.styrolite.workspaceRoot overrides). */
  readonly workspaceRoot?: string;
  /** Host folder for named volumes. */
  readonly volumeRoot?: string;
  /** vCPUs when nothing in the file says. Default 2. */
  readonly defaultCpus?: number;
  /** Memory (MiB) when nothing in the file says. Default 2048. */
  readonly defaultMemoryMiB?: number;
}

/**
 * What every translator reads: the file as written (`raw`, for which properties are present and
 * where) and as substituted (`config`), plus the facts derived once for all of them.
 */
export interface TranslateContext {
  readonly doc: ParsedDocument;
  /** The file's top-level object as parsed (keys in file order). */
  readonly raw: Readonly<Record<string, unknown>>;
  /** The validated config after variable substitution: the file's own values (rows are about these). */
  readonly config: DevcontainerConfig;
  /**
   * The config merged with the image's metadata entries (ImageFacts), for the values launching
   * uses: environments, users, privileges, capabilities. The same object as `config` until the
   * image is known.
   */
  readonly merged: DevcontainerConfig;
  /** `customizations.styrolite`, substituted ({} when absent). */
  readonly styrolite: StyroliteCustomizations;
  readonly options: PlanOptions;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly localFolder: string;
  readonly configFile: string;
  readonly devcontainerId: string;
  /** Basename of the project folder ("workspace" for "/"). */
  readonly folderName: string;
  /** Where the project appears in the workload (workspaceFolder, substituted). */
  readonly workspaceFolder: string;
  /** Paths (JSON-stringified) whose values keep `${containerEnv:…}` for launch time. */
  readonly deferred: ReadonlySet<string>;
  /** runArgs interpreted once: several properties defer to them or take precedence over them. */
  readonly runArgs: ReturnType<typeof interpretRunArgs>;
  readonly workspaceRoot: string;
  readonly volumeRoot: string;
  /** `<workspaceRoot>/<devcontainerId>`: the workspace copy on the host. */
  readonly hostWorkspacePath: string;
  /** Patterns of the project's root .gitignore, if any. */
  readonly gitignore: readonly string[] | undefined;
  /** Resolves symbolic links on this machine, when the caller may look (see MountContext.realPath). */
  readonly realPath: ((path: string) => string | undefined) | undefined;
  /** Reads a small file on this machine (local features, the lockfile, Dockerfiles); undefined when absent. */
  readonly readLocalFile: ((path: string) => string | undefined) | undefined;
  /** The launch image's metadata merged in, once the image is known (see PlanInput.image). */
  readonly image: ImageFacts | undefined;
  /** The Compose project of dockerComposeFile, as the caller read it. */
  readonly compose: ComposeInput | undefined;
}

/** What the image's metadata adds beyond the merged config. */
export interface ImageFacts {
  /** Every lifecycle hook in order: image entries first (features in install order), devcontainer.json last. */
  readonly hooks: MergedMetadata["hooks"];
  /** Feature and base-image entrypoints, run before the workload's command. */
  readonly entrypoints: readonly string[];
  readonly contributions: MergedMetadata["contributions"];
  /** Mounts the image's entries ask for, with who asked (substituted). */
  readonly mounts: ReadonlyArray<{
    readonly origin: string;
    readonly mount: NonNullable<MetadataEntry["mounts"]>[number];
  }>;
  readonly launch: LaunchImage;
}

/** One property-table row before it is located in the file. */
export interface Row {
  readonly path: JsonPathSegment[];
  readonly status: PropertyStatus;
  readonly detail: string;
}

/**
 * What a runArgs flag became when a translator took it over (a `--mount` the storage translator
 * mapped, a `--cpus` that hostRequirements overrides). Keyed by the flag's index in runArgs.
 */
export type RunArgClaims = ReadonlyMap<number, { readonly status: PropertyStatus; readonly detail: string }>;

/**
 * The common part of every translator's result: its rows of the property table (only for
 * properties present in the file), refusals that belong to no single property, and fields
 * filled during launch. A row with status "refused" is a refusal by itself.
 */
export interface Translation {
  readonly rows: readonly Row[];
  readonly refusals: readonly string[];
  readonly fillAtLaunch?: readonly LaunchTimeField[];
  /** runArgs flags this translator decided (their rows are written with the rest of runArgs). */
  readonly runArgClaims?: RunArgClaims;
}

/** Top-level keys present in the file, in file order. */
export function has(ctx: TranslateContext, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(ctx.raw, key);
}

/** A claim's detail starts with the flag as written, like every runArgs row. */
export function claim(
  verdict: RunArgVerdict,
  status: PropertyStatus,
  detail: string,
): [number, { status: PropertyStatus; detail: string }] {
  return [verdict.index, { status, detail: `${verdict.text}: ${detail}` }];
}

/** Drops repeats, keeping first occurrences in order. */
export function unique<T>(items: readonly T[]): T[] {
  return [...new Set(items)];
}
