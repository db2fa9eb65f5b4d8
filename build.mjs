// One build script, four kinds of bundle:
//   dist/extension.js   VS Code extension host (node, cjs, `vscode` external)
//   dist/zonectl.js     the CLI, including `zonectl dev-host` (node, cjs, executable)
//   dist/devhost.js     the dev host alone, for scripts and tests that start it directly
//   dist/webview/*.js   browser bundles for the webview panels (iife)
// Type-checking is separate: `npm run typecheck`.
import * as esbuild from "esbuild";
import { chmod, cp, mkdir } from "node:fs/promises";
import { existsSync } from "node:fs";

const production = process.argv.includes("--production");
const watch = process.argv.includes("--watch");

// Native or optional modules that must not be bundled: ssh2 probes for optional native crypto
// and cpu-features; node-pty is a native addon only the dev host loads.
const nodeExternals = ["cpu-features", "*.node", "node-pty"];

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
  { entryPoints: { extension: "extension/vscode/main.ts" }, external: ["vscode", ...nodeExternals] },
  {
    entryPoints: { zonectl: "extension/cli/main.ts" },
    external: nodeExternals,
    banner: { js: nodeCheck("zonectl") },
  },
  {
    entryPoints: { devhost: "extension/devhost/main.ts" },
    external: nodeExternals,
    banner: { js: nodeCheck("devhost") },
  },
].map((b) => ({ ...common, ...b, platform: "node", format: "cjs", target: "node18", outdir: "dist" }));

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

await mkdir("dist", { recursive: true });
const all = [...nodeBundles, ...webviewBundles];
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
