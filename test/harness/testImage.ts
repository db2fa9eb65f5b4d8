/**
 * Builds the test suite's own container image from Debian's busybox-static: no network, no
 * Docker. One build gives the same image in three shapes — an OCI image layout directory (what
 * skopeo pushes to the loopback registry), an OCI layout tarball and a `docker save` tarball
 * (what ImportImage accepts) — plus a two-platform index to exercise manifest-list selection.
 *
 * The image: layer 1 holds /bin/busybox with every applet as a symlink in /bin (`ash` is a hard
 * link), /etc/passwd and /etc/group (root, nobody, tester 1000), /tmp, /root, /home/tester and
 * files layer 2 deletes again; layer 2 whites out /etc/removed-by-layer2, makes /opt/replaced
 * opaque (its old files vanish, `new.txt` appears) and adds /etc/motd. Config: Cmd ["sh"],
 * WorkingDir /root, Env PATH plus STYROLITE_GREETING. Timestamps are fixed, so digests are the
 * same on every build.
 */
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { Header } from "tar";
import { hostPlatform } from "../../extension/devhost/images/manifest";

/** One entry of a tar stream built in memory. */
export interface TarEntrySpec {
  readonly path: string;
  readonly type?: "file" | "dir" | "symlink" | "hardlink" | "fifo";
  readonly data?: string | Uint8Array;
  readonly mode?: number;
  readonly linkpath?: string;
  readonly uid?: number;
  readonly gid?: number;
}

const fixedMtime = new Date("2024-01-01T00:00:00Z");

/**
 * Writes a ustar stream (tar's own header encoder, our own entry list) so tests control every
 * byte: whiteouts, hostile paths, links. `end: false` leaves off the end-of-archive blocks.
 */
export function buildTar(entries: readonly TarEntrySpec[], options: { end?: boolean } = {}): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const type = e.type ?? "file";
    const data = e.data === undefined ? Buffer.alloc(0) : Buffer.from(e.data);
    const header = new Header({
      path: e.path,
      mode: e.mode ?? (type === "dir" ? 0o755 : type === "symlink" ? 0o777 : 0o644),
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      uname: e.uid ? "" : "root",
      gname: e.gid ? "" : "root",
      size: type === "file" ? data.length : 0,
      mtime: fixedMtime,
      type: (
        { file: "File", dir: "Directory", symlink: "SymbolicLink", hardlink: "Link", fifo: "FIFO" } as const
      )[type],
      ...(e.linkpath !== undefined ? { linkpath: e.linkpath } : {}),
    });
    const block = Buffer.alloc(512);
    if (header.encode(block, 0))
      throw new Error(`tar entry ${e.path} needs a pax header; keep test paths short`);
    blocks.push(block);
    if (type === "file" && data.length > 0) {
      blocks.push(data);
      const pad = (512 - (data.length % 512)) % 512;
      if (pad) blocks.push(Buffer.alloc(pad));
    }
  }
  if (options.end !== false) blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

/** A content-addressed blob of an OCI layout. */
export interface LayoutBlob {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly bytes: Buffer;
}

/** What `buildTestImage` made, with the facts tests assert against. */
export interface TestImage {
  /** OCI image layout directory; tags `1` (this platform) and `multi` (a two-platform index). */
  readonly layoutDir: string;
  readonly tag: "1";
  readonly multiTag: "multi";
  /** The OCI layout as one tarball (index.json names it `docker.io/test/busybox:1`). */
  readonly ociArchive: string;
  /** The same image as `docker save` writes it (manifest.json, config, uncompressed layer.tar). */
  readonly dockerArchive: string;
  /** The name both archives carry. */
  readonly archiveName: "docker.io/test/busybox:1";
  /** Digest of the image manifest for this platform (what pull and the OCI import file it under). */
  readonly manifestDigest: string;
  readonly configDigest: string;
  /** Layers in order: compressed digest and size, uncompressed digest (diff id). */
  readonly layers: readonly { digest: string; size: number; diffId: string }[];
  /** Digest of the index behind the `multi` tag. */
  readonly indexDigest: string;
  /** The other platform in the index (arm64 on amd64 hosts, else amd64) and its manifest. */
  readonly otherPlatform: { readonly architecture: string; readonly manifestDigest: string };
  /** The config's runtime part. */
  readonly config: { readonly env: string[]; readonly cmd: string[]; readonly workingDir: string };
  /** Applets linked into /bin. */
  readonly applets: readonly string[];
}

const busyboxPath = "/bin/busybox";
export const testImageEnv = [
  "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  "STYROLITE_GREETING=hello from the test image",
];

/** Builds the test image into `dir` (created if missing). Takes about a second. */
export async function buildTestImage(dir: string, options: { env?: string[] } = {}): Promise<TestImage> {
  const busybox = await readFile(busyboxPath).catch(() => {
    throw new Error(`${busyboxPath} is missing: apt-get install busybox-static`);
  });
  const applets = execFileSync(busyboxPath, ["--list"], { encoding: "utf8" })
    .split("\n")
    .map((s) => s.trim())
    .filter((s) => s !== "" && s !== "busybox" && s !== "ash" && !s.includes("/"))
    .sort();

  const base: TarEntrySpec[] = [
    { path: "bin/", type: "dir" },
    { path: "bin/busybox", data: busybox, mode: 0o755 },
    { path: "bin/ash", type: "hardlink", linkpath: "bin/busybox", mode: 0o755 },
    ...applets.map((a): TarEntrySpec => ({ path: `bin/${a}`, type: "symlink", linkpath: "busybox" })),
    { path: "dev/", type: "dir" },
    { path: "proc/", type: "dir" },
    { path: "sys/", type: "dir" },
    { path: "run/", type: "dir" },
    { path: "tmp/", type: "dir", mode: 0o1777 },
    { path: "root/", type: "dir", mode: 0o700 },
    { path: "home/", type: "dir" },
    { path: "home/tester/", type: "dir", uid: 1000, gid: 1000 },
    { path: "etc/", type: "dir" },
    {
      path: "etc/passwd",
      data: "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\ntester:x:1000:1000:tester:/home/tester:/bin/sh\n",
    },
    { path: "etc/group", data: "root:x:0:\nnobody:x:65534:\ntester:x:1000:\n" },
    { path: "etc/removed-by-layer2", data: "layer 2 deletes this\n" },
    { path: "opt/", type: "dir" },
    { path: "opt/replaced/", type: "dir" },
    { path: "opt/replaced/old-a.txt", data: "hidden by the opaque whiteout\n" },
    { path: "opt/replaced/old-b.txt", data: "hidden by the opaque whiteout\n" },
  ];
  const top: TarEntrySpec[] = [
    { path: "etc/.wh.removed-by-layer2" },
    { path: "opt/replaced/.wh..wh..opq" },
    { path: "opt/replaced/", type: "dir" },
    { path: "opt/replaced/new.txt", data: "added by layer 2\n" },
    { path: "etc/motd", data: "styrolite test image\n" },
  ];

  const host = hostPlatform();
  const layerBlobs = [buildTar(base), buildTar(top)].map((tar) => ({ tar, gz: gzipSync(tar) }));
  const layers = layerBlobs.map(({ tar, gz }) => ({
    digest: sha256(gz),
    size: gz.length,
    diffId: sha256(tar),
  }));
  const env = [...(options.env ?? testImageEnv)];
  const config = blob(
    "application/vnd.oci.image.config.v1+json",
    JSON.stringify({
      created: fixedMtime.toISOString(),
      architecture: host.architecture,
      ...(host.variant ? { variant: host.variant } : {}),
      os: "linux",
      config: { Env: env, Cmd: ["sh"], WorkingDir: "/root" },
      rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffId) },
      history: [
        { created: fixedMtime.toISOString(), created_by: "styrolite test harness: busybox base" },
        { created: fixedMtime.toISOString(), created_by: "styrolite test harness: whiteouts" },
      ],
    }),
  );
  const layerDescriptors = layers.map((l) => ({
    mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
    digest: l.digest,
    size: l.size,
  }));
  const manifest = blob(
    "application/vnd.oci.image.manifest.v1+json",
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: descriptor(config),
      layers: layerDescriptors,
    }),
  );

  // The other platform's image: not runnable here, only there to be skipped.
  const otherArch = host.architecture === "arm64" ? "amd64" : "arm64";
  const otherLayerTar = buildTar([
    { path: "etc/", type: "dir" },
    { path: "etc/platform", data: `linux/${otherArch}\n` },
  ]);
  const otherLayer = blob("application/vnd.oci.image.layer.v1.tar+gzip", gzipSync(otherLayerTar));
  const otherConfig = blob(
    "application/vnd.oci.image.config.v1+json",
    JSON.stringify({
      created: fixedMtime.toISOString(),
      architecture: otherArch,
      os: "linux",
      config: { Cmd: ["cat", "/etc/platform"] },
      rootfs: { type: "layers", diff_ids: [sha256(otherLayerTar)] },
    }),
  );
  const otherManifest = blob(
    "application/vnd.oci.image.manifest.v1+json",
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: descriptor(otherConfig),
      layers: [descriptor(otherLayer)],
    }),
  );
  // The other platform comes first, so a client that takes the first entry gets it wrong.
  const index = blob(
    "application/vnd.oci.image.index.v1+json",
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [
        {
          ...descriptor(otherManifest),
          platform: {
            architecture: otherArch,
            os: "linux",
            ...(otherArch === "arm64" ? { variant: "v8" } : {}),
          },
        },
        {
          ...descriptor(manifest),
          platform: {
            architecture: host.architecture,
            os: "linux",
            ...(host.variant ? { variant: host.variant } : {}),
          },
        },
      ],
    }),
  );

  const layerBlobList = layerBlobs.map(({ gz }) => blob("application/vnd.oci.image.layer.v1.tar+gzip", gz));
  const allBlobs = [config, manifest, ...layerBlobList, otherLayer, otherConfig, otherManifest, index];

  const layoutDir = join(dir, "layout");
  await mkdir(join(layoutDir, "blobs", "sha256"), { recursive: true });
  for (const b of allBlobs) await writeFile(join(layoutDir, "blobs", "sha256", hexOf(b.digest)), b.bytes);
  await writeFile(join(layoutDir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  await writeFile(
    join(layoutDir, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        { ...descriptor(manifest), annotations: { "org.opencontainers.image.ref.name": "1" } },
        { ...descriptor(index), annotations: { "org.opencontainers.image.ref.name": "multi" } },
      ],
    }),
  );

  const archiveName = "docker.io/test/busybox:1" as const;
  const ociArchive = join(dir, "busybox-oci.tar");
  await writeFile(
    ociArchive,
    buildTar([
      { path: "oci-layout", data: JSON.stringify({ imageLayoutVersion: "1.0.0" }) },
      {
        path: "index.json",
        data: JSON.stringify({
          schemaVersion: 2,
          manifests: [
            {
              ...descriptor(manifest),
              annotations: {
                "io.containerd.image.name": archiveName,
                "org.opencontainers.image.ref.name": "1",
              },
            },
          ],
        }),
      },
      { path: "blobs/", type: "dir" },
      { path: "blobs/sha256/", type: "dir" },
      ...[config, manifest, ...layerBlobList].map((b): TarEntrySpec => ({
        path: `blobs/sha256/${hexOf(b.digest)}`,
        data: b.bytes,
      })),
    ]),
  );

  const dockerArchive = join(dir, "busybox-docker.tar");
  const layerDirs = layers.map((l) => hexOf(l.diffId));
  await writeFile(
    dockerArchive,
    buildTar([
      ...layerBlobs.flatMap(({ gz }, i): TarEntrySpec[] => [
        { path: `${layerDirs[i]!}/`, type: "dir" },
        { path: `${layerDirs[i]!}/VERSION`, data: "1.0" },
        { path: `${layerDirs[i]!}/layer.tar`, data: gunzipSync(gz) },
      ]),
      { path: `${hexOf(config.digest)}.json`, data: config.bytes },
      {
        path: "manifest.json",
        data: JSON.stringify([
          {
            Config: `${hexOf(config.digest)}.json`,
            RepoTags: ["test/busybox:1"],
            Layers: layerDirs.map((d) => `${d}/layer.tar`),
          },
        ]),
      },
      { path: "repositories", data: JSON.stringify({ "test/busybox": { "1": layerDirs.at(-1) } }) },
    ]),
  );

  return {
    layoutDir,
    tag: "1",
    multiTag: "multi",
    ociArchive,
    dockerArchive,
    archiveName,
    manifestDigest: manifest.digest,
    configDigest: config.digest,
    layers,
    indexDigest: index.digest,
    otherPlatform: { architecture: otherArch, manifestDigest: otherManifest.digest },
    config: { env, cmd: ["sh"], workingDir: "/root" },
    applets: ["ash", ...applets],
  };
}

/** `sha256:<hex>` of some bytes. */
export function sha256(bytes: Uint8Array | string): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

function blob(mediaType: string, content: string | Buffer): LayoutBlob {
  const bytes = Buffer.from(content);
  return { mediaType, digest: sha256(bytes), size: bytes.length, bytes };
}

function descriptor(b: LayoutBlob): { mediaType: string; digest: string; size: number } {
  return { mediaType: b.mediaType, digest: b.digest, size: b.size };
}

function hexOf(digest: string): string {
  return digest.slice("sha256:".length);
}
