import { annotationKeys } from "../plan";
import { has } from "./context";
import type { Row, TranslateContext, Translation } from "./context";

/** The identity part of a plan: names and the annotations that find the zone again. */
export interface GeneralPart extends Translation {
  readonly zoneName: string;
  readonly workloadName: string;
  /** Our own annotations (the id, the folder, the config file, the display name). */
  readonly annotations: ReadonlyArray<[string, string]>;
}

/** `name`, `$schema`, `secrets`, and the zone's and workload's names (runArgs `--hostname`, `--name`). */
export function translateGeneral(ctx: TranslateContext): GeneralPart {
  const c = ctx.config;
  const effects = ctx.runArgs.effects;
  const zoneName =
    effects.hostname !== undefined
      ? zoneNameFrom(effects.hostname, undefined)
      : zoneNameFrom(ctx.folderName, ctx.devcontainerId);
  const refusals: string[] = [];
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(zoneName))
    refusals.push(`zone name "${zoneName}" is not a valid name`);
  const annotations: Array<[string, string]> = [
    [annotationKeys.devcontainerId, ctx.devcontainerId],
    [annotationKeys.localFolder, ctx.localFolder],
    [annotationKeys.configFile, ctx.configFile],
  ];
  if (c.name) annotations.push([annotationKeys.name, c.name]);

  const rows: Row[] = [];
  if (has(ctx, "$schema")) rows.push({ path: ["$schema"], status: "ignored", detail: "a hint for editors" });
  if (has(ctx, "name"))
    rows.push({
      path: ["name"],
      status: "translated",
      detail: `display name, annotation ${annotationKeys.name}`,
    });
  if (has(ctx, "secrets"))
    rows.push({
      path: ["secrets"],
      status: "ignored",
      detail: `recommendations to the user (${Object.keys(c.secrets ?? {}).join(", ") || "none"}); zonectl does not collect secrets — pass them with remoteEnv and \${localEnv:…}`,
    });
  return { rows, refusals, zoneName, workloadName: effects.workloadName ?? zoneName, annotations };
}

/**
 * A zone name from a folder name: lowercase letters, digits and dashes, at most 63 characters
 * (valid as a DNS label and a hostname), ending in the first 8 characters of the devcontainerId
 * so two projects with the same folder name get different zones.
 */
export function zoneNameFrom(base: string, devcontainerId: string | undefined): string {
  const suffix = devcontainerId ? `-${devcontainerId.slice(0, 8)}` : "";
  const cleaned = base
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/-+/g, "-")
    .replace(/^-|-$/g, "")
    .slice(0, 63 - suffix.length)
    .replace(/-$/, "");
  return `${cleaned || "devcontainer"}${suffix}`;
}
