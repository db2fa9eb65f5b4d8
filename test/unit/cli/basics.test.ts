// What a CLI user tries first: --version, `version --json`, `help VERB`, and shell completion.
// zonectl runs for real (its sources through tsx); the completion scripts run in real bash (its
// own `compgen` filters) and real zsh, where compsys' builtins are stubs that print what the
// script offers (compsys needs an interactive terminal).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const repoRoot = resolve(import.meta.dirname, "../../..");
const packageVersion = (
  JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { version: string }
).version;

function zonectl(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(
    process.execPath,
    ["--import", "tsx", join(repoRoot, "extension/cli/main.ts"), ...args],
    {
      cwd: repoRoot,
      encoding: "utf8",
      env: { ...process.env, ZONECTL_HOST: "" },
    },
  );
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("-V (--version) prints one line; `version --json` gives version, node and api", () => {
  const r = zonectl("-V");
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `zonectl ${packageVersion}\n`);
  const json = zonectl("--json", "version");
  assert.equal(json.status, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout), {
    version: packageVersion,
    node: process.versions.node,
    api: "protect.control.v1",
  });
});

test("`help VERB` prints that verb's help, like `VERB --help`; an unknown verb is a usage error", () => {
  const help = zonectl("help", "plan");
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /^usage: zonectl plan \[PATH\] \[--config FILE\]/);
  assert.equal(help.stdout, zonectl("plan", "--help").stdout);
  const unknown = zonectl("help", "teleport");
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /^zonectl help: unknown command 'teleport'\n/);
  assert.equal(unknown.stdout, "");
});

test("`completion` without bash or zsh is a usage error", () => {
  const r = zonectl("completion", "fish");
  assert.equal(r.status, 2);
  assert.match(r.stderr, /name a shell, bash or zsh/);
});

/** A HOME whose ssh config has two aliases and a pattern (patterns are not offered). */
function homeWithSshConfig(): string {
  const home = mkdtempSync(join(tmpdir(), "zonectl-completion-"));
  mkdirSync(join(home, ".ssh"));
  writeFileSync(join(home, ".ssh", "config"), "Host edera-1 edera-*\n  HostName 10.0.0.1\nhost lab\n");
  return home;
}

test("bash: verbs, help VERB, each verb's flags, ssh aliases after --host, files after --config", () => {
  const script = zonectl("completion", "bash");
  assert.equal(script.status, 0, script.stderr);
  const home = homeWithSshConfig();
  try {
    const cases: [string[], string][] = [
      [["zonectl", "l"], "ls logs"],
      [["zonectl", "-H", "lab", "st"], "status stop"],
      [["zonectl", "help", "d"], "dev-host down"],
      [["zonectl", "completion", ""], "bash zsh"],
      [["zonectl", "plan", "--c"], "--config"],
      [["zonectl", "exec", "--w"], "--workdir"],
      [["zonectl", "--ho"], "--host"],
      [["zonectl", "--host", ""], "edera-1 lab"],
      // A value-taking flag: nothing from us, bash's default (file names) takes over.
      [["zonectl", "plan", "--config", ""], ""],
    ];
    const calls = cases.map(([words]) => `t ${words.map((w) => `'${w}'`).join(" ")}`).join("\n");
    const run = spawnSync(
      "bash",
      [
        "--norc",
        "-c",
        `${script.stdout}
t() { COMP_WORDS=("$@"); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); COMPREPLY=(); _zonectl; echo "\${COMPREPLY[*]}"; }
${calls}
complete -p zonectl`,
      ],
      { encoding: "utf8", env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home } },
    );
    assert.equal(run.status, 0, run.stderr);
    const lines = run.stdout.split("\n");
    cases.forEach(([words, expected], i) =>
      assert.equal(lines[i], expected, `completing ${words.join(" ")}`),
    );
    assert.equal(lines[cases.length], "complete -o default -F _zonectl zonectl");
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test("zsh: verbs with descriptions, help VERB, flags, ssh aliases after --host, files elsewhere", (t) => {
  if (spawnSync("zsh", ["--version"]).status !== 0) {
    t.skip("zsh is not installed (.ci/setup installs it)");
    return;
  }
  const script = zonectl("completion", "zsh");
  assert.equal(script.status, 0, script.stderr);
  assert.match(script.stdout, /^#compdef zonectl\n/);
  assert.match(script.stdout, /'ls:list the zones of a host'/, "verbs carry their summaries");
  // Every verb `zonectl help` lists, in its order, and `help` itself.
  const listed = zonectl("help").stdout.split("\ncommands:\n")[1]!.split("\n\n")[0]!;
  const verbs = [...listed.split("\n").map((line) => line.trim().split(/\s+/)[0]), "help"].join(" ");
  const home = homeWithSshConfig();
  const dir = mkdtempSync(join(tmpdir(), "zonectl-zsh-"));
  try {
    writeFileSync(join(dir, "_zonectl"), script.stdout);
    const cases: [string[], string][] = [
      [["zonectl", "l"], `verbs: ${verbs}`],
      [["zonectl", "help", "d"], `verbs: ${verbs}`],
      [["zonectl", "completion", ""], "words: bash zsh"],
      [
        ["zonectl", "-H", "lab", "exec", "--"],
        "words: --tty -t --interactive -i --user -u --workdir -w --env -e --host -H --json --verbose -v --help -h --version -V",
      ],
      [["zonectl", "--host", ""], "words: edera-1 lab"],
      [["zonectl", "plan", ""], "files"],
      [["zonectl", "plan", "--config", ""], "files"],
    ];
    const calls = cases.map(([words]) => `t ${words.map((w) => `'${w}'`).join(" ")}`).join("\n");
    const run = spawnSync(
      "zsh",
      [
        "-f",
        "-c",
        `compdef() { print -r -- "compdef $*"; }
_describe() { local name=\${@[-1]}; local -a list; list=("\${(@P)name}"); print -r -- "verbs: \${(j: :)\${(@)list%%:*}}"; }
compadd() { [[ $1 == -- ]] && shift; print -r -- "words: $*"; }
_files() { print files; }
source ${dir}/_zonectl
t() { words=("$@"); CURRENT=\${#words}; PREFIX=\${words[-1]}; _zonectl; }
${calls}`,
      ],
      { encoding: "utf8", env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home } },
    );
    assert.equal(run.status, 0, run.stderr);
    const lines = run.stdout.split("\n");
    // Sourced (not autoloaded from fpath), the script registers itself with compdef.
    assert.equal(lines[0], "compdef _zonectl zonectl");
    cases.forEach(([words, expected], i) =>
      assert.equal(lines[i + 1], expected, `completing ${words.join(" ")}`),
    );
  } finally {
    rmSync(home, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});
