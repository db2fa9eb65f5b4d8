import { test } from "node:test";
import assert from "node:assert/strict";
import { interpretRunArgs } from "../../../extension/core/devcontainer/runArgs";
import { planOf, row } from "./planHelpers";

const env = { FROM_HERE: "local value" };
const run = (args: string[]) => interpretRunArgs(args, env);

test("--cpus, --memory/-m, -e/--env, --name, --hostname/-h, --cap-add, --privileged, -v, --user, -p are translated", () => {
  const { effects, verdicts } = run([
    "--cpus=1.5",
    "-m",
    "512m",
    "-e",
    "A=1",
    "--env=B=two=2",
    "-eC=3",
    "--env",
    "FROM_HERE",
    "--name",
    "box",
    "-h",
    "host1",
    "--cap-add",
    "SYS_ADMIN,NET_RAW",
    "--privileged",
    "-v",
    "data:/data",
    "--user=1000",
    "-p",
    "8080:80",
  ]);
  assert.ok(
    verdicts.every((v) => v.status === "translated"),
    JSON.stringify(verdicts.filter((v) => v.status !== "translated")),
  );
  assert.equal(effects.cpus, 2, "1.5 CPUs round up to whole vCPUs");
  assert.equal(effects.memoryMiB, 512);
  assert.deepEqual(effects.env, [
    ["A", "1"],
    ["B", "two=2"],
    ["C", "3"],
    ["FROM_HERE", "local value"],
  ]);
  assert.equal(effects.workloadName, "box");
  assert.equal(effects.hostname, "host1");
  assert.deepEqual(effects.capAdd, ["SYS_ADMIN", "NET_RAW"]);
  assert.equal(effects.privileged, true);
  assert.deepEqual(
    effects.mounts.map((m) => m.request),
    [{ type: "volume", source: "data", target: "/data", readOnly: false }],
  );
  assert.equal(effects.user, "1000");
  assert.deepEqual(
    effects.publish.map((p) => p.ports),
    [[{ containerPort: 80, localPort: 8080 }]],
  );
  assert.deepEqual(
    verdicts.map((v) => v.index),
    [0, 1, 3, 5, 6, 7, 9, 11, 13, 15, 16, 18, 19],
  );
});

test("other flags are ignored with the flag named; value-taking flags do not swallow the next flag", () => {
  const { verdicts, effects } = run([
    "--network",
    "host",
    "--rm",
    "-it",
    "--security-opt",
    "seccomp=unconfined",
    "--device=/dev/fuse",
    "--weird-flag",
    "--privileged",
    "--add-host=db:10.0.0.2",
  ]);
  const got = verdicts.map((v) => [v.text, v.status]);
  assert.deepEqual(got, [
    ["--network host", "ignored"],
    ["--rm", "ignored"],
    ["-it", "ignored"],
    ["--security-opt seccomp=unconfined", "ignored"],
    ["--device=/dev/fuse", "ignored"],
    ["--weird-flag", "ignored"],
    ["--privileged", "translated"],
    ["--add-host=db:10.0.0.2", "ignored"],
  ]);
  assert.equal(effects.privileged, true, "--weird-flag did not swallow --privileged");
  assert.match(verdicts[5]?.detail ?? "", /--weird-flag is a docker run option/);
  assert.match(verdicts[0]?.detail ?? "", /own network stack/);
});

test("bad values are refused, unset -e NAME is ignored (as Docker would drop it)", () => {
  const { verdicts } = run([
    "--cpus",
    "lots",
    "--memory",
    "huge",
    "-e",
    "=x",
    "-e",
    "NOT_SET_HERE",
    "--name",
  ]);
  assert.deepEqual(
    verdicts.map((v) => v.status),
    ["refused", "refused", "refused", "ignored", "refused"],
  );
});

test("in a plan, runArgs rows carry the flag and what it became; -v binds outside the workspace are ignored", () => {
  const plan = planOf({
    image: "x",
    runArgs: [
      "--cpus",
      "3",
      "--memory=1g",
      "-v",
      "/var/run/docker.sock:/var/run/docker.sock",
      "--cap-add",
      "NET_ADMIN",
      "--gpus",
      "all",
    ],
  });
  assert.equal(plan.zoneSpec.initialResources?.targetCpus, 3);
  assert.equal(plan.zoneSpec.initialResources?.targetMemory, 1024n);
  assert.equal(row(plan, "runArgs[0]").detail, "--cpus 3: zone vCPUs: 3");
  assert.equal(row(plan, "runArgs[3]").status, "ignored");
  assert.match(
    row(plan, "runArgs[3]").detail,
    /^-v \/var\/run\/docker.sock:\/var\/run\/docker.sock: bind mount/,
  );
  assert.deepEqual(plan.workloadSpec.security?.raiseCapabilities, ["CAP_NET_ADMIN"]);
  assert.deepEqual(plan.deviceRequests, [{ kind: "gpu", optional: false, source: "runArgs --gpus" }]);
  const overridden = planOf({ image: "x", hostRequirements: { cpus: 8 }, runArgs: ["--cpus", "3"] });
  assert.equal(overridden.zoneSpec.initialResources?.targetCpus, 8);
  assert.equal(row(overridden, "runArgs[0]").status, "ignored");
  const user = planOf({ image: "x", containerUser: "node", runArgs: ["-u", "root"] });
  assert.deepEqual(user.workloadSpec.process?.user?.idOrName, { case: "name", value: "node" });
  assert.equal(row(user, "runArgs[0]").detail, "-u root: containerUser sets the workload user");
  assert.deepEqual(planOf({ image: "x", runArgs: ["-u", "1000"] }).workloadSpec.process?.user?.idOrName, {
    case: "id",
    value: 1000,
  });
});
