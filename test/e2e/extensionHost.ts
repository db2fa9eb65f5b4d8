/**
 * Runs the extension-host mocha suites inside code-server, the way @vscode/test-web does for
 * VS Code for the Web: the workbench URL carries a `payload` naming the extension under
 * development and the compiled test index; the workbench's smoke-test driver (enabled with
 * `--vscode-option enable-smoke-test-driver`) runs it and reports through two functions the
 * page must expose: `codeAutomationLog(type, args)` for the extension host's console and
 * `codeAutomationExit(code)` with 0 or 1 when the run ends.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { format } from "node:util";
import type { Browser } from "../harness/browser";
import type { CodeServer } from "../harness/codeServer";

/** Printed by test/extension/index.ts right before mocha starts. */
export const testsStartMarker = "zones extension-host tests: start";

/** Options for {@link runExtensionHostTests}. */
export interface ExtensionHostRun {
  browser: Browser;
  codeServer: CodeServer;
  /** Workspace folder the test window opens. */
  folder: string;
  /** Absolute path of the compiled test index (exports `run()`). */
  testsPath: string;
  /** Environment variables for the extension host. */
  env: Record<string, string>;
  timeoutMs?: number;
}

/** What the run reported. */
export interface ExtensionHostResult {
  exitCode: number;
  passed: number;
  failed: number;
  failures: string[];
  log: string[];
}

/** The directory code-server unpacked our .vsix into (the extension under test). */
export function installedExtensionDir(codeServer: CodeServer, id = "styrolite.styrolite-zones"): string {
  const name = readdirSync(codeServer.dirs.extensionsDir).find((n) => n.toLowerCase().startsWith(`${id}-`));
  if (!name) throw new Error(`${id} is not installed in ${codeServer.dirs.extensionsDir}`);
  return join(codeServer.dirs.extensionsDir, name);
}

export async function runExtensionHostTests(options: ExtensionHostRun): Promise<ExtensionHostResult> {
  const { codeServer } = options;
  const page = await options.browser.newPage();
  const log: string[] = [];
  let settle!: (code: number) => void;
  const exited = new Promise<number>((resolve) => (settle = resolve));
  try {
    // The workbench forwards every console call of the window and its extension host; only
    // what our test index prints after its start marker is the run's report.
    let ours = false;
    await page.exposeFunction("codeAutomationLog", (type: string, args: unknown) => {
      const line = Array.isArray(args) ? format(...(args as unknown[])) : String(args);
      for (const l of line.split("\n")) {
        if (l.includes(testsStartMarker)) ours = true;
        if (ours) log.push(l);
        if (process.env.ZONES_E2E_VERBOSE) console.log(`  [${type}] ${l}`);
        else if (ours) console.log(`  ${l}`);
      }
    });
    await page.exposeFunction("codeAutomationExit", (code: number) => settle(code));
    const payload: [string, string][] = [
      ["extensionDevelopmentPath", codeServer.remoteUri(installedExtensionDir(codeServer))],
      ["extensionTestsPath", codeServer.remoteUri(options.testsPath)],
      ["extensionEnvironment", JSON.stringify(options.env)],
    ];
    await page.goto(codeServer.folderUrl(options.folder, payload));
    const timeoutMs = options.timeoutMs ?? 240_000;
    let timer: NodeJS.Timeout | undefined;
    const exitCode = await Promise.race([
      exited,
      new Promise<number>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`extension-host tests did not finish within ${timeoutMs / 1000} s`)),
          timeoutMs,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    return { exitCode, ...countResults(log), log };
  } finally {
    await page.close().catch(() => undefined);
  }
}

/** Counts from mocha's spec reporter: "N passing", "M failing", and the numbered failures. */
function countResults(log: string[]): { passed: number; failed: number; failures: string[] } {
  let passed = 0;
  let failed = 0;
  const failures: string[] = [];
  let inFailures = false;
  for (const line of log) {
    const pass = /^\s*(\d+) passing/.exec(line);
    if (pass) passed = Number(pass[1]);
    const fail = /^\s*(\d+) failing/.exec(line);
    if (fail) {
      failed = Number(fail[1]);
      inFailures = true;
      continue;
    }
    if (inFailures && line.trim()) failures.push(line);
  }
  return { passed, failed, failures: failures.slice(0, 80) };
}
