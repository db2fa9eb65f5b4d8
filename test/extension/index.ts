/**
 * Entry point VS Code's extension-host test driver loads (`extensionTestsPath`): runs every
 * compiled `*.test.js` next to this file as mocha suites inside the real extension host, where
 * `vscode` is the real API and our extension is loaded from the packaged bits.
 *
 * The files are loaded by hand (pre-require, require, post-require), which is what mocha does
 * itself, because mocha's own loader goes through dynamic import and we want the suites to be
 * plain CommonJS bundles that share this process's `vscode` module.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import Mocha from "mocha";

/** Runs all suites; rejects when any test fails (the driver then exits with code 1). */
export async function run(): Promise<void> {
  const grep = process.env.ZONES_TEST_GREP;
  const mocha = new Mocha({
    ui: "tdd",
    color: false,
    timeout: 30_000,
    reporter: "spec",
    ...(grep ? { grep } : {}),
  });
  const files = readdirSync(__dirname)
    .filter((name) => name.endsWith(".test.js"))
    .sort()
    .map((name) => join(__dirname, name));
  for (const file of files) {
    mocha.suite.emit("pre-require", globalThis, file, mocha);
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loading the suites is the point; see above
    mocha.suite.emit("require", require(file), file, mocha);
    mocha.suite.emit("post-require", globalThis, file, mocha);
  }
  console.log("zones extension-host tests: start"); // the e2e runner's marker (test/e2e/extensionHost.ts)
  const failures = await new Promise<number>((resolve) => mocha.run(resolve));
  console.log(
    `extension-host tests: ${mocha.suite.total()} tests in ${files.length} files, ${failures} failed`,
  );
  if (failures > 0) throw new Error(`${failures} extension-host test(s) failed`);
}
