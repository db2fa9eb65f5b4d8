import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  enterNamespaces,
  finalExec,
  setupScript,
  stepWords,
  withCgroups,
  withMountSetup,
  zoneInitArgv,
} from "../../../../extension/devhost/sandbox/launch";
import type { Tools } from "../../../../extension/devhost/sandbox/launch";

const tools: Tools = {
  sh: "/bin/sh",
  nsenter: "/usr/bin/nsenter",
  unshare: "/usr/bin/unshare",
  env: "/usr/bin/env",
  setsid: "/usr/bin/setsid",
};
const hostile = ["$(touch /tmp/x)", "`id`", "'; rm -rf / #", '"q"', "a\nb", "--", "-n", "$1", "", " spaced "];

test("every client value is its own argv word: command, env, paths", () => {
  const argv = finalExec(tools, {
    root: "/r",
    cwd: "/w $(x)",
    uid: 1000,
    gid: 1000,
    env: [["A", hostile.join("|")]],
    command: hostile,
  });
  assert.deepEqual(argv.slice(-hostile.length), hostile);
  assert.ok(argv.includes(`A=${hostile.join("|")}`));
  assert.ok(argv.includes("--wd=/w $(x)"));
  assert.equal(argv[argv.length - hostile.length - 1], "--", "the command follows an option terminator");
});

test("with a TTY the final process starts its own session with the terminal, inside the namespaces and before the identity change", () => {
  const p = {
    root: "/r",
    cwd: "/",
    uid: 1000,
    gid: 1000,
    env: [["TERM", "xterm"]] as [string, string][],
    command: ["sh"],
  };
  const plain = finalExec(tools, p);
  assert.ok(!plain.includes(tools.setsid), "no new session without a TTY");
  const withTty = finalExec(tools, p, { controllingTerminal: true });
  const at = withTty.indexOf(tools.setsid);
  assert.deepEqual(
    withTty.slice(at, at + 3),
    [tools.setsid, "--ctty", tools.unshare],
    "setsid execs the chroot/setuid step",
  );
  assert.ok(withTty.indexOf("TERM=xterm") < at && at < withTty.indexOf("--setuid"));
  const chain = enterNamespaces(tools, 42, { mount: true }, withTty);
  assert.ok(
    chain.indexOf(tools.nsenter) < chain.indexOf(tools.setsid),
    "after nsenter's fork into the zone's pid namespace",
  );
});

test("the join script writes its pid to each cgroup.procs file, then execs the rest unchanged", () => {
  const dir = mkdtempSync(join(tmpdir(), "devhost-unit-"));
  try {
    const a = join(dir, "a.procs");
    const b = join(dir, "b $(x).procs");
    writeFileSync(a, "");
    writeFileSync(b, "");
    const argv = withCgroups(
      tools,
      [a, b],
      ["/bin/sh", "-c", 'echo "$$"; printf "%s|" "$@"', "sh", ...hostile],
    );
    const out = execFileSync(argv[0]!, argv.slice(1), { encoding: "utf8" });
    const [pid, rest] = [out.slice(0, out.indexOf("\n")), out.slice(out.indexOf("\n") + 1)];
    assert.equal(
      readFileSync(a, "utf8").trim(),
      pid,
      "the same process that runs the command joined the group",
    );
    assert.equal(readFileSync(b, "utf8").trim(), pid);
    assert.equal(rest, hostile.map((h) => `${h}|`).join(""));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the join script refuses to run the command when a cgroup cannot be joined", () => {
  const argv = withCgroups(tools, ["/nonexistent/dir/cgroup.procs"], ["/bin/echo", "ran"]);
  assert.throws(
    () => execFileSync(argv[0]!, argv.slice(1), { stdio: "pipe" }),
    (err: { status?: number; stdout?: Buffer }) => err.status === 125 && !String(err.stdout).includes("ran"),
  );
});

test("the setup script passes hostile words through as data and stops on unknown steps", () => {
  const ok = execFileSync(
    "/bin/sh",
    ["-c", setupScript, "devhost-setup", "--", "/usr/bin/printf", "%s|", ...hostile],
    { encoding: "utf8" },
  );
  assert.equal(ok, hostile.map((h) => `${h}|`).join(""));
  const bad = (() => {
    try {
      execFileSync("/bin/sh", ["-c", setupScript, "devhost-setup", "$(id)", "--", "/bin/true"], {
        stdio: "pipe",
      });
      return undefined;
    } catch (err) {
      return err as { status: number; stderr: Buffer };
    }
  })();
  assert.equal(bad?.status, 125);
  assert.match(String(bad?.stderr), /unknown step \$\(id\)/);
});

test("chains are composed in order: cgroups, namespaces, mount setup, final exec", () => {
  const final = finalExec(tools, { root: "/r", cwd: "/", uid: 0, gid: 0, env: [], command: ["true"] });
  const argv = withCgroups(
    tools,
    ["/cg/cgroup.procs"],
    enterNamespaces(
      tools,
      42,
      { mount: false },
      withMountSetup(tools, [{ op: "mkdir", path: "/r/proc" }], final),
    ),
  );
  const at = (word: string): number => argv.indexOf(word);
  assert.ok(
    at("/cg/cgroup.procs") < at(tools.nsenter) &&
      at(tools.nsenter) < at(tools.unshare) &&
      at("/r/proc") < at(tools.env),
  );
  assert.deepEqual(argv.slice(at(tools.nsenter), at(tools.nsenter) + 8), [
    tools.nsenter,
    "-t",
    "42",
    "-p",
    "-u",
    "-i",
    "-n",
    "--",
  ]);
  assert.deepEqual(stepWords({ op: "overlay", lower: "l", upper: "u", work: "w", target: "t" }), [
    "overlay",
    "l",
    "u",
    "w",
    "t",
  ]);
});

test("the zone init gets its own pid, mount, uts, ipc and net namespaces, and names as data", () => {
  const argv = zoneInitArgv(tools, { namespaces: true, hostname: "h$(x)", banner: ["line `1`"] });
  for (const flag of [
    "--pid",
    "--fork",
    "--kill-child",
    "--mount",
    "--uts",
    "--ipc",
    "--net",
    "--mount-proc",
  ])
    assert.ok(argv.includes(flag), flag);
  assert.deepEqual(argv.slice(-3), ["ns", "h$(x)", "line `1`"]);
  assert.equal(zoneInitArgv(tools, { namespaces: false, hostname: "h", banner: [] })[0], tools.sh);
});
