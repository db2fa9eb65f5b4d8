import { metadataLabel, parseMetadataLabel } from "../features/metadata";
import type { LaunchImage } from "../devcontainer/plan";

/** Our label on images we build: the cache key they were built for. */
export const buildKeyLabel = "zones.styrolite.dev/build-key";

/**
 * What launching needs from an OCI image config blob (JSON bytes): the devcontainer.metadata
 * entries, entrypoint, command and user. Problems with the label are returned, never thrown: an
 * image with a bad label still runs, without what the label would have added.
 */
export function launchImageOf(config: Uint8Array | undefined): { image: LaunchImage; problems: string[] } {
  const empty: LaunchImage = { entries: [], entrypoint: [], cmd: [], user: "" };
  if (!config?.length) return { image: empty, problems: [] };
  let parsed: { config?: RawConfig; Config?: RawConfig };
  try {
    parsed = JSON.parse(Buffer.from(config).toString("utf8")) as { config?: RawConfig };
  } catch {
    return { image: empty, problems: ["the image config is not JSON"] };
  }
  const c = parsed.config ?? parsed.Config ?? {};
  const { entries, problems } = parseMetadataLabel(c.Labels?.[metadataLabel]);
  return {
    image: { entries, entrypoint: c.Entrypoint ?? [], cmd: c.Cmd ?? [], user: c.User ?? "" },
    problems,
  };
}

interface RawConfig {
  User?: string;
  Labels?: Record<string, string> | null;
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
}
