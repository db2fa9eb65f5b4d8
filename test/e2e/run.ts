/**
 * The e2e tier (`node test/run.mjs e2e`): the packaged extension in a real VS Code.
 *
 *  1. builds and packages the .vsix once, and compiles the extension-host suites;
 *  2. starts the environment the extension talks to (see ./environment.ts);
 *  3. starts code-server with the .vsix installed and that environment in the user settings;
 *  4. runs every extension-host mocha suite in one window (test/extension/**);
 *  5. runs the Playwright UI specs (./ui/*.ts), saving screenshots to test/.artifacts/;
 *  6. stops everything it started, also on failure, and prints a summary with counts and timings.
 *
 * Flags: `--only-ui`, `--only-host`, `--grep <text>` (mocha grep / UI spec name filter),
 * `--keep` (leave the temp directory for inspection; processes are stopped regardless).
 * ZONES_E2E_MEASURE=1 adds the extension-host CPU measurement with 1/10/50 graphed zones.
 */
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { cp, mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { build } from "esbuild";
import { artifactsDir, Browser, logIn, screenshot } from "../harness/browser";
import { startCodeServer } from "../harness/codeServer";
import type { CodeServer } from "../harness/codeServer";
import { startEnvironment } from "./environment";
import type { E2eEnvironment } from "./environment";
import { runExtensionHostTests } from "./extensionHost";
import { checkLogin } from "./login";
import { uiSpecs } from "./ui/specs";
import { describeWindow, tidyWindow } from "./ui/workbench";

const root = join(import.meta.dirname, "..", "..");
const args = process.argv.slice(2);
const flag = (name: string): boolean => args.includes(name);
const grepIndex = args.indexOf("--grep");
const grep = grepIndex >= 0 ? args[grepIndex + 1] : undefined;
/** ZONES_E2E_MEASURE=1 also runs the extension-host CPU measurement (test/extension/metricsCost.test.ts). */
const measure = process.env.ZONES_E2E_MEASURE === "1";

interface Outcome {
  name: string;
  ok: boolean;
  ms: number;
  detail?: string;
}

function step(label: string, cmd: string, cmdArgs: string[]): void {
  const started = Date.now();
  const result = spawnSync(cmd, cmdArgs, { cwd: root, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
  if (result.status !== 0) {
    throw new Error(
      `${label} failed (exit ${result.status ?? result.signal}):\n${result.stdout}${result.stderr}`,
    );
  }
  console.log(`e2e: ${label} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/** Bundles test/extension/*.ts for the extension host: one CommonJS file per suite plus the index. */
async function compileExtensionTests(outDir: string): Promise<void> {
  await rm(outDir, { recursive: true, force: true });
  const dir = join(root, "test", "extension");
  const entries = readdirSync(dir).filter((n) => n === "index.ts" || n.endsWith(".test.ts"));
  await build({
    entryPoints: entries.map((n) => join(dir, n)),
    outdir: outDir,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    sourcemap: "inline",
    // Suites may use core (ssh2 and its optional native helpers stay out, as in build.mjs).
    external: ["vscode", "cpu-features", "*.node"],
    logLevel: "warning",
    // mocha's parallel-mode worker pool is never used here.
    logOverride: { "require-resolve-not-external": "silent" },
  });
}

async function main(): Promise<number> {
  const startedAll = Date.now();
  const work = await mkdtemp(join(tmpdir(), "zones-e2e-"));
  await mkdir(artifactsDir, { recursive: true });
  const outcomes: Outcome[] = [];
  const timings: Record<string, number> = {};
  let environment: E2eEnvironment | undefined;
  let codeServer: CodeServer | undefined;
  let browser: Browser | undefined;
  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> =>
    (cleaning ??= (async () => {
      await browser?.close();
      await codeServer?.stop();
      await environment?.stop();
      if (!flag("--keep")) await rm(work, { recursive: true, force: true });
      else console.log(`e2e: kept ${work}`);
    })());
  // Ctrl-C: the dev host and sshd are plain children, so they are stopped here, not left behind.
  const onSignal = (): void => {
    console.log("\ne2e: interrupted; stopping everything");
    void cleanup().finally(() => process.exit(130));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    step("build + package", "npm", ["run", "--silent", "package"]);
    const vsix = join(root, "dist", "styrolite-zones.vsix");
    timings.vsixBytes = (await stat(vsix)).size;
    const testsOut = join(root, "out", "extension-tests");
    await compileExtensionTests(testsOut);

    environment = await startEnvironment(join(work, "env"));
    let started = Date.now();
    codeServer = await startCodeServer({
      dir: join(work, "code-server"),
      vsix: [vsix],
      smokeTestDriver: true,
      // Each spec's window is closed when it ends; its extension host need not outlive it.
      reconnectionGraceSeconds: 10,
      settings: environment.settings,
      env: environment.env,
    });
    timings.codeServerStartMs = Date.now() - started;
    console.log(`e2e: code-server ${codeServer.url} ready in ${timings.codeServerStartMs} ms`);
    browser = await Browser.launch();
    started = Date.now();
    // Everything below needs the browser signed in; without a login nothing else can pass.
    await checkLogin(codeServer);
    const loginPage = await browser.newPage();
    await logIn(loginPage, codeServer);
    await loginPage.close();
    outcomes.push({
      name: "code-server: no session without the password; the one-click login page signs in",
      ok: true,
      ms: Date.now() - started,
    });

    if (!flag("--only-ui")) {
      started = Date.now();
      const result = await runExtensionHostTests({
        browser,
        codeServer,
        folder: environment.workspace,
        testsPath: join(testsOut, "index.js"),
        env: {
          ...environment.extensionHostEnv,
          ...(grep ? { ZONES_TEST_GREP: grep } : {}),
          ...(measure ? { ZONES_E2E_MEASURE: "1" } : {}),
        },
        // The measurement suite (ZONES_E2E_MEASURE=1) creates 50 zones and samples for a while.
        ...(measure ? { timeoutMs: 20 * 60_000 } : {}),
      });
      outcomes.push({
        name: `extension-host mocha (${result.passed} passed, ${result.failed} failed)`,
        ok: result.exitCode === 0,
        ms: Date.now() - started,
        ...(result.exitCode === 0
          ? {}
          : { detail: result.failures.join("\n") || result.log.slice(-40).join("\n") }),
      });
      timings.extensionHostTests = result.passed + result.failed;
    }

    if (!flag("--only-host")) {
      for (const [index, spec] of uiSpecs.entries()) {
        if (grep && !spec.name.includes(grep)) continue;
        const folder = join(work, "windows", String(index), basename(environment.workspace));
        await cp(environment.workspace, folder, { recursive: true });
        const page = await browser.newPage();
        const specStarted = Date.now();
        try {
          await spec.run({ page, codeServer, environment, folder, timings });
          outcomes.push({ name: `ui: ${spec.name}`, ok: true, ms: Date.now() - specStarted });
        } catch (err) {
          const shot = await screenshot(page, `FAILED-${spec.name}`).catch(() => "(no screenshot)");
          const shown = await describeWindow(page).catch(
            (e: unknown) => `(window not readable: ${String(e)})`,
          );
          outcomes.push({
            name: `ui: ${spec.name}`,
            ok: false,
            ms: Date.now() - specStarted,
            detail: `${err instanceof Error ? (err.stack ?? err.message) : String(err)}\nthe window showed:\n${shown}\nscreenshot: ${shot}`,
          });
          await tidyWindow(page);
        } finally {
          await page.close().catch(() => undefined);
        }
      }
    }
  } catch (err) {
    outcomes.push({
      name: "e2e setup",
      ok: false,
      ms: Date.now() - startedAll,
      detail: err instanceof Error ? (err.stack ?? err.message) : String(err),
    });
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await cleanup();
  }

  console.log("\n=== e2e summary");
  for (const o of outcomes) {
    console.log(`${o.ok ? "  ok  " : "  FAIL"} ${o.name} (${(o.ms / 1000).toFixed(1)} s)`);
    if (!o.ok && o.detail) console.log(o.detail.replace(/^/gm, "        "));
  }
  console.log(`timings: ${JSON.stringify(timings)}`);
  const failed = outcomes.filter((o) => !o.ok).length;
  console.log(
    `${outcomes.length - failed} passed, ${failed} failed in ${((Date.now() - startedAll) / 1000).toFixed(1)} s; screenshots in ${artifactsDir}`,
  );
  return failed === 0 && outcomes.length > 0 ? 0 : 1;
}

void main().then((code) => {
  process.exitCode = code;
});
