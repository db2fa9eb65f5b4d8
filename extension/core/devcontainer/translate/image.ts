import { OciImageFormat } from "../../../proto/gen/protect/control/v1/common_pb";
import type { ImagePull } from "../plan";
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
  /** The workload image to pull (none when the file names no usable image). */
  readonly images: readonly ImagePull[];
  /** The format the host stores the workload image in (customizations.styrolite.imageFormat). */
  readonly workloadFormat: OciImageFormat;
}

/** `image`, `build`, `dockerFile`, `context`: where the workload's image comes from. */
export function translateImage(ctx: TranslateContext): ImagePart {
  const c = ctx.config;
  const rows: Row[] = [];
  const refusals: string[] = [];
  const workloadFormat = imageFormats[ctx.styrolite.imageFormat ?? "squashfs"];
  const images: ImagePull[] = [];
  const problem = c.image !== undefined ? imageProblem(c.image) : undefined;
  if (c.image !== undefined && !problem)
    images.push({
      role: "workload",
      reference: c.image,
      format: workloadFormat,
      fills: "workloadSpec.image",
    });
  if (
    c.image === undefined &&
    c.build === undefined &&
    c.dockerFile === undefined &&
    c.dockerComposeFile === undefined
  ) {
    refusals.push('no image: set "image" to the container image to run in the zone');
  }

  if (has(ctx, "image")) {
    if (c.build !== undefined || c.dockerFile !== undefined)
      rows.push({
        path: ["image"],
        status: "ignored",
        detail: "build is present and takes precedence (and is refused)",
      });
    else if (c.dockerComposeFile !== undefined)
      rows.push({ path: ["image"], status: "ignored", detail: "dockerComposeFile is present (and refused)" });
    else if (problem) rows.push({ path: ["image"], status: "refused", detail: problem });
    else
      rows.push({
        path: ["image"],
        status: "translated",
        detail: `workload image, pulled as ${OciImageFormat[workloadFormat].toLowerCase()}`,
      });
  }
  for (const key of ["build", "dockerFile", "context"]) {
    if (!has(ctx, key)) continue;
    if (key === "context" && ctx.raw["dockerFile"] !== undefined)
      rows.push({ path: [key], status: "ignored", detail: "the build context of dockerFile (refused)" });
    else
      rows.push({
        path: [key],
        status: "refused",
        detail:
          'needs an image built from a Dockerfile, which zone hosts cannot build yet: build and push the image, then set "image"',
      });
  }
  return { rows, refusals, images, workloadFormat };
}
