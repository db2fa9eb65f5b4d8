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
  const probeVsix = await packageProbe(env.work);
  const ours: Activation[] = [];
  const probe: Activation[] = [];
  const browser = await Browser.launch();
  env.cleanup.add("browser", () => browser.close());
  try {
    // Ours and the empty probe extension alternate, each in a fresh code-server, so load from
    // other work on the machine falls on both alike.
    for (let i = 0; i < runs; i++) {
      ours.push(await activateOnce(env, browser, vsix, project, `code-server-${i}`, zonesLog));
      probe.push(await activateOnce(env, browser, probeVsix, project, `code-server-probe-${i}`, probeLog));
    }
  } finally {
    await browser.close();
  }
  const of = (runs: Activation[], pick: (a: Activation) => number | undefined): number[] =>
    runs.map(pick).filter((v): v is number => v !== undefined);
  const activation = of(ours, (a) => a.activation);
  const inActivate = of(ours, (a) => a.inActivate);
  const beforeActivate = of(ours, (a) => a.beforeActivate);
  const servicesReady = of(ours, (a) => a.services);
  const populated = of(ours, (a) => a.tree);
  const fmtMedian = (values: number[]): string => (values.length ? `${median(values)} ms` : "(not seen)");
  report.add({
    section,
    name: "activation in code-server (VS Code starts it → activate() done)",
    value: median(activation),
    unit: "ms",
    baseline: {
      name: "an empty extension's activation, same code-server and project",
      value: median(of(probe, (a) => a.activation)),
    },
    target: { on: "value", op: "<=", limit: 100, text: "≤ 100 ms" },
    note: `median of ${runs} fresh code-server instances each (${activation.join(", ")} ms; empty extension ${of(probe, (a) => a.activation).join(", ")} ms); from VS Code's exthost log and ours (ms resolution); workbench load ${median(of(ours, (a) => a.workbench))} ms; activate() itself ${fmtMedian(inActivate)}, called ${fmtMedian(beforeActivate)} after our modules were evaluated; after activation the services (terminals, panels, launches) were loaded ${fmtMedian(servicesReady)} and the tree listed the dev host ${fmtMedian(populated)} later`,
  });
}

/** One activation as the logs tell it (ms). */
interface Activation {
  readonly workbench: number;
  /** exthost's "_doActivateExtension" → the extension's "activated" line. */
  readonly activation: number;
  readonly inActivate?: number;
  readonly beforeActivate?: number;
  readonly services?: number;
  readonly tree?: number;
}

/** Which extension to watch, and how its log says it is done. */
interface ActivationLog {
  readonly extensionId: string;
  readonly logFile: RegExp;
  /** Whether the run waits for the tree to list the dev host (ours) or only for activation. */
  readonly waitForTree: boolean;
}

const zonesLog: ActivationLog = {
  extensionId: "styrolite.styrolite-zones",
  logFile: /Styrolite Zones\.log$/,
  waitForTree: true,
};
const probeLog: ActivationLog = {
  extensionId: "bench.activation-probe",
  logFile: /Activation Probe\.log$/,
  waitForTree: false,
};

/**
 * The smallest extension VS Code can activate for the same project (workspaceContains), logging
 * one line the way ours does: what activation costs with nothing of ours in it.
 */
async function packageProbe(work: string): Promise<string> {
  const dir = join(work, "activation-probe");
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "package.json"),
    JSON.stringify({
      name: "activation-probe",
      publisher: "bench",
      version: "0.0.1",
      license: "MIT",
      engines: { vscode: "^1.90.0" },
      main: "./extension.js",
      activationEvents: ["workspaceContains:.devcontainer/devcontainer.json"],
    }),
  );
  writeFileSync(
    join(dir, "extension.js"),
    [
      'const vscode = require("vscode");',
      "exports.activate = (context) => {",
      '  const log = vscode.window.createOutputChannel("Activation Probe", { log: true });',
      "  context.subscriptions.push(log);",
      '  log.info("Activation Probe activated");',
      "};",
    ].join("\n"),
  );
  writeFileSync(join(dir, "LICENSE"), "MIT\n");
  writeFileSync(join(dir, "README.md"), "An empty extension for the activation baseline.\n");
  const out = join(work, "activation-probe.vsix");
  const vsce = await runProcess(
    join(repoRoot, "node_modules/.bin/vsce"),
    ["package", "--no-dependencies", "--allow-missing-repository", "--skip-license", "--out", out],
    { cwd: dir, input: "" },
  );
  if (vsce.code !== 0) throw new Error(`vsce (probe) failed: ${vsce.stderr}${vsce.stdout.toString()}`);
  return out;
}

/** A fresh code-server with `vsix` installed opens `project`; reads the activation from the logs. */
async function activateOnce(
  env: BenchEnv,
  browser: Browser,
  vsix: string,
  project: string,
  name: string,
  watch: ActivationLog,
): Promise<Activation> {
  const server = await startCodeServer({
    dir: join(env.work, name),
    vsix: [vsix],
    settings: { "zones.hosts": [`unix://${env.devHost.socketPath}`] },
  });
  try {
    const page = await browser.newPage();
    try {
      await logIn(page, server);
      const workbench = await openWorkbench(page, server.folderUrl(project), 120_000);
      // The project has a devcontainer.json: activation starts by itself (workspaceContains).
      const deadline = Date.now() + 60_000;
      const started = new RegExp(`_doActivateExtension ${watch.extensionId.replace(".", "\\.")}`);
      let start: number | undefined;
      let done: number | undefined;
      let found: Omit<Activation, "workbench" | "activation"> = {};
      while (
        Date.now() < deadline &&
        (start === undefined || done === undefined || (watch.waitForTree && found.tree === undefined))
      ) {
        await new Promise((r) => setTimeout(r, 250));
        const logs = join(server.dirs.userDataDir, "logs");
        for (const file of findFiles(logs, (n) => n.endsWith("exthost.log")))
          for (const line of readFileSync(file, "utf8").split("\n"))
            if (started.test(line)) start ??= logTime(line);
        for (const file of findFiles(logs, (n) => watch.logFile.test(n))) {
          for (const line of readFileSync(file, "utf8").split("\n")) {
            if (/ activated/.test(line) && done === undefined) {
              done = logTime(line);
              const parts = /in (\d+) ms, (\d+) ms after our code loaded/.exec(line);
              if (parts) found = { ...found, inActivate: Number(parts[1]), beforeActivate: Number(parts[2]) };
            }
            const tree = /tree populated (\d+) ms after activation/.exec(line);
            if (tree && found.tree === undefined) found = { ...found, tree: Number(tree[1]) };
            const services = /services ready (\d+) ms after activation/.exec(line);
            if (services && found.services === undefined) found = { ...found, services: Number(services[1]) };
          }
        }
      }
      if (start === undefined || done === undefined)
        throw new Error(
          `${watch.extensionId}: activation not found in the logs (started ${start}, done ${done})`,
        );
      return { workbench, activation: done - start, ...found };
    } finally {
      await page.close();
    }
  } finally {
    await server.stop();
  }
}
