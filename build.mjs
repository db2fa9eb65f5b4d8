// One build script, four kinds of bundle:
//   dist/extension.mjs  VS Code extension host (node, esm chunks under dist/extension/, `vscode` external)
//   dist/zonectl.js     the CLI's launcher (node, cjs, executable), loading dist/cli/main.mjs and
//                       its chunks (esm), including `zonectl dev-host`
//   dist/devhost.js     the dev host alone, for scripts and tests that start it directly
//   dist/vmAgent.js     the guest agent the dev host shares into its VM zones
//   dist/webview/*.js   browser bundles for the webview panels (iife)
// Type-checking is separate: `npm run typecheck`.
import * as esbuild from "esbuild";
import { chmod, cp, mkdir, rm } from "node:fs/promises";
import { existsSync } from "node:fs";
import { createRequire, isBuiltin } from "node:module";

const production = process.argv.includes("--production");
const watch = process.argv.includes("--watch");
// `--cli-out DIR`: only the CLI (launcher and chunks), into DIR; the bench times the very layout
// users run without touching dist/.
const cliOut = process.argv.includes("--cli-out") ? process.argv[process.argv.indexOf("--cli-out") + 1] : "";

// Native or optional modules that must not be bundled: ssh2 probes for optional native crypto
// and cpu-features; node-pty is a native addon only the dev host loads; esbuild is reached only
// by a dev host run from its sources (which then bundles the VM guest agent itself).
const nodeExternals = ["cpu-features", "*.node", "node-pty", "esbuild"];

// The CLI and the dev host need Node 24. Their bundles start with this check, before any module
// loads, so an older Node prints one line naming the version instead of a stack trace; the
// bundles' syntax stays parseable by Node 18 (esbuild target below) so that the check gets to run.
// VS Code's own Electron, run as Node, is let through: the extension's ssh ProxyCommand runs the
// bundled zonectl on it, as the extension itself runs on it.
const nodeCheck = (name) =>
  `#!/usr/bin/env node\n"use strict";\nif (!process.versions.electron && +process.versions.node.split(".")[0] < 24) { process.stderr.write("${name}: needs Node.js 24 or newer; this is Node " + process.version + "\\n"); process.exit(1); }`;

const common = {
  bundle: true,
  sourcemap: production ? false : "linked",
  minify: production,
  logLevel: "warning",
  legalComments: "none",
};

const nodeBundles = [
  {
    // Only the launcher: it turns on the compile cache, then imports dist/cli/main.mjs.
    entryPoints: { zonectl: "extension/cli/bin.ts" },
    external: nodeExternals,
    banner: { js: nodeCheck("zonectl") },
  },
  {
    entryPoints: { devhost: "extension/devhost/main.ts" },
    external: nodeExternals,
    banner: { js: nodeCheck("devhost") },
  },
  // The guest agent of VM zones: runs inside each VM on the dev host's own Node (devhost/vm).
  { entryPoints: { vmAgent: "extension/devhost/vm/agent/main.ts" }, external: nodeExternals },
].map((b) => ({ ...common, ...b, platform: "node", format: "cjs", target: "node18", outdir: "dist" }));

// ES modules split into chunks get Node's require(), __filename and __dirname back from this
// banner: bundled CommonJS dependencies (ssh2, …) use them.
const esmBanner = {
  js: [
    'const require = process.getBuiltinModule("node:module").createRequire(import.meta.url);',
    'const __filename = process.getBuiltinModule("node:url").fileURLToPath(import.meta.url);',
    'const __dirname = process.getBuiltinModule("node:path").dirname(__filename);',
  ].join("\n"),
};

// Node's own modules reach ES module chunks through require(), not `import`: importing a builtin
// as an ES module builds a facade that reads every export, and reading `http`'s lazy exports
// loads Node's fetch (undici) — tens of milliseconds of a cold `zonectl ls` for nothing.
const builtinsViaRequire = {
  name: "builtins-via-require",
  setup(build) {
    build.onResolve({ filter: /^[a-z]/ }, (args) =>
      args.kind === "import-statement" && isBuiltin(args.path)
        ? { path: args.path, namespace: "node-builtin" }
        : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: "node-builtin" }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
      loader: "js",
    }));
  },
};

// ssh2 is evaluated when first used, not when imported: our modules' `import { Client } from
// "ssh2"` reach a stand-in whose exports are getters that load the real package on first read.
// A listing on a local socket never dials SSH, so it never pays the ≈ 40 ms ssh2 takes to load.
const ssh2Exports = Object.keys(createRequire(import.meta.url)("ssh2"));
const lazySsh2 = {
  name: "lazy-ssh2",
  setup(build) {
    build.onResolve({ filter: /^ssh2$/ }, (args) =>
      args.namespace === "file" && args.importer.includes("/extension/")
        ? { path: "ssh2", namespace: "lazy-ssh2" }
        : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: "lazy-ssh2" }, () => ({
      contents: [
        "let real;",
        'const load = () => (real ??= require("ssh2"));',
        `for (const key of ${JSON.stringify(ssh2Exports)})`,
        "  Object.defineProperty(exports, key, { enumerable: true, get: () => load()[key] });",
      ].join("\n"),
      resolveDir: process.cwd(),
      loader: "js",
    }));
  },
};

// The extension (dist/extension.mjs; VS Code loads .mjs mains as ES modules), split into chunks
// under dist/extension/: activation evaluates the tree, the model and the command table only;
// the services (terminals, launches, panels, …) and the connection stack (ssh2, HTTP/2, gRPC,
// the generated protobuf code) are dynamic imports loaded right after and on first connect.
const extensionBundle = {
  ...common,
  entryPoints: { extension: "extension/vscode/main.ts" },
  external: ["vscode", ...nodeExternals],
  platform: "node",
  format: "esm",
  splitting: true,
  target: "node22",
  outdir: "dist",
  outExtension: { ".js": ".mjs" },
  chunkNames: "extension/[name]-[hash]",
  banner: esmBanner,
  plugins: [builtinsViaRequire, lazySsh2],
};

// The CLI proper, as ES modules split into chunks: each verb is a dynamic import in main.ts,
// so a cold `zonectl ls` reads and evaluates only the listing's chunks, not the dev host, the
// launch code or the image builders.
const cliBundle = {
  ...common,
  entryPoints: { main: "extension/cli/main.ts" },
  external: nodeExternals,
  platform: "node",
  format: "esm",
  splitting: true,
  target: "node22",
  outdir: "dist/cli",
  outExtension: { ".js": ".mjs" },
  chunkNames: "chunks/[name]-[hash]",
  banner: esmBanner,
  plugins: [builtinsViaRequire, lazySsh2],
};

const webviewEntries = Object.fromEntries(
  ["dashboard", "console"]
    .filter((name) => existsSync(`webview/${name}/main.ts`))
    .map((name) => [name, `webview/${name}/main.ts`]),
);
const webviewBundles = Object.keys(webviewEntries).length
  ? [
      {
        ...common,
        entryPoints: webviewEntries,
        platform: "browser",
        format: "iife",
        target: "es2022",
        outdir: "dist/webview",
        loader: { ".css": "css" },
      },
    ]
  : [];

if (cliOut) {
  await rm(`${cliOut}/cli`, { recursive: true, force: true });
  const launcher = nodeBundles.find((b) => b.entryPoints.zonectl);
  await esbuild.build({ ...launcher, outdir: cliOut });
  await esbuild.build({ ...cliBundle, outdir: `${cliOut}/cli` });
  await chmod(`${cliOut}/zonectl.js`, 0o755);
  process.exit(0);
}

await mkdir("dist", { recursive: true });
// Chunk names carry content hashes: clear the chunk folders so no stale chunk is shipped.
await Promise.all(["dist/extension", "dist/cli"].map((dir) => rm(dir, { recursive: true, force: true })));
const all = [...nodeBundles, extensionBundle, cliBundle, ...webviewBundles];
if (watch) {
  for (const options of all) await (await esbuild.context(options)).watch();
} else {
  await Promise.all(all.map((options) => esbuild.build(options)));
  await chmod("dist/zonectl.js", 0o755);
  await chmod("dist/devhost.js", 0o755);
  // xterm and uPlot ship their own stylesheets; webviews load them from dist/webview.
  await cp("node_modules/@xterm/xterm/css/xterm.css", "dist/webview/xterm.css").catch(() => {});
  await cp("node_modules/uplot/dist/uPlot.min.css", "dist/webview/uPlot.min.css").catch(() => {});
  // The devcontainer.json schema for customizations.styrolite, published through jsonValidation.
  await mkdir("dist/schema", { recursive: true });
  await cp("extension/core/devcontainer/styrolite.schema.json", "dist/schema/styrolite.schema.json");
}
