import { dirname, relative, resolve } from "node:path";
import { OciImageFormat } from "../../../proto/gen/protect/control/v1/common_pb";
import { allowedBuildOptions } from "../../build/builder";
import type { BuildBase, ImagePull } from "../plan";
import type { StyroliteCustomizations } from "../styrolite";
import { has } from "./context";
import type { Row, TranslateContext, Translation } from "./context";

// Docker's reference grammar, loosely: [registry[:port]/]path[:tag][@algo:hex].
const component = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const domain =
  "(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?";
const imageReferencePattern = new RegExp(
  `^(?:${domain}/)?${component}(?:/${component})*(?::[\\w][\\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$`,
);

const imageFormats: Record<NonNullable<StyroliteCustomizations["imageFormat"]>, OciImageFormat> = {
  squashfs: OciImageFormat.SQUASHFS,
  erofs: OciImageFormat.EROFS,
  tar: OciImageFormat.TAR,
  directory: OciImageFormat.DIRECTORY,
};

/** Why a reference cannot be pulled as written, or undefined when it can. */
export function imageProblem(reference: string): string | undefined {
  const placeholder = /\$\{[^}]*\}/.exec(reference);
  if (placeholder)
    return `"${reference}" still contains ${placeholder[0]}, a variable nothing here can resolve (a template placeholder?)`;
  if (!imageReferencePattern.test(reference)) return `"${reference}" is not a valid image reference`;
  return undefined;
}

/** The image part of a plan: what the workload runs from. */
export interface ImagePart extends Translation {
  /** The workload image to pull when nothing is built. */
  readonly images: readonly ImagePull[];
  /** The format the host stores the workload image in (customizations.styrolite.imageFormat). */
  readonly workloadFormat: OciImageFormat;
  /** What a build starts from: the image, or the Dockerfile; undefined when neither is usable. */
  readonly base: BuildBase | undefined;
}

/**
 * `image`, `build`, `dockerFile`, `context`: where the workload's image comes from. An image is
 * pulled by the host as it is, unless features go on it; a Dockerfile is built on this machine
 * (its folder is the default context, both relative to devcontainer.json).
 */
export function translateImage(ctx: TranslateContext): ImagePart {
  const c = ctx.config;
  const rows: Row[] = [];
  const refusals: string[] = [];
  const workloadFormat = imageFormats[ctx.styrolite.imageFormat ?? "squashfs"];
  const formatName = OciImageFormat[workloadFormat].toLowerCase();
  const hasFeatures = Object.keys(c.features ?? {}).length > 0;
  const dockerfileForm = c.build?.dockerfile !== undefined || c.dockerFile !== undefined;
  const images: ImagePull[] = [];
  let base: BuildBase | undefined;

  if (
    c.image === undefined &&
    c.build === undefined &&
    c.dockerFile === undefined &&
    c.dockerComposeFile === undefined
  ) {
    refusals.push('no image: set "image" to the container image to run in the zone');
  }

  const problem = c.image !== undefined ? imageProblem(c.image) : undefined;
  if (c.image !== undefined && !dockerfileForm && !problem) {
    base = { kind: "image", reference: c.image };
    if (!hasFeatures)
      images.push({
        role: "workload",
        reference: c.image,
        format: workloadFormat,
        fills: "workloadSpec.image",
      });
  }
  if (has(ctx, "image")) {
    if (dockerfileForm)
      rows.push({ path: ["image"], status: "ignored", detail: "a Dockerfile is given and takes precedence" });
    else if (c.dockerComposeFile !== undefined)
      rows.push({ path: ["image"], status: "ignored", detail: "dockerComposeFile is present" });
    else if (problem) rows.push({ path: ["image"], status: "refused", detail: problem });
    else
      rows.push({
        path: ["image"],
        status: "translated",
        detail: hasFeatures
          ? `base image of the features build; the built image goes to the host as ${formatName}`
          : `workload image, pulled as ${formatName}`,
      });
  }

  if (dockerfileForm) {
    const dockerfile = build(ctx, rows);
    if (dockerfile) base = dockerfile;
  } else if (has(ctx, "build")) {
    rows.push({
      path: ["build"],
      status: c.dockerComposeFile !== undefined ? "ignored" : "refused",
      detail:
        c.dockerComposeFile !== undefined
          ? "the Compose services' build sections apply"
          : "build needs a dockerfile (build.dockerfile)",
    });
  }
  if (has(ctx, "context") && ctx.raw["dockerFile"] === undefined)
    rows.push({
      path: ["context"],
      status: "ignored",
      detail: "only used with the legacy dockerFile property",
    });
  return { rows, refusals, images, workloadFormat, base };
}

/** The Dockerfile form: rows for its properties and the build base, or undefined when refused. */
function build(ctx: TranslateContext, rows: Row[]): BuildBase | undefined {
  const c = ctx.config;
  const legacy = c.dockerFile !== undefined && c.build?.dockerfile === undefined;
  const configDir = dirname(ctx.configFile);
  const written = (legacy ? c.dockerFile : c.build?.dockerfile) ?? "";
  const dockerfile = resolve(configDir, written);
  const contextWritten = legacy ? c.context : c.build?.context;
  const context = contextWritten !== undefined ? resolve(configDir, contextWritten) : dirname(dockerfile);
  const show = (p: string): string => relative(ctx.localFolder, p) || ".";
  const top: Row["path"] = legacy ? ["dockerFile"] : ["build"];
  let refused = false;
  const refuse = (path: Row["path"], detail: string): void => {
    rows.push({ path, status: "refused", detail });
    refused = true;
  };

  if (ctx.readLocalFile && ctx.readLocalFile(dockerfile) === undefined)
    refuse(legacy ? ["dockerFile"] : ["build", "dockerfile"], `${show(dockerfile)} does not exist`);
  const placeholders = [written, contextWritten ?? ""].filter((v) => /\$\{[^}]*\}/.test(v));
  if (placeholders.length)
    refuse(top, `"${placeholders[0]}" still contains a variable nothing here can resolve`);
  const options = allowedBuildOptions(c.build?.options ?? []);
  if ("refused" in options)
    refuse(
      ["build", "options"],
      `${options.refused}; allowed: --pull, --no-cache, --platform, --label, --add-host, --network host|none|default, --build-arg, --target, --cache-from, --ulimit, --shm-size`,
    );
  const cacheFrom =
    c.build?.cacheFrom === undefined
      ? []
      : Array.isArray(c.build.cacheFrom)
        ? c.build.cacheFrom
        : [c.build.cacheFrom];
  const args = c.build?.args ?? {};
  const target = c.build?.target;
  if (!refused) {
    const parts = [
      `${show(dockerfile)} built on this machine (context ${show(context)})`,
      ...(target ? [`stage ${target}`] : []),
      ...(Object.keys(args).length ? [`build args ${Object.keys(args).join(", ")}`] : []),
      ...(cacheFrom.length ? [`cache from ${cacheFrom.join(", ")}`] : []),
      ...(c.build?.options?.length ? [`options ${c.build.options.join(" ")}`] : []),
    ];
    rows.push({ path: top, status: "translated", detail: `${parts.join("; ")}; the image goes to the host` });
    if (legacy && has(ctx, "context"))
      rows.push({ path: ["context"], status: "translated", detail: `build context ${show(context)}` });
  }
  if (refused) return undefined;
  return {
    kind: "dockerfile",
    dockerfile,
    context,
    args,
    target,
    cacheFrom,
    options: "flags" in options ? options.flags : [],
  };
}
