import { has } from "./context";
import type { Row, TranslateContext, Translation } from "./context";

/** `features`, `overrideFeatureInstallOrder`. */
export function translateFeatures(ctx: TranslateContext): Translation {
  const c = ctx.config;
  const rows: Row[] = [];
  if (has(ctx, "features")) {
    const ids = Object.keys(c.features ?? {});
    rows.push(
      ids.length
        ? {
            path: ["features"],
            status: "refused",
            detail: `features (${ids.join(", ")}) are installed by building a new image, which zone hosts cannot do yet: build an image with them (devcontainer build) and set "image"`,
          }
        : { path: ["features"], status: "ignored", detail: "empty" },
    );
  }
  if (has(ctx, "overrideFeatureInstallOrder"))
    rows.push({
      path: ["overrideFeatureInstallOrder"],
      status: "ignored",
      detail: "orders features, which are not installed in zones",
    });
  return { rows, refusals: [] };
}
