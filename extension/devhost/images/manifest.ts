import * as z from "zod";
import { ImageError } from "../../core/registry/imageError";
import { mediaTypes } from "../../core/registry/mediaTypes";

const digestSchema = z.string().regex(/^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/, "not a digest");

const platformSchema = z.object({
  architecture: z.string(),
  os: z.string(),
  variant: z.string().optional(),
  "os.version": z.string().optional(),
});

/** An OCI content descriptor (also Docker's). */
export const descriptorSchema = z.object({
  mediaType: z.string(),
  digest: digestSchema,
  size: z.number().int().nonnegative(),
  platform: platformSchema.optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  urls: z.array(z.string()).optional(),
});
export type Descriptor = z.infer<typeof descriptorSchema>;
export type Platform = z.infer<typeof platformSchema>;

/** An image manifest: OCI or Docker v2 schema 2 (same shape). */
export const imageManifestSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  config: descriptorSchema,
  layers: z.array(descriptorSchema),
  annotations: z.record(z.string(), z.string()).optional(),
});
export type ImageManifest = z.infer<typeof imageManifestSchema>;

/** An OCI image index or a Docker manifest list. */
export const imageIndexSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  manifests: z.array(descriptorSchema),
  annotations: z.record(z.string(), z.string()).optional(),
});
export type ImageIndex = z.infer<typeof imageIndexSchema>;

const stringList = z.array(z.string()).nullish();

/** The parts of an image config the dev host uses. Unknown fields are kept in the raw bytes. */
export const imageConfigSchema = z.object({
  architecture: z.string().optional(),
  os: z.string().optional(),
  variant: z.string().optional(),
  config: z
    .object({
      Entrypoint: stringList,
      Cmd: stringList,
      Env: stringList,
      WorkingDir: z.string().nullish(),
      User: z.string().nullish(),
    })
    .nullish(),
  rootfs: z.object({ type: z.string(), diff_ids: z.array(digestSchema) }),
});
export type ImageConfigFile = z.infer<typeof imageConfigSchema>;

/** What a workload needs from an image config (Docker's names, camelCased). */
export interface ImageRuntimeConfig {
  readonly entrypoint?: string[];
  readonly cmd?: string[];
  readonly env?: string[];
  readonly workingDir?: string;
  readonly user?: string;
}

/** A parsed manifest document: either one image or a list to choose from. */
export type ParsedManifest =
  | { readonly kind: "image"; readonly mediaType: string; readonly manifest: ImageManifest }
  | { readonly kind: "index"; readonly mediaType: string; readonly index: ImageIndex };

/**
 * Parses manifest bytes. The media type comes from the registry's Content-Type when it sent a
 * useful one, else from the document's own `mediaType`, else from its shape.
 */
export function parseManifest(bytes: Uint8Array, contentType?: string): ParsedManifest {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch {
    throw new ImageError("invalidImage", "the manifest is not JSON");
  }
  const declared =
    typeof json === "object" && json !== null ? (json as { mediaType?: unknown }).mediaType : undefined;
  const schemaVersion =
    typeof json === "object" && json !== null
      ? (json as { schemaVersion?: unknown }).schemaVersion
      : undefined;
  const header = contentType?.split(";")[0]?.trim();
  const mediaType =
    header &&
    header !== "application/json" &&
    header !== "text/plain" &&
    header !== "application/octet-stream"
      ? header
      : typeof declared === "string"
        ? declared
        : "";

  if (
    schemaVersion === 1 ||
    mediaType === mediaTypes.dockerSchema1 ||
    mediaType === mediaTypes.dockerSchema1Signed
  ) {
    throw new ImageError(
      "unsupported",
      "Docker schema 1 manifests are not supported; push the image with a current client",
    );
  }
  const looksLikeIndex = typeof json === "object" && json !== null && "manifests" in json;
  if (
    mediaType === mediaTypes.ociIndex ||
    mediaType === mediaTypes.dockerManifestList ||
    (mediaType === "" && looksLikeIndex)
  ) {
    const parsed = imageIndexSchema.safeParse(json);
    if (!parsed.success)
      throw new ImageError("invalidImage", `malformed image index: ${z.prettifyError(parsed.error)}`);
    return { kind: "index", mediaType: mediaType || mediaTypes.ociIndex, index: parsed.data };
  }
  if (mediaType === mediaTypes.ociManifest || mediaType === mediaTypes.dockerManifest || mediaType === "") {
    const parsed = imageManifestSchema.safeParse(json);
    if (!parsed.success)
      throw new ImageError("invalidImage", `malformed image manifest: ${z.prettifyError(parsed.error)}`);
    return { kind: "image", mediaType: mediaType || mediaTypes.ociManifest, manifest: parsed.data };
  }
  throw new ImageError("unsupported", `unsupported manifest media type ${mediaType}`);
}

/** Parses an image config blob and extracts the runtime settings a workload needs. */
export function parseImageConfig(bytes: Uint8Array): { file: ImageConfigFile; runtime: ImageRuntimeConfig } {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch {
    throw new ImageError("invalidImage", "the image config is not JSON");
  }
  const parsed = imageConfigSchema.safeParse(json);
  if (!parsed.success)
    throw new ImageError("invalidImage", `malformed image config: ${z.prettifyError(parsed.error)}`);
  const c = parsed.data.config;
  const runtime: ImageRuntimeConfig = {
    ...(c?.Entrypoint ? { entrypoint: c.Entrypoint } : {}),
    ...(c?.Cmd ? { cmd: c.Cmd } : {}),
    ...(c?.Env ? { env: c.Env } : {}),
    ...(c?.WorkingDir ? { workingDir: c.WorkingDir } : {}),
    ...(c?.User ? { user: c.User } : {}),
  };
  return { file: parsed.data, runtime };
}

/** The platform this process runs on, in OCI terms (GOARCH names). */
export function hostPlatform(): Platform {
  const arch = (
    {
      x64: "amd64",
      arm64: "arm64",
      arm: "arm",
      ia32: "386",
      ppc64: "ppc64le",
      s390x: "s390x",
      riscv64: "riscv64",
      loong64: "loong64",
      mips: "mips",
      mipsel: "mipsle",
    } as Record<string, string>
  )[process.arch];
  const platform: Platform = { os: "linux", architecture: arch ?? process.arch };
  if (process.arch === "arm64") return { ...platform, variant: "v8" };
  if (process.arch === "arm") {
    const version = (process.config.variables as { arm_version?: string }).arm_version;
    return { ...platform, variant: `v${version ?? "7"}` };
  }
  return platform;
}

/**
 * Picks the entry of a manifest list for `platform`, as containerd's default matcher does:
 * same os and architecture; an exact variant wins, then an entry without a variant; an arm64
 * host treats a missing variant and `v8` alike. Throws ImageError `noMatchingPlatform` naming
 * what the list offers.
 */
export function choosePlatform(index: ImageIndex, platform: Platform = hostPlatform()): Descriptor {
  const candidates = index.manifests.filter(
    (m) =>
      m.platform !== undefined &&
      m.platform.os === platform.os &&
      m.platform.architecture === platform.architecture &&
      (m.mediaType === mediaTypes.ociManifest || m.mediaType === mediaTypes.dockerManifest),
  );
  const normalVariant = (v: string | undefined): string | undefined =>
    platform.architecture === "arm64" && (v === undefined || v === "v8") ? "v8" : v;
  const want = normalVariant(platform.variant);
  const exact = candidates.find((m) => normalVariant(m.platform?.variant) === want);
  const loose = candidates.find((m) => m.platform?.variant === undefined);
  const chosen = exact ?? loose;
  if (chosen) return chosen;
  const offered = index.manifests
    .filter((m) => m.platform !== undefined && m.platform.os !== "unknown")
    .map((m) => formatPlatform(m.platform!))
    .join(", ");
  throw new ImageError(
    "noMatchingPlatform",
    `no image for ${formatPlatform(platform)} in the manifest list${offered ? ` (it has ${offered})` : ""}`,
  );
}

/** `linux/arm64/v8` style. */
export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ""}`;
}
