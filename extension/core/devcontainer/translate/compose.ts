import { has } from "./context";
import type { Row, TranslateContext, Translation } from "./context";

/** `dockerComposeFile`, `service`, `runServices`: the Compose form. */
export function translateCompose(ctx: TranslateContext): Translation {
  const rows: Row[] = [];
  if (has(ctx, "dockerComposeFile"))
    rows.push({
      path: ["dockerComposeFile"],
      status: "refused",
      detail:
        'Docker Compose starts several containers; a zone runs one workload from an image: set "image" to the service\'s image instead',
    });
  for (const key of ["service", "runServices"])
    if (has(ctx, key))
      rows.push({
        path: [key],
        status: "ignored",
        detail: "only meaningful with dockerComposeFile (refused)",
      });
  return { rows, refusals: [] };
}
