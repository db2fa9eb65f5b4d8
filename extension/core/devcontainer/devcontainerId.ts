import { createHash } from "node:crypto";

/** The id labels the reference tools put on a dev container built from a local folder. */
export const idLabelNames = {
  localFolder: "devcontainer.local_folder",
  configFile: "devcontainer.config_file",
} as const;

/** The id labels of a devcontainer opened from `localFolder` with the config at `configFile` (both absolute). */
export function idLabelsFor(localFolder: string, configFile: string): Record<string, string> {
  return { [idLabelNames.localFolder]: localFolder, [idLabelNames.configFile]: configFile };
}

/**
 * `${devcontainerId}` as the spec defines it for label-based implementations: the labels as a
 * JSON object with sorted keys and no optional whitespace, SHA-256 over its UTF-8 bytes, the
 * digest read as one big unsigned integer and written in base 32 (digits 0-9 then a-v),
 * left-padded with "0" to 52 characters. Stable across rebuilds, different per folder/config,
 * and equal to what the reference CLI computes for the same labels.
 */
export function devcontainerIdForLabels(labels: Readonly<Record<string, string>>): string {
  const sorted: Record<string, string> = {};
  for (const key of Object.keys(labels).sort()) sorted[key] = labels[key] ?? "";
  const digest = createHash("sha256").update(JSON.stringify(sorted), "utf8").digest("hex");
  return BigInt(`0x${digest}`).toString(32).padStart(52, "0");
}

/** Shorthand: the devcontainerId of a local folder and its config file. */
export function devcontainerIdFor(localFolder: string, configFile: string): string {
  return devcontainerIdForLabels(idLabelsFor(localFolder, configFile));
}
