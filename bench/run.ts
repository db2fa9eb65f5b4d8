/**
 * `npm run bench` (node test/run.mjs bench): every performance figure that can be measured here,
 * each against a baseline taken in the same run on the same machine. Prints a table and writes
 * bench/results.json. Not part of `npm test`: nothing here asserts a timing.
 *
 *   npm run bench                              # everything
 *   npm run bench -- --only listing,terminal   # some sections
 *   npm run bench -- --sizes 10,100            # fewer zones for the listing
 *
 * Sections: listing, tree, terminal, gateway, idle, launch, build, size, memory, vm
 * (`--memory-minutes 60` for the hour the issue asks; default 5).
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startBenchEnv, repoRoot } from "./env";
import { benchListing, removeAllZones } from "./listing";
import { Report } from "./report";
import { benchGateway } from "./gateway";
import { benchTerminal } from "./terminal";
import { benchTree } from "./tree";
import { benchIdle } from "./idle";
import { benchLaunch } from "./launch";
import { benchBuild } from "./build";
import { benchSize } from "./size";
import { benchVm } from "./vm";
import { benchMemory } from "./memory";

const sections = [
  "listing",
  "tree",
  "terminal",
  "gateway",
  "idle",
  "launch",
  "build",
  "size",
  "memory",
  "vm",
] as const;
type Section = (typeof sections)[number];

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: { only: { type: "string" }, sizes: { type: "string" }, "memory-minutes": { type: "string" } },
    strict: true,
  });
  const only = values.only ? values.only.split(",").map((s) => s.trim()) : [...sections];
  const unknown = only.filter((s) => !(sections as readonly string[]).includes(s));
  if (unknown.length) {
    console.error(`bench: unknown section(s) ${unknown.join(", ")}; known: ${sections.join(", ")}`);
    return 2;
  }
  const wanted = (s: Section): boolean => only.includes(s);
  const sizes = (values.sizes ?? "10,100,1000").split(",").map(Number);
  const report = new Report();
  const started = Date.now();

  const env = await startBenchEnv();
  try {
    // Idle first: its graphs want 50 zones on the host, not the listing's 1000 (with 1000 zones
    // the dev host's ReadZoneMetrics slows down and the sampler cannot keep 1 Hz).
    if (wanted("idle")) {
      await benchIdle(env, report);
      await removeAllZones(env.devHost.socketPath); // the listing seeds exact counts
    }
    if (wanted("listing")) await benchListing(env, report, sizes);
    if (wanted("tree")) await benchTree(env, report, { zones: Math.max(...sizes) });
    if (wanted("terminal")) await benchTerminal(env, report);
    if (wanted("gateway")) await benchGateway(env, report);
    if (wanted("launch")) await benchLaunch(env, report);
    if (wanted("build")) await benchBuild(env, report);
    if (wanted("size")) await benchSize(env, report);
    if (wanted("memory")) {
      await removeAllZones(env.devHost.socketPath); // exactly 100 zones on the host
      await benchMemory(env, report, { minutes: Number(values["memory-minutes"] ?? 5) });
    }
    if (wanted("vm")) await benchVm(env, report);
  } finally {
    await removeAllZones(env.devHost.socketPath).catch((err: unknown) =>
      console.error(`bench: removing zones: ${(err as Error).message}`),
    );
    await env.cleanup.run();
  }

  console.log(`\n${report.table()}\n`);
  const out = join(repoRoot, "bench", "results.json");
  report.write(out);
  const withTarget = report.figures.filter((f) => f.met !== undefined);
  console.log(
    `bench: ${report.figures.length} figures, ${withTarget.filter((f) => f.met).length} of ${withTarget.length} targets met, in ${((Date.now() - started) / 1000).toFixed(0)} s; written to ${out}`,
  );
  return 0;
}

main().then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    console.error(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exitCode = 1;
  },
);
