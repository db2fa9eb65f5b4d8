import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { WorkloadSpecSchema } from "../../../extension/proto/gen/protect/control/v1/common_pb";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { DevHostError } from "../../../extension/devhost/errors";
import {
  assertNoSymlinks,
  defaultPath,
  mergeEnv,
  normalizeAbsolute,
  planWorkload as planWith,
  setupSteps,
  workloadPaths,
} from "../../../extension/devhost/workloadPlan";
import type { WorkloadImage } from "../../../extension/devhost/workloadPlan";
import { resolveIdentity } from "../../../extension/devhost/sandbox/users";

let root: string;
let image: WorkloadImage;

before(() => {
  root = mkdtempSync(join(tmpdir(), "devhost-plan-"));
  mkdirSync(join(root, "etc"));
  writeFileSync(
    join(root, "etc/passwd"),
    "root:x:0:0:root:/root:/bin/sh\napp:x:1001:1002:app:/home/app:/bin/sh\n",
  );
  writeFileSync(join(root, "etc/group"), "root:x:0:\napp:x:1002:\nstaff:x:50:\n");
  symlinkSync("/etc", join(root, "escape"));
  image = {
    digest: "sha256:" + "a".repeat(64),
    rootfsDir: root,
    config: {
      entrypoint: ["/entry"],
      cmd: ["--serve"],
      env: ["PATH=/img/bin", "A=image"],
      workingDir: "/srv",
      user: "app",
    },
  };
});
after(() => rmSync(root, { recursive: true, force: true }));

const spec = (init: MessageInitShape<typeof WorkloadSpecSchema>) =>
  create(WorkloadSpecSchema, { zoneId: "z", ...init });
const refused = (err: unknown) => DevHostError.is(err, "invalidArgument");
const planWorkload = (s: ReturnType<typeof spec>, i: WorkloadImage) =>
  planWith(s, i, { mountRoots: [tmpdir()] });

test("the image's Entrypoint+Cmd, Env, WorkingDir and User apply when the spec says nothing", () => {
  const plan = planWorkload(spec({}), image);
  assert.deepEqual(plan.command, ["/entry", "--serve"]);
  assert.deepEqual(plan.env, [
    ["PATH", "/img/bin"],
    ["A", "image"],
    ["HOME", "/home/app"],
  ]);
  assert.equal(plan.cwd, "/srv");
  assert.deepEqual([plan.uid, plan.gid], [1001, 1002]);
});

test("the spec's command replaces the image's, its env overrides by key, user/group by name or id", () => {
  const plan = planWorkload(
    spec({
      process: {
        command: ["sh", "-c", "x"],
        environment: [
          { key: "A", value: "spec" },
          { key: "B", value: "$(not expanded)" },
        ],
        workingDirectory: "/tmp/../work/",
        user: { idOrName: { case: "id", value: 0 } },
        group: { idOrName: { case: "name", value: "staff" } },
        tty: true,
      },
    }),
    image,
  );
  assert.deepEqual(plan.command, ["sh", "-c", "x"]);
  assert.deepEqual(Object.fromEntries(plan.env), {
    PATH: "/img/bin",
    A: "spec",
    B: "$(not expanded)",
    HOME: "/root",
    TERM: "xterm-256color",
  });
  assert.equal(plan.cwd, "/work");
  assert.deepEqual([plan.uid, plan.gid], [0, 50]);
  assert.equal(plan.stdin, true, "a terminal has an input");
});

test("bad specs are refused before anything runs", () => {
  assert.throws(
    () =>
      planWorkload(spec({ process: { user: { idOrName: { case: "name", value: "nobody-here" } } } }), image),
    refused,
  );
  assert.throws(
    () => planWorkload(spec({ process: { environment: [{ key: "A=B", value: "" }] } }), image),
    refused,
  );
  assert.throws(
    () => planWorkload(spec({ process: { environment: [{ key: "-u", value: "" }] } }), image),
    refused,
  );
  assert.throws(() => planWorkload(spec({ process: { command: ["a\0b"] } }), image), refused);
  assert.throws(() => planWorkload(spec({ process: { workingDirectory: "relative" } }), image), refused);
  assert.throws(
    () =>
      planWorkload(
        spec({ mounts: [{ hostPath: join(tmpdir(), "definitely-not-here"), targetPath: "/x" }] }),
        image,
      ),
    refused,
  );
  assert.throws(() => planWorkload(spec({ mounts: [{ hostPath: root, targetPath: "/" }] }), image), refused);
  assert.throws(() => planWorkload(spec({}), { ...image, config: {} }), refused, "no command anywhere");
});

test("mount targets may not run through symlinks of the image (they would point at the host)", () => {
  assert.throws(() => assertNoSymlinks([root], "/escape/passwd", "mount target"), refused);
  assert.doesNotThrow(() => assertNoSymlinks([root], "/etc/passwd", "mount target"));
  const plan = planWorkload(spec({ mounts: [{ hostPath: root, targetPath: "/escape/x" }] }), image);
  assert.throws(() => setupSteps(plan, image, workloadPaths("/run", "w1"), { overlay: true }), refused);
});

test("setup steps stay inside the workload root", () => {
  const plan = planWorkload(
    spec({ mounts: [{ hostPath: join(root, "etc/passwd"), targetPath: "/data/../config/passwd" }] }),
    image,
  );
  const paths = workloadPaths("/state/run", "w1");
  const steps = setupSteps(plan, image, paths, { overlay: true });
  assert.deepEqual(steps[0], {
    op: "overlay",
    lower: root,
    upper: paths.upper,
    work: paths.work,
    target: paths.root,
  });
  for (const s of steps) {
    const target = s.op === "symlink" ? s.link : s.op === "mkdir" || s.op === "touch" ? s.path : s.target;
    assert.ok(target.startsWith(paths.root), `${s.op} ${target}`);
  }
  assert.ok(steps.some((s) => s.op === "bind" && s.target === join(paths.root, "config/passwd")));
});

test("env merging and path normalisation", () => {
  assert.deepEqual(mergeEnv([], [], { tty: false }), [["PATH", defaultPath]]);
  assert.deepEqual(mergeEnv(["X=1=2", "bogus"], [], { tty: false })[0], ["X", "1=2"]);
  assert.equal(normalizeAbsolute("/a/./b/../../../c//", "p"), "/c");
});

test("an image Env name that would read as an option is refused (it reached env(1) as one)", () => {
  for (const bad of ["--split-string=/bin/sh -c 'touch /tmp/x' #", "-i=1", "A B=1", "=x", "1A=2"])
    assert.throws(
      () => planWorkload(spec({}), { ...image, config: { ...image.config, env: [bad] } }),
      (err: unknown) => refused(err) && /in the image's Env/.test((err as Error).message),
      bad,
    );
});

test("a bind source with a symbolic link on the way, or outside the mount roots, is refused", () => {
  const dir = join(root, "ws");
  mkdirSync(join(dir, "real"), { recursive: true });
  symlinkSync("/", join(dir, "hostroot"));
  symlinkSync("real", join(dir, "inside"));
  for (const hostPath of [join(dir, "hostroot"), join(dir, "hostroot/etc"), join(dir, "inside")])
    assert.throws(
      () => planWorkload(spec({ mounts: [{ hostPath, targetPath: "/m" }] }), image),
      refused,
      hostPath,
    );
  assert.throws(
    () => planWorkload(spec({ mounts: [{ hostPath: "/etc", targetPath: "/m" }] }), image),
    (err: unknown) => DevHostError.is(err, "permissionDenied"),
  );
  const plan = planWorkload(spec({ mounts: [{ hostPath: join(dir, "real"), targetPath: "/m" }] }), image);
  assert.equal(plan.mounts[0]?.requested, join(dir, "real"));
});

test("an image's /etc/passwd is read only as a regular file inside the image, never through links", () => {
  const hostile = mkdtempSync(join(tmpdir(), "devhost-passwd-"));
  try {
    symlinkSync("/etc", join(hostile, "etc"));
    // Through the link the host's own root account would be found.
    assert.throws(() => resolveIdentity(hostile, "root", undefined), refused);
    rmSync(join(hostile, "etc"));
    mkdirSync(join(hostile, "etc"));
    symlinkSync("/dev/zero", join(hostile, "etc/passwd"));
    assert.throws(() => resolveIdentity(hostile, "root", undefined), refused);
  } finally {
    rmSync(hostile, { recursive: true, force: true });
  }
});
