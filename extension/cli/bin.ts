/**
 * The zonectl executable (dist/zonectl.js): a few lines that turn on Node's module compile cache
 * and then load the CLI proper (dist/cli/main.mjs and the chunks of the one verb that runs).
 * The cache must be on before the CLI's code is loaded, which is why this file exists apart
 * from main.ts and loads it with a runtime import the bundler leaves alone.
 */
import { enableCompileCache } from "./compileCache";

enableCompileCache(process.env);
// A runtime import the bundler leaves alone (not a literal): the CLI's ESM entry beside this file.
const entry = "./cli/main.mjs";
import(entry).catch((err: unknown) => {
  process.stderr.write(`zonectl: ${String(err)}\n`);
  process.exitCode = 1;
});
