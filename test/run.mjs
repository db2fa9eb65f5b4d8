// The one test entry point: `node test/run.mjs <tier> [files…]` with tier = unit | setup |
// integration | vm | e2e | static | all | bench. `npm test` runs `all`: static checks, then every
// tier in order, stopping at the first failure. Without files, a tier runs every *.test.ts under
// its folder.
import { spawnSync } from "node:child_process";

const root = new URL("..", import.meta.url).pathname;
const tier = process.argv[2] ?? "all";
const extra = process.argv.slice(3);

// Everything here runs on the Node 24 that `.ci/setup` installs; npm scripts find it first on
// PATH (node_modules/.bin/node). Started by an older Node directly, say how to get the right one.
const nodeMajor = Number(process.versions.node.split(".")[0]);
if (nodeMajor < 24) {
  console.error(
    `test/run.mjs needs Node 24 or newer, this is ${process.version}: run it as \`npm test\` ` +
      `(or put Node 24 first: eval "$(bash .ci/setup --env)")`,
  );
  process.exit(1);
}
console.log(`node ${process.version} (${process.execPath})`);

function run(label, cmd, args, env = {}) {
  const started = Date.now();
  console.log(`\n=== ${label}: ${[cmd, ...args].join(" ").slice(0, 200)}`);
  const result = spawnSync(cmd, args, { stdio: "inherit", cwd: root, env: { ...process.env, ...env } });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (result.status !== 0) {
    console.error(`=== ${label} FAILED after ${seconds}s (exit ${result.status ?? result.signal})`);
    process.exit(result.status || 1);
  }
  console.log(`=== ${label} passed in ${seconds}s`);
}

const nodeTest = (label, dir, concurrency) => {
  // The test runner expands the glob itself (quoted: no shell is involved).
  const files = extra.length ? extra : [`${dir}/**/*.test.ts`];
  run(label, process.execPath, [
    "--import",
    "tsx",
    "--test",
    "--test-reporter=spec",
    `--test-concurrency=${concurrency}`,
    ...files,
  ]);
};

const tiers = {
  static: () => {
    run("build", process.execPath, ["build.mjs"]);
    run("typecheck", "npx", ["tsc", "--noEmit", "-p", "tsconfig.json"]);
    run("typecheck webview", "npx", ["tsc", "--noEmit", "-p", "webview/tsconfig.json"]);
    run("lint", "npx", ["eslint", "."]);
    run("format", "npx", ["prettier", "--check", "."]);
  },
  unit: () => nodeTest("unit", "test/unit", 2),
  // A clone of this checkout installed the way `.ci/setup` does, with an empty HOME.
  setup: () => nodeTest("setup", "test/setup", 1),
  // Integration files each start their own sshd / dev host; two at a time on a 2-core machine.
  integration: () => nodeTest("integration", "test/integration", 2),
  // Zones as QEMU virtual machines (the dev host's --sandbox vm); one file at a time: each VM is
  // a CPU-heavy emulator on a 2-core machine.
  vm: () => nodeTest("vm", "test/vm", 1),
  e2e: () => run("e2e", process.execPath, ["--import", "tsx", "test/e2e/run.ts", ...extra]),
  bench: () => run("bench", process.execPath, ["--import", "tsx", "bench/run.ts", ...extra]),
};

const order = tier === "all" ? ["static", "unit", "setup", "integration", "vm", "e2e"] : [tier];
const startedAll = Date.now();
for (const t of order) {
  if (!tiers[t]) {
    console.error(`unknown tier ${t}; use one of ${Object.keys(tiers).join(", ")}, all`);
    process.exit(2);
  }
  tiers[t]();
}
console.log(`\nall requested tiers passed in ${((Date.now() - startedAll) / 1000).toFixed(1)}s`);
