/**
 * Test images made of files this machine already has: a layer on top of the busybox test image
 * that carries some host programs (OpenSSH's sftp-server, code-server with its Node) together
 * with everything they need to run — their shared libraries and the dynamic loader, found with
 * ldd — laid out as on the host, symlinks (Debian's merged /usr: /lib → usr/lib) included.
 * No network and no Docker: the layer is written into the OCI layout with a new manifest and
 * tag, ready for the loopback registry.
 */
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import {
  closeSync,
  existsSync,
  createReadStream,
  lstatSync,
  openSync,
  readSync,
  readdirSync,
  readlinkSync,
  realpathSync,
} from "node:fs";
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join, posix, resolve } from "node:path";

/**
 * Everything a set of host paths needs inside an image: the paths (directories with all they
 * hold), the libraries of every executable among them, and each symlink on the way.
 */
export function hostClosure(
  paths: readonly string[],
  options: {
    /** Paths left out (with what is below them). */
    skip?: (path: string) => boolean;
    /** Whether an executable's libraries are wanted (default: all). */
    libraries?: (path: string) => boolean;
  } = {},
): string[] {
  const out = new Set<string>();
  const visit = (path: string, whole: boolean): void => {
    const abs = resolve(path);
    if (abs === "/" || (out.has(abs) && !whole) || options.skip?.(abs)) return;
    // Each parent that is a symlink on the host is one in the image too.
    visit(dirname(abs), false);
    // Through a symlinked parent the file lives elsewhere: the parent's link is already in.
    const real = posix.join(realDir(dirname(abs)), posix.basename(abs));
    if (real !== abs) return visit(real, whole);
    const seen = out.has(abs);
    out.add(abs);
    const st = lstatSync(abs);
    if (st.isSymbolicLink()) {
      // A dangling link (packages ship some) goes in as it is: there is nothing to follow.
      const target = posix.resolve(dirname(abs), readlinkSync(abs));
      if (existsSync(target)) visit(target, whole);
    } else if (st.isFile() && !seen && isElf(abs) && (options.libraries?.(abs) ?? true)) {
      for (const lib of sharedLibraries(abs)) visit(lib, false);
    } else if (st.isDirectory() && whole) {
      for (const name of readdirSync(abs)) visit(join(abs, name), true);
    }
  };
  for (const p of paths) visit(p, true);
  return [...out].sort();
}

const realDirs = new Map<string, string>();

/** Whether a file is an ELF object (executables and native addons: what has libraries). */
function isElf(path: string): boolean {
  const fd = openSync(path, "r");
  try {
    const head = Buffer.alloc(4);
    return readSync(fd, head, 0, 4, 0) === 4 && head.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  } catch {
    return false;
  } finally {
    closeSync(fd);
  }
}

function realDir(dir: string): string {
  let real = realDirs.get(dir);
  if (real === undefined) {
    real = realpathSync(dir);
    realDirs.set(dir, real);
  }
  return real;
}

/** The libraries (and loader) ldd lists for an ELF executable; none for scripts and static binaries. */
function sharedLibraries(file: string): string[] {
  let text: string;
  try {
    text = execFileSync("ldd", [file], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  } catch {
    return [];
  }
  const libs: string[] = [];
  for (const line of text.split("\n")) {
    const m = /=>\s+(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) libs.push(m[1]!);
  }
  return libs;
}

/**
 * Adds a layer holding `paths` (directories with everything below them) from this machine's
 * root to the image tagged `fromTag` in `layoutDir`, and tags the result `toTag`. `env` is added
 * to the image's environment. Resolves with the new manifest's digest.
 */
export async function addHostFilesLayer(
  layoutDir: string,
  fromTag: string,
  toTag: string,
  paths: readonly string[],
  options: {
    env?: readonly string[];
    note?: string;
    skip?: (path: string) => boolean;
    libraries?: (path: string) => boolean;
  } = {},
): Promise<string> {
  const blobs = join(layoutDir, "blobs", "sha256");
  const index = JSON.parse(await readFile(join(layoutDir, "index.json"), "utf8")) as {
    manifests: { digest: string; annotations?: Record<string, string> }[];
  };
  const base = index.manifests.find((m) => m.annotations?.["org.opencontainers.image.ref.name"] === fromTag);
  if (!base) throw new Error(`no image tagged ${fromTag} in ${layoutDir}`);
  const manifest = JSON.parse(await readFile(join(blobs, hex(base.digest)), "utf8")) as {
    config: { digest: string; size: number; mediaType: string };
    layers: { digest: string; size: number; mediaType: string }[];
  };
  const config = JSON.parse(await readFile(join(blobs, hex(manifest.config.digest)), "utf8")) as {
    config: { Env?: string[] };
    rootfs: { diff_ids: string[] };
    history?: unknown[];
  };

  // A plain (uncompressed) tar: code-server is hundreds of MB and gzip would dominate the build.
  // GNU tar writes it: with tens of thousands of entries the tar package's writer stalled.
  const temp = join(blobs, `layer-${process.pid}-${Date.now()}.tar`);
  const list = `${temp}.list`;
  const entries = hostClosure(paths, {
    ...(options.skip ? { skip: options.skip } : {}),
    ...(options.libraries ? { libraries: options.libraries } : {}),
  }).map((p) => p.slice(1));
  await writeFile(list, entries.map((e) => `${e}\0`).join(""));
  execFileSync("tar", [
    "--create",
    "--file",
    temp,
    "--directory",
    "/",
    "--no-recursion",
    "--null",
    "--files-from",
    list,
    "--format=pax",
    "--numeric-owner",
    "--owner=0",
    "--group=0",
  ]);
  await rm(list);
  const digest = await fileDigest(temp);
  const size = (await stat(temp)).size;
  await rename(temp, join(blobs, hex(digest)));

  config.rootfs.diff_ids.push(digest);
  config.config.Env = [...(config.config.Env ?? []), ...(options.env ?? [])];
  config.history = [
    ...(config.history ?? []),
    {
      created: "2024-01-01T00:00:00Z",
      created_by: `styrolite test harness: ${options.note ?? "host files"}`,
    },
  ];
  const configBlob = await writeBlob(blobs, JSON.stringify(config));
  const newManifest = {
    ...manifest,
    config: { ...manifest.config, digest: configBlob.digest, size: configBlob.size },
    layers: [...manifest.layers, { mediaType: "application/vnd.oci.image.layer.v1.tar", digest, size }],
  };
  const manifestBlob = await writeBlob(blobs, JSON.stringify(newManifest));
  index.manifests = [
    ...index.manifests.filter((m) => m.annotations?.["org.opencontainers.image.ref.name"] !== toTag),
    {
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      digest: manifestBlob.digest,
      size: manifestBlob.size,
      annotations: { "org.opencontainers.image.ref.name": toTag },
    } as (typeof index.manifests)[number],
  ];
  await writeFile(join(layoutDir, "index.json"), JSON.stringify(index));
  return manifestBlob.digest;
}

async function writeBlob(blobs: string, content: string): Promise<{ digest: string; size: number }> {
  const bytes = Buffer.from(content);
  const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
  await mkdir(blobs, { recursive: true });
  await writeFile(join(blobs, hex(digest)), bytes);
  return { digest, size: bytes.length };
}

async function fileDigest(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest("hex")}`;
}

function hex(digest: string): string {
  return digest.slice("sha256:".length);
}
