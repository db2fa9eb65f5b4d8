import { dirname, join, relative, resolve } from "node:path";
import { featureValueSchema, parseFeatureJson } from "../../features/featureJson";
import type { FeatureValue } from "../../features/featureJson";
import { formatSource, parseFeatureRef } from "../../features/featureRef";
import { lockfilePath, parseLockfile } from "../../features/lockfile";
import type { JsonPathSegment } from "../diagnostics";
import { has } from "./context";
import type { Row, TranslateContext, Translation } from "./context";

/** The features part of a plan: what to install, found out as far as this machine's files allow. */
export interface FeaturesPart extends Translation {
  /** Features as written, in file order; empty when there are none (or all are refused). */
  readonly features: ReadonlyArray<{ readonly userId: string; readonly value: FeatureValue }>;
  readonly overrideInstallOrder: readonly string[];
  /** The lockfile path next to devcontainer.json. */
  readonly lockfile: string;
}

/**
 * `features`, `overrideFeatureInstallOrder`. Each reference is parsed as the spec says (OCI,
 * https tarball, local folder, legacy short id); local features are read now — their folder must
 * be inside `.devcontainer/` and hold a valid devcontainer-feature.json — and the lockfile is
 * checked. OCI and tarball features are fetched, and dependencies resolved, when `up` builds.
 */
export function translateFeatures(ctx: TranslateContext): FeaturesPart {
  const c = ctx.config;
  const rows: Row[] = [];
  const refusals: string[] = [];
  const features: Array<{ userId: string; value: FeatureValue }> = [];
  const lockfile = lockfilePath(ctx.configFile);
  const entries = Object.entries(c.features ?? {});
  let lockProblem: string | undefined;
  const lockText = entries.length ? ctx.readLocalFile?.(lockfile) : undefined;
  const lock = lockText !== undefined ? parseLockfile(lockText, lockfile) : undefined;
  if (lock?.problem) {
    lockProblem = lock.problem;
    refusals.push(`features: ${lock.problem}`);
  }

  for (const [userId, rawValue] of entries) {
    const path: JsonPathSegment[] = ["features", userId];
    const value = featureValueSchema.safeParse(rawValue);
    if (!value.success) {
      rows.push({
        path,
        status: "refused",
        detail: "options must be a version string, true, or an object of string and boolean options",
      });
      continue;
    }
    const parsed = parseFeatureRef(userId);
    if ("refused" in parsed) {
      rows.push({ path, status: "refused", detail: parsed.refused });
      continue;
    }
    const source = parsed.source;
    const pinned = lock?.lockfile?.features[userId];
    let detail: string;
    if (source.kind === "local") {
      const problem = localProblem(source.path, ctx);
      if (problem) {
        rows.push({ path, status: "refused", detail: problem });
        continue;
      }
      detail = `local folder ${relative(ctx.localFolder, resolve(dirname(ctx.configFile), source.path))}${localVersion(source.path, ctx)}`;
    } else if (source.kind === "tarball") {
      detail = `tarball ${source.url}${pinned ? `, pinned to ${pinned.integrity.slice(0, 19)}…` : ""}, fetched at launch`;
    } else {
      const mapped = parsed.mappedFrom ? `legacy id "${parsed.mappedFrom}" → ` : "";
      detail = `${mapped}OCI feature ${formatSource(source)}${pinned ? ` pinned to ${pinned.resolved}` : ""}, fetched at launch`;
      if (parsed.addedOptions) detail += ` with ${Object.keys(parsed.addedOptions).join(", ")}`;
    }
    rows.push({ path, status: "translated", detail });
    features.push({ userId, value: value.data });
  }

  if (has(ctx, "features")) {
    const refused = rows.some((r) => r.status === "refused");
    if (!entries.length) rows.unshift({ path: ["features"], status: "ignored", detail: "empty" });
    else if (!refused)
      rows.unshift({
        path: ["features"],
        status: "translated",
        detail: `${features.length} feature(s) installed, with their dependencies, into an image built on this machine (${ctx.styrolite.build?.builder ?? "auto"} builder) and sent to the host${lockProblem ? "" : `; ${lock?.lockfile ? "pinned by" : "pins written to"} ${relative(ctx.localFolder, lockfile)}`}`,
      });
  }
  const overrideInstallOrder = c.overrideFeatureInstallOrder ?? [];
  if (has(ctx, "overrideFeatureInstallOrder")) {
    const bad = overrideInstallOrder.filter((ref) => "refused" in parseFeatureRef(ref));
    rows.push(
      bad.length
        ? {
            path: ["overrideFeatureInstallOrder"],
            status: "refused",
            detail: `not feature references: ${bad.join(", ")}`,
          }
        : {
            path: ["overrideFeatureInstallOrder"],
            status: "translated",
            detail: entries.length
              ? "raises these features' install priority, first entry highest"
              : "no features to order",
          },
    );
  }
  return { rows, refusals, features, overrideInstallOrder, lockfile };
}

/** Why a local feature cannot be used: outside `.devcontainer/`, missing or invalid metadata. */
function localProblem(path: string, ctx: TranslateContext): string | undefined {
  const dir = resolve(dirname(ctx.configFile), path);
  const root = join(ctx.localFolder, ".devcontainer");
  if (!`${dir}/`.startsWith(`${root}/`))
    return `a local feature must be a folder inside ${relative(ctx.localFolder, root) || ".devcontainer"}/; "${path}" resolves to ${relative(ctx.localFolder, dir) || "."}`;
  if (!ctx.readLocalFile) return undefined;
  const file = join(dir, "devcontainer-feature.json");
  const text = ctx.readLocalFile(file);
  if (text === undefined) return `${relative(ctx.localFolder, file)} does not exist`;
  try {
    parseFeatureJson(text, relative(ctx.localFolder, file));
  } catch (err) {
    return (err as Error).message;
  }
  if (ctx.readLocalFile(join(dir, "install.sh")) === undefined)
    return `${relative(ctx.localFolder, join(dir, "install.sh"))} does not exist`;
  return undefined;
}

function localVersion(path: string, ctx: TranslateContext): string {
  const text = ctx.readLocalFile?.(join(resolve(dirname(ctx.configFile), path), "devcontainer-feature.json"));
  if (text === undefined) return "";
  try {
    const json = parseFeatureJson(text, path);
    return json.version ? ` (${json.id} ${json.version})` : ` (${json.id})`;
  } catch {
    return "";
  }
}
