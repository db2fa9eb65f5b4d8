/**
 * Launch: `zonectl up` (the LaunchExecutor it runs) over SSH against the dev host, from nothing
 * to a shell prompt in the workload, broken down by step — against the same work done with
 * bare RPCs on the dev host's own socket (create the zone and wait for READY, pull, create and
 * start the workload and wait for RUNNING, a shell) and, for the workspace copy, OpenSSH's scp
 * of the same folder.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { planFromPath } from "../extension/core/devcontainer/load";
import { LaunchExecutor } from "../extension/core/launch/executor";
import { ProtectHost } from "../extension/core/protect/host";
import { startExec } from "../extension/core/terminal/execSession";
import type { ExecRpc } from "../extension/core/terminal/execSession";
import {
  OciImageFormat,
  WorkloadState,
  ZoneState,
} from "../extension/proto/gen/protect/control/v1/common_pb";
import { startDevHost } from "../test/harness/devHost";
import { pushTestImage, startRegistry } from "../test/harness/registry";
import { buildTestImage } from "../test/harness/testImage";
import type { BenchEnv } from "./env";
import { runProcess } from "./env";
import type { Report } from "./report";
import { median } from "./stats";

const section = "launch";

/** A project like a small real one: 200 source files, a devcontainer with env and a hook. */
function makeProject(root: string, name: string, image: string): string {
  const dir = join(root, name);
  mkdirSync(join(dir, ".devcontainer"), { recursive: true });
  for (let d = 0; d < 10; d++) {
    mkdirSync(join(dir, "src", `pkg${d}`), { recursive: true });
    for (let f = 0; f < 20; f++)
      writeFileSync(
        join(dir, "src", `pkg${d}`, `mod${f}.ts`),
        `export const value${f} = ${f};\n`.repeat(100),
      );
  }
  writeFileSync(
    join(dir, ".devcontainer", "devcontainer.json"),
    JSON.stringify({
      name,
      image,
      workspaceFolder: `/workspaces/${name}`,
      containerEnv: { PROJECT: name },
      postCreateCommand: "true",
    }),
  );
  return dir;
}

/** Waits for a shell prompt (`# ` or `$ `) in a TTY shell of the workload; resolves with the ms it took. */
async function shellPrompt(host: ExecRpc, zoneId: string, workloadId: string): Promise<number> {
  const t0 = performance.now();
  let out = "";
  const session = startExec(
    host,
    { zoneId, workloadId, command: ["/bin/sh", "-i"], tty: { rows: 24, columns: 80 } },
    { onStdout: (d) => (out += Buffer.from(d).toString("utf8")) },
  );
  const deadline = Date.now() + 30_000;
  // busybox ash asks for the cursor position (ESC [6n) right after printing its prompt.
  const cursorQuery = `${String.fromCharCode(27)}[6n`;
  while (!/[#$] $/.test(out.split(cursorQuery).join(""))) {
    if (Date.now() > deadline) throw new Error(`no shell prompt: ${JSON.stringify(out)}`);
    await new Promise((r) => setTimeout(r, 2));
  }
  const ms = performance.now() - t0;
  session.write("exit\n");
  await session.exited.catch(() => undefined);
  return ms;
}

/** The bare sequence on the local socket: the least the host must do for a running workload and a shell. */
async function bareLaunch(
  local: ProtectHost,
  image: string,
  hostPath: string,
): Promise<{
  zoneMs: number;
  pullMs: number;
  workloadMs: number;
  promptMs: number;
  totalMs: number;
  zoneId: string;
}> {
  const t0 = performance.now();
  const zoneId = await local.createZone({ name: `bare-${Date.now()}` });
  await local.waitForZone(zoneId, (z) => z?.status?.state === ZoneState.READY, { timeoutMs: 120_000 });
  const t1 = performance.now();
  const { digest, format } = await local.pullImage(image, OciImageFormat.TAR, () => {});
  const t2 = performance.now();
  const workloadId = await local.createWorkload({
    name: `bare-${Date.now()}`,
    zoneId,
    image: { digest, format },
    process: { command: ["sleep", "3600"] },
    mounts: [{ hostPath, targetPath: "/workspaces/bare" }],
  });
  await local.startWorkload(workloadId);
  for (;;) {
    const state = (await local.getWorkload(workloadId)).status?.state;
    if (state === WorkloadState.RUNNING) break;
    if (state === WorkloadState.FAILED) throw new Error("bare workload FAILED");
    await new Promise((r) => setTimeout(r, 10));
  }
  const t3 = performance.now();
  const promptMs = await shellPrompt(local, zoneId, workloadId);
  return {
    zoneMs: t1 - t0,
    pullMs: t2 - t1,
    workloadMs: t3 - t2,
    promptMs,
    totalMs: performance.now() - t0,
    zoneId,
  };
}

export async function benchLaunch(
  env: BenchEnv,
  report: Report,
  options: { runs?: number } = {},
): Promise<void> {
  const runs = options.runs ?? 3;
  console.log(`\n${section}: zonectl up to a shell prompt, by step (${runs} runs)`);
  const image = await buildTestImage(join(env.work, "image"));
  const registry = await startRegistry();
  env.cleanup.add("registry", () => registry.stop());
  await pushTestImage(registry, image);
  const reference = `${registry.host}/test/busybox:1`;
  // A dev host of its own in its default sandbox (namespaces, cgroups, a veth per zone as root):
  // launch times depend on it, unlike the listing's light process-mode zones.
  const devHost = await startDevHost();
  env.cleanup.add("launch dev host", () => devHost.stop());
  const host = await ProtectHost.open(env.sshd.alias, {
    configFile: env.sshd.sshConfigPath,
    env: {},
    socketPath: devHost.socketPath,
  });
  const local = await ProtectHost.open(`unix://${devHost.socketPath}`);
  const created: string[] = [];
  try {
    const steps = new Map<string, number[]>();
    const ours: { totalMs: number; promptMs: number }[] = [];
    const bare: Awaited<ReturnType<typeof bareLaunch>>[] = [];
    const scp: number[] = [];
    for (let i = 0; i < runs; i++) {
      const dir = makeProject(join(env.work, "projects"), `bench-launch-${i}`, reference);
      const { plan } = await planFromPath(dir, {
        cwd: dir,
        env: process.env,
        planOptions: { workspaceRoot: join(env.work, "host-workspaces") },
      });
      const t0 = performance.now();
      const result = await new LaunchExecutor(plan, host, {
        zoneTimeoutMs: 180_000,
      }).run();
      created.push(result.zoneId);
      const promptMs = await shellPrompt(host, result.zoneId, result.workloadId);
      ours.push({ totalMs: performance.now() - t0, promptMs });
      for (const t of result.timings)
        if (t.outcome === "done") steps.set(t.step, [...(steps.get(t.step) ?? []), t.ms]);

      const b = await bareLaunch(local, reference, dir);
      created.push(b.zoneId);
      bare.push(b);
      const s = await runProcess("scp", [
        "-q",
        "-r",
        "-F",
        env.sshd.sshConfigPath,
        dir,
        `${env.sshd.alias}:${join(env.work, `scp-copy-${i}`)}`,
      ]);
      if (s.code !== 0) throw new Error(`scp failed: ${s.stderr}`);
      scp.push(s.ms);
    }
    const m = (step: string): number => median(steps.get(step) ?? [Number.NaN]);
    const breakdown = [...steps.keys()].map((step) => `${step} ${m(step).toFixed(0)}`).join(", ");
    report.add({
      section,
      name: "zonectl up → shell prompt, over SSH (first launch)",
      value: median(ours.map((o) => o.totalMs)),
      unit: "ms",
      baseline: {
        name: "bare RPCs on the local socket (zone, pull, workload, shell)",
        value: median(bare.map((b) => b.totalMs)),
      },
      note: `median of ${runs}; dev host in its default (namespaces) sandbox; steps (ms): ${breakdown}, shell prompt ${median(ours.map((o) => o.promptMs)).toFixed(0)}`,
    });
    report.add({
      section,
      name: "step: createZone + waitZoneReady",
      value: m("createZone") + m("waitZoneReady"),
      unit: "ms",
      baseline: { name: "bare CreateZone → READY", value: median(bare.map((b) => b.zoneMs)) },
    });
    report.add({
      section,
      name: "step: pullImage (cached after the first run)",
      value: m("pullImage"),
      unit: "ms",
      baseline: { name: "bare PullImage", value: median(bare.map((b) => b.pullMs)) },
    });
    report.add({
      section,
      name: "step: createWorkload + waitWorkloadRunning",
      value: m("createWorkload") + m("waitWorkloadRunning"),
      unit: "ms",
      baseline: { name: "bare CreateWorkload → RUNNING", value: median(bare.map((b) => b.workloadMs)) },
    });
    report.add({
      section,
      name: "step: syncWorkspace (200 files, SFTP)",
      value: m("syncWorkspace"),
      unit: "ms",
      baseline: { name: "OpenSSH scp -r of the same folder", value: median(scp) },
      note: "scp includes its own connection set-up; the sync runs on the open connection",
    });
    report.add({
      section,
      name: "shell prompt in the workload over SSH",
      value: median(ours.map((o) => o.promptMs)),
      unit: "ms",
      baseline: { name: "the same on the local socket", value: median(bare.map((b) => b.promptMs)) },
    });
  } finally {
    for (const id of created) await local.destroyZone(id).catch(() => undefined);
    for (const id of created)
      await local.waitForZone(id, (z) => z === undefined, { timeoutMs: 60_000 }).catch(() => undefined);
    host.close();
    local.close();
  }
}
