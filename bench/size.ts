/**
 * Size: the .vsix (packaged in a scratch copy of the sources, so the shared dist/ is left
 * alone) against the production dependencies it would carry unbundled; and activation in a real
 * VS Code (code-server + Chromium): from VS Code starting our activation to our activate()
 * having built everything, read from VS Code's own extension-host log and our log channel,
 * against the time the workbench took to appear.
 */
import {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { Browser, logIn, openWorkbench } from "../test/harness/browser";
import { startCodeServer } from "../test/harness/codeServer";
import { isInstalled } from "../scripts/codeServer.mjs";
import type { BenchEnv } from "./env";
import { repoRoot, runProcess } from "./env";
import type { Report } from "./report";
import { median } from "./stats";

const section = "size";

/** Packages the extension from a scratch copy; returns the .vsix path. */
async function packageVsix(work: string): Promise<string> {
  const dir = join(work, "package");
  mkdirSync(dir, { recursive: true });
  for (const entry of [
    "package.json",
    ".vscodeignore",
    "README.md",
    "LICENSE",
    "build.mjs",
    "media",
    "extension",
    "webview",
  ]) {
    if (existsSync(join(repoRoot, entry)))
      cpSync(join(repoRoot, entry), join(dir, entry), { recursive: true });
  }
  symlinkSync(join(repoRoot, "node_modules"), join(dir, "node_modules"));
  const build = await runProcess(process.execPath, ["build.mjs", "--production"], { cwd: dir });
  if (build.code !== 0) throw new Error(`build failed: ${build.stderr}`);
  const out = join(dir, "styrolite-zones.vsix");
  const vsce = await runProcess(
    join(repoRoot, "node_modules/.bin/vsce"),
    [
      "package",
      "--no-dependencies",
      "--allow-missing-repository",
      "--no-rewrite-relative-links",
      "--out",
      out,
    ],
    { cwd: dir, input: "" },
  );
  if (vsce.code !== 0) throw new Error(`vsce failed: ${vsce.stderr}${vsce.stdout.toString()}`);
  return out;
}

/** Bytes of every file of the production dependency tree, as `npm ls --omit=dev` lists it. */
async function productionDependencyBytes(): Promise<number> {
  const r = await runProcess("npm", ["ls", "--omit=dev", "--all", "--parseable"]);
  const dirs = r.stdout
    .toString()
    .split("\n")
    .filter((p) => p.includes("node_modules"));
  const seen = new Set<string>();
  let total = 0;
  const walk = (p: string): void => {
    for (const name of readdirSync(p)) {
      const full = join(p, name);
      if (seen.has(full)) continue;
      seen.add(full);
      const st = statSync(full, { throwIfNoEntry: false });
      if (!st) continue;
      if (st.isDirectory()) {
        if (name !== "node_modules") walk(full); // nested deps are listed themselves
      } else total += st.size;
    }
  };
  for (const d of dirs) walk(d);
  return total;
}

/** Every file under `dir` whose name matches, recursively. */
function findFiles(dir: string, match: (name: string) => boolean): string[] {
  const out: string[] = [];
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...findFiles(full, match));
    else if (match(name)) out.push(full);
  }
  return out;
}

/** The time of a VS Code log line (`2026-11-28 18:00:00.123 [info] …`), ms since the epoch. */
function logTime(line: string): number | undefined {
  const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d\.\d{3})/.exec(line);
  return m ? Date.parse(`${m[1]}T${m[2]}`) : undefined;
}

export async function benchSize(
  env: BenchEnv,
  report: Report,
  options: { activations?: number } = {},
): Promise<void> {
  console.log(`\n${section}: .vsix size, activation in code-server`);
  const vsix = await packageVsix(env.work);
  const vsixBytes = statSync(vsix).size;
  report.add({
    section,
    name: ".vsix size",
    value: vsixBytes / 1024,
    unit: "KiB",
    baseline: {
      name: "the production dependencies, unbundled",
      value: (await productionDependencyBytes()) / 1024,
    },
    note: "production build (minified, no source maps), allow-listed files only",
  });

  if (!isInstalled()) {
    report.skip(
      `${section} / activation`,
      "code-server is not installed (node scripts/codeServer.mjs install)",
    );
    return;
  }
  const runs = options.activations ?? 3;
  const project = join(env.work, "activation-project");
  mkdirSync(join(project, ".devcontainer"), { recursive: true });
  writeFileSync(
    join(project, ".devcontainer", "devcontainer.json"),
    JSON.stringify({ name: "activation", image: "busybox:latest" }),
  );
  const activation: number[] = [];
  const populated: number[] = [];
  const workbench: number[] = [];
  const browser = await Browser.launch();
  env.cleanup.add("browser", () => browser.close());
  try {
    for (let i = 0; i < runs; i++) {
      const dir = join(env.work, `code-server-${i}`);
      const server = await startCodeServer({
        dir,
        vsix: [vsix],
        settings: { "zones.hosts": [`unix://${env.devHost.socketPath}`] },
      });
      try {
        const page = await browser.newPage();
        try {
          await logIn(page, server);
          workbench.push(await openWorkbench(page, server.folderUrl(project), 120_000));
          // The project has a devcontainer.json: activation starts by itself (workspaceContains).
          const deadline = Date.now() + 60_000;
          let started: number | undefined;
          let activated: number | undefined;
          let tree: number | undefined;
          while (
            Date.now() < deadline &&
            (started === undefined || activated === undefined || tree === undefined)
          ) {
            await new Promise((r) => setTimeout(r, 250));
            const logs = join(server.dirs.userDataDir, "logs");
            for (const file of findFiles(logs, (n) => n.endsWith("exthost.log"))) {
              for (const line of readFileSync(file, "utf8").split("\n"))
                if (/_doActivateExtension styrolite\.styrolite-zones/.test(line)) started ??= logTime(line);
            }
            for (const file of findFiles(logs, (n) => /Styrolite Zones\.log$/.test(n))) {
              for (const line of readFileSync(file, "utf8").split("\n")) {
                if (/Styrolite Zones .* activated/.test(line)) activated ??= logTime(line);
                const m = /tree populated (\d+) ms after activation/.exec(line);
                if (m) tree ??= Number(m[1]);
              }
            }
          }
          if (started === undefined || activated === undefined)
            throw new Error(`activation not found in the logs (started ${started}, activated ${activated})`);
          activation.push(activated - started);
          if (tree !== undefined) populated.push(tree);
        } finally {
          await page.close();
        }
      } finally {
        await server.stop();
      }
    }
  } finally {
    await browser.close();
  }
  report.add({
    section,
    name: "activation in code-server (VS Code starts it → activate() done)",
    value: median(activation),
    unit: "ms",
    baseline: { name: "workbench load (page open → drawn)", value: median(workbench) },
    note: `median of ${runs} fresh code-server instances; from VS Code's exthost log and ours (ms resolution); the tree listed the dev host ${populated.length ? `${median(populated)} ms` : "(not seen)"} after activation`,
  });
}
