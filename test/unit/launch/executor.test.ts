import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { LaunchError } from "../../../extension/core/launch/errors";
import { launchSteps } from "../../../extension/core/launch/events";
import type { LaunchEvent } from "../../../extension/core/launch/events";
import { LaunchExecutor } from "../../../extension/core/launch/executor";
import type { LaunchOptions } from "../../../extension/core/launch/executor";
import type { LocalRunner } from "../../../extension/core/launch/localRunner";
import { WorkloadState, ZoneState } from "../../../extension/proto/gen/protect/control/v1/common_pb";
import { FakeHost, projectPlan, removeProjects } from "./fakeHost";

after(removeProjects);

const allHooks = {
  image: "registry.example/dev/app:1",
  workspaceFolder: "/workspaces/app",
  containerEnv: { GREETING: "hi" },
  remoteEnv: { FROM_CONTAINER: "${containerEnv:GREETING} there", PLAIN: "x" },
  remoteUser: "tester",
  initializeCommand: ["echo", "local init"],
  onCreateCommand: "echo one",
  updateContentCommand: ["sh", "-c", "echo two"],
  postCreateCommand: { a: "echo three-a", b: ["echo", "three-b"] },
  postStartCommand: "echo four",
  postAttachCommand: "echo five",
};

function launch(host: FakeHost, plan: ReturnType<typeof projectPlan>["plan"], options: LaunchOptions = {}) {
  const events: LaunchEvent[] = [];
  const localRuns: { argv: readonly string[]; cwd: string }[] = [];
  const runLocal: LocalRunner = async (argv, o) => {
    localRuns.push({ argv, cwd: o.cwd });
    o.onStdout?.(Buffer.from("local output\n"));
    return 0;
  };
  const executor = new LaunchExecutor(plan, host, { runLocal, ...options });
  executor.onEvent((e) => events.push(e));
  return { run: executor.run(), events, localRuns };
}

const stepsOf = (events: LaunchEvent[], outcome?: "done" | "skipped") =>
  events
    .filter(
      (e): e is Extract<LaunchEvent, { type: "stepFinished" }> =>
        e.type === "stepFinished" && (outcome === undefined || e.outcome === outcome),
    )
    .map((e) => e.step);

test("a first launch runs every step in order: local init, zone, sync, pull, workload, hooks with remoteEnv as remoteUser", async () => {
  const { plan, workspaceRoot } = projectPlan(allHooks, {
    "README.md": "hello\n",
    "src/a.ts": "export {};\n",
  });
  const host = new FakeHost();
  const { run, events, localRuns } = launch(host, plan);
  const result = await run;

  assert.deepEqual(stepsOf(events, "done"), [
    "initializeCommand",
    "findExisting",
    "pullImage",
    "createZone",
    "waitZoneReady",
    "syncWorkspace",
    "createWorkload",
    "waitWorkloadRunning",
    "resolveRemoteEnv",
    "onCreateCommand",
    "updateContentCommand",
    "postCreateCommand",
    "postStartCommand",
  ]);
  assert.deepEqual(stepsOf(events, "skipped"), [
    "resolveImage",
    "buildImage",
    "exportImage",
    "importImage",
    "destroyExisting",
    "pullKernel",
    "startServices",
    "postAttachCommand",
    "forwardPorts",
  ]);
  assert.deepEqual(
    localRuns,
    [{ argv: ["echo", "local init"], cwd: plan.localFolder }],
    "initializeCommand as argv, in the project folder",
  );

  // The host saw the calls in this order; the workload got the pulled digest and the zone id.
  const order = host.calls.filter((c) => !c.startsWith("exec"));
  assert.deepEqual(
    order.map((c) => c.split(" ")[0]),
    ["listZones", "pullImage", "createZone", "createWorkload", "startWorkload"],
  );
  assert.match(
    host.calls.find((c) => c.startsWith("createWorkload"))!,
    new RegExp(`in ${result.zoneId} image sha256:`),
  );

  const hookExecs = host.execs.filter((e) => e.command[0] !== "cat");
  assert.deepEqual(
    hookExecs.map((e) => e.command.join(" ")),
    [
      "/bin/sh -c echo one",
      "sh -c echo two",
      "/bin/sh -c echo three-a",
      "echo three-b",
      "/bin/sh -c echo four",
    ],
    "hooks in spec order, string form through /bin/sh -c as one argv element",
  );
  for (const e of hookExecs) {
    assert.equal(e.workloadId, result.workloadId);
    assert.equal(e.user, "tester");
    assert.equal(e.workingDirectory, "/workspaces/app");
    assert.deepEqual(
      e.env,
      { FROM_CONTAINER: "hi there", PLAIN: "x" },
      "${containerEnv:…} resolved from the running workload",
    );
  }
  assert.equal(result.firstLaunch, true);
  assert.equal(result.reusedZone, false);
  assert.equal(result.sync?.filesCopied, 3, "README, src/a.ts and devcontainer.json");
  assert.equal(readFileSync(join(workspaceRoot, plan.devcontainerId, "src/a.ts"), "utf8"), "export {};\n");
  assert.ok(result.timings.every((t) => t.ms >= 0));
  assert.equal(result.timings.length, launchSteps.length, "every step has a timing, skipped ones included");
  assert.ok(events.some((e) => e.type === "imagePull" && e.phase === "layer_download" && e.total === 20));
  assert.ok(events.some((e) => e.type === "zoneState" && e.state === "ready"));
  // waitFor defaults to updateContentCommand: terminals may attach before postCreateCommand runs.
  const attachable = events.findIndex((e) => e.type === "attachable");
  assert.ok(
    attachable > events.findIndex((e) => e.type === "stepFinished" && e.step === "updateContentCommand"),
  );
  assert.ok(attachable < events.findIndex((e) => e.type === "stepStarted" && e.step === "postCreateCommand"));
  assert.equal(events.filter((e) => e.type === "attachable").length, 1);
  assert.ok(
    events.some(
      (e) =>
        e.type === "hookOutput" &&
        e.hook === "initializeCommand" &&
        Buffer.from(e.data).toString() === "local output\n",
    ),
  );
});

test("the object form runs its commands at the same time", async () => {
  const { plan } = projectPlan({ image: "busybox", postCreateCommand: { slow: "sleep a", fast: "sleep b" } });
  const host = new FakeHost();
  host.execResult = () => ({ code: 0, ms: 60 });
  const { run, events } = launch(host, plan);
  await run;
  const marks = events.filter((e) => e.type === "hookStarted" || e.type === "hookExited").map((e) => e.type);
  assert.deepEqual(
    marks,
    ["hookStarted", "hookStarted", "hookExited", "hookExited"],
    "both started before either ended",
  );
});

test("up again on the same folder reuses the zone and workload: no create, no pull, postStart only, sync incremental", async () => {
  const { plan } = projectPlan(allHooks);
  const host = new FakeHost();
  const first = await launch(host, plan).run;
  host.calls.length = 0;
  host.execs.length = 0;
  const { run, events } = launch(host, plan);
  const second = await run;
  assert.equal(second.zoneId, first.zoneId);
  assert.equal(second.workloadId, first.workloadId);
  assert.equal(second.reusedZone, true);
  assert.equal(second.firstLaunch, false);
  assert.ok(
    !host.calls.some((c) => /^(createZone|createWorkload|pullImage|startWorkload)/.test(c)),
    host.calls.join("\n"),
  );
  assert.deepEqual(
    host.execs.filter((e) => e.command[0] !== "cat").map((e) => e.command.join(" ")),
    ["/bin/sh -c echo four"],
  );
  assert.deepEqual(
    stepsOf(events, "skipped").filter((s) => s.endsWith("Command")),
    ["onCreateCommand", "updateContentCommand", "postCreateCommand", "postAttachCommand"],
  );
  assert.equal(second.sync?.filesCopied, 0, "nothing changed locally");
  assert.equal(host.zones.size, 1);
});

test("a stopped workload is started again on reuse; --recreate replaces the zone", async () => {
  const { plan } = projectPlan({ image: "busybox" });
  const host = new FakeHost();
  const { zoneId, workloadId } = host.addLaunched(plan, ZoneState.READY, WorkloadState.COMPLETED);
  const again = await launch(host, plan).run;
  assert.equal(again.workloadId, workloadId);
  assert.ok(host.calls.includes(`startWorkload ${workloadId}`));

  host.calls.length = 0;
  const fresh = await launch(host, plan, { recreate: true }).run;
  assert.notEqual(fresh.zoneId, zoneId);
  assert.deepEqual(
    host.calls.map((c) => c.split(" ")[0]).slice(0, 4),
    ["listZones", "pullImage", "destroyZone", "createZone"],
    "the new image is there before the old zone goes",
  );
  assert.equal(fresh.firstLaunch, true);
});

test("--recreate whose image pull is cancelled leaves the old zone and its workload running", async () => {
  const { plan } = projectPlan({ image: "busybox" });
  const host = new FakeHost();
  const { zoneId, workloadId } = host.addLaunched(plan);
  const controller = new AbortController();
  host.hang.add("pullImage");
  host.onHang = () => setTimeout(() => controller.abort(new Error("interrupted (SIGINT)")), 10);
  await assert.rejects(
    launch(host, plan, { recreate: true, signal: controller.signal }).run,
    (err: unknown) => LaunchError.is(err, "cancelled"),
  );
  assert.deepEqual([...host.zones.keys()], [zoneId]);
  assert.deepEqual([...host.workloads.keys()], [workloadId]);
  assert.ok(!host.calls.some((c) => c.startsWith("destroyZone")), host.calls.join(", "));
});

test("a failed zone is not reused silently: the host's message and a hint, nothing created", async () => {
  const { plan } = projectPlan({ image: "busybox" });
  const host = new FakeHost();
  host.addLaunched(plan, ZoneState.FAILED, null);
  await assert.rejects(
    launch(host, plan).run,
    (err: unknown) =>
      LaunchError.is(err, "zoneFailed") && /kernel panic/.test(err.message) && /--recreate/.test(err.message),
  );
  assert.ok(!host.calls.some((c) => c.startsWith("createZone")));
});

test("a hook failure stops later hooks, says which hook and exit code, and rolls back newest first", async () => {
  const { plan, workspaceRoot } = projectPlan(allHooks);
  const host = new FakeHost();
  host.execResult = (req) => ({ code: req.command.join(" ").includes("two") ? 3 : 0 });
  const { run, events } = launch(host, plan);
  await assert.rejects(run, (err: unknown) => {
    assert.ok(LaunchError.is(err, "hookFailed"), String(err));
    assert.equal(err.details.hook, "updateContentCommand");
    assert.equal(err.details.exitCode, 3);
    assert.match(err.message, /updateContentCommand failed with exit code 3/);
    return true;
  });
  assert.ok(!host.execs.some((e) => e.command.join(" ").includes("three")), "postCreateCommand never ran");
  const rollback = events.filter((e) => e.type === "rollback").map((e) => (e as { action: string }).action);
  assert.equal(rollback.length, 3);
  assert.match(rollback[0]!, /^removed workload /);
  assert.match(rollback[1]!, /^removed host folder /);
  assert.match(rollback[2]!, /^removed zone /);
  const destroys = host.calls.filter((c) => c.startsWith("destroy")).map((c) => c.split(" ")[0]);
  assert.deepEqual(destroys, ["destroyWorkload", "destroyZone"]);
  assert.equal(host.zones.size, 0);
  assert.equal(
    existsSync(join(workspaceRoot, plan.devcontainerId)),
    false,
    "the host folder this run created is gone",
  );
  assert.ok(events.some((e) => e.type === "stepFailed" && e.step === "updateContentCommand"));
});

test("in the object form every command finishes, then the failing one is named", async () => {
  const { plan } = projectPlan({ image: "busybox", postCreateCommand: { good: "echo ok", bad: "exit 5" } });
  const host = new FakeHost();
  host.execResult = (req) => ({ code: req.command.join(" ").includes("exit 5") ? 5 : 0, ms: 20 });
  await assert.rejects(
    launch(host, plan).run,
    (err: unknown) =>
      LaunchError.is(err, "hookFailed") && err.details.label === "bad" && err.details.exitCode === 5,
  );
  assert.equal(host.execs.filter((e) => e.command.join(" ").includes("echo ok")).length, 1);
});

test("--keep-on-failure leaves the zone, workload and host folder in place", async () => {
  const { plan, workspaceRoot } = projectPlan({ image: "busybox", postStartCommand: "false" });
  const host = new FakeHost();
  host.execResult = () => ({ code: 1 });
  const { run, events } = launch(host, plan, { keepOnFailure: true });
  await assert.rejects(run, (err: unknown) => LaunchError.is(err, "hookFailed"));
  assert.ok(!host.calls.some((c) => c.startsWith("destroy")));
  assert.equal(host.zones.size, 1);
  assert.ok(existsSync(join(workspaceRoot, plan.devcontainerId)));
  assert.ok(events.some((e) => e.type === "warning" && /left in place/.test(e.message)));
});

test("a failed initializeCommand stops before anything is created", async () => {
  const { plan } = projectPlan({ image: "busybox", initializeCommand: "exit 9" });
  const host = new FakeHost();
  const executor = new LaunchExecutor(plan, host, { runLocal: async () => 9 });
  await assert.rejects(
    executor.run(),
    (err: unknown) => LaunchError.is(err, "initializeFailed") && err.details.exitCode === 9,
  );
  assert.deepEqual(host.calls, []);
});

test("an unlaunchable plan is refused before any host call", async () => {
  const { plan } = projectPlan({ image: "busybox", features: { myfeature: {} } });
  const host = new FakeHost();
  await assert.rejects(new LaunchExecutor(plan, host).run(), (err: unknown) =>
    LaunchError.is(err, "notLaunchable"),
  );
  assert.deepEqual(host.calls, []);
});

test("Ctrl-C during the image pull rolls back the zone and host folder and reports cancelled", async () => {
  const { plan, workspaceRoot } = projectPlan({ image: "busybox" });
  const host = new FakeHost();
  const controller = new AbortController();
  host.hang.add("pullImage");
  host.onHang = () => setTimeout(() => controller.abort(new Error("interrupted (SIGINT)")), 10);
  const { run, events } = launch(host, plan, { signal: controller.signal });
  await assert.rejects(run, (err: unknown) => LaunchError.is(err, "cancelled"));
  assert.equal(host.zones.size, 0, "the zone this run created was destroyed");
  assert.equal(existsSync(join(workspaceRoot, plan.devcontainerId)), false);
  assert.ok(events.some((e) => e.type === "stepFailed" && e.step === "pullImage"));
  assert.ok(
    !events.some((e) => e.type === "rollback" && !e.ok),
    JSON.stringify(events.filter((e) => e.type === "rollback")),
  );
});

test("Ctrl-C while CreateZone is in flight still finds and destroys the zone the daemon made", async () => {
  const { plan } = projectPlan({ image: "busybox" });
  const host = new FakeHost();
  const other = projectPlan({ image: "busybox" }, { "x.txt": "other project" });
  host.addLaunched(other.plan); // another project's zone must survive
  const controller = new AbortController();
  host.hang.add("createZone");
  host.createBeforeHang = true;
  host.onHang = () => setTimeout(() => controller.abort(), 10);
  await assert.rejects(launch(host, plan, { signal: controller.signal }).run, (err: unknown) =>
    LaunchError.is(err, "cancelled"),
  );
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(host.zones.size, 1);
  assert.equal(
    [...host.zones.values()][0]!.spec?.annotations.find((a) => a.key.endsWith("devcontainer-id"))?.value,
    other.plan.devcontainerId,
  );
});

test("a zone that goes FAILED shows the host's message and is destroyed", async () => {
  const { plan } = projectPlan({ image: "busybox" });
  const host = new FakeHost();
  host.zoneOutcome = { state: "failed", message: "not enough memory for 2048 MiB" };
  await assert.rejects(
    launch(host, plan).run,
    (err: unknown) => LaunchError.is(err, "zoneFailed") && /not enough memory for 2048 MiB/.test(err.message),
  );
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(host.zones.size, 0);
});

test("on a reused zone a failure removes only what this run made, never the zone", async () => {
  const { plan } = projectPlan({ image: "busybox", postStartCommand: "false" });
  const host = new FakeHost();
  const { zoneId } = host.addLaunched(plan, ZoneState.READY, null);
  host.execResult = () => ({ code: 1 });
  await assert.rejects(launch(host, plan).run, (err: unknown) => LaunchError.is(err, "hookFailed"));
  assert.ok(host.zones.has(zoneId), "the zone from before is still there");
  assert.ok(
    host.calls.some((c) => c.startsWith("destroyWorkload")),
    "the workload this run created was removed",
  );
});

test("a workload whose command ends is reported, with the overrideCommand hint", async () => {
  const { plan } = projectPlan({ image: "busybox" });
  const host = new FakeHost();
  host.workloadOutcome = { state: "failed", message: "exited with code 127" };
  await assert.rejects(
    launch(host, plan).run,
    (err: unknown) => LaunchError.is(err, "workloadFailed") && /exited with code 127/.test(err.message),
  );
});

test("a workspace copy that cannot be written is a syncFailed error naming the host path, and the zone is rolled back", async () => {
  const { plan, workspaceRoot } = projectPlan({ image: "busybox" });
  const { mkdirSync: mk, writeFileSync: wf } = await import("node:fs");
  mk(join(workspaceRoot, ".."), { recursive: true });
  wf(workspaceRoot, "a file where the workspace root should be");
  const host = new FakeHost();
  await assert.rejects(
    launch(host, plan).run,
    (err: unknown) => LaunchError.is(err, "syncFailed") && err.message.includes(plan.sync.hostPath),
  );
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(host.zones.size, 0);
});
