/**
 * Idle cost: the extension's data path (its own process, so its CPU can be read apart) connected
 * over SSH with the tree open and nothing changing — RPCs per minute beyond the watch stream
 * (target 0), bytes on the wire (counted by the fault proxy) and CPU, against OpenSSH's `ssh -N`
 * holding the same connection with the same keepalive. Then 50 zones graphed at 1 Hz (target
 * ≤ 5 % of one core), against the same process idle.
 */
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startFaultProxy } from "../test/harness/faultProxy";
import type { FaultProxy } from "../test/harness/faultProxy";
import type { WindowResult } from "./extensionModel";
import type { BenchEnv } from "./env";
import { bareClient, bundleExtensionModel } from "./env";
import { seedZones } from "./listing";
import type { Report } from "./report";

const section = "idle";

/** CPU seconds (user + system) a process has used, from /proc. */
function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / 100; // USER_HZ is 100 on Linux
}

/** Runs the extension model in its own process for a window; the proxy's counters cover exactly that window. */
function runModelWindow(
  bundle: string,
  mode: "idle" | "graph",
  options: Record<string, unknown>,
  proxy: FaultProxy,
): Promise<{ result: WindowResult; bytes: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        ...(process.env.BENCH_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROF}`] : []),
        bundle,
        mode,
        JSON.stringify(options),
      ],
      { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, SSH_AUTH_SOCK: "" } },
    );
    let out = "";
    let err = "";
    let bytesAtStart = 0;
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      if (out.includes("WINDOW START") && !bytesAtStart)
        bytesAtStart = proxy.stats.bytesUp + proxy.stats.bytesDown || 1;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    child.on("close", (code) => {
      const line = out.split("\n").find((l) => l.startsWith("RESULT "));
      if (code !== 0 || !line) {
        reject(new Error(`extension model ${mode} exited ${code}: ${err || out}`));
        return;
      }
      const bytesNow = proxy.stats.bytesUp + proxy.stats.bytesDown;
      resolve({
        result: JSON.parse(line.slice("RESULT ".length)) as WindowResult,
        bytes: bytesNow - (bytesAtStart || bytesNow),
      });
    });
  });
}

/** OpenSSH holding a connection open (`ssh -N`) through the proxy for a window. */
async function openSshIdle(
  configFile: string,
  alias: string,
  proxy: FaultProxy,
  settleMs: number,
  windowMs: number,
): Promise<{ cpuMs: number; bytes: number; windowMs: number }> {
  const child = spawn("ssh", ["-N", "-F", configFile, alias], { stdio: ["ignore", "ignore", "pipe"] });
  child.stderr.resume();
  try {
    await new Promise((r) => setTimeout(r, settleMs));
    if (child.exitCode !== null) throw new Error(`ssh -N exited ${child.exitCode}`);
    const cpu0 = cpuSecondsOf(child.pid!);
    const bytes0 = proxy.stats.bytesUp + proxy.stats.bytesDown;
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, windowMs));
    return {
      cpuMs: (cpuSecondsOf(child.pid!) - cpu0) * 1000,
      bytes: proxy.stats.bytesUp + proxy.stats.bytesDown - bytes0,
      windowMs: performance.now() - t0,
    };
  } finally {
    child.kill("SIGTERM");
  }
}

export async function benchIdle(
  env: BenchEnv,
  report: Report,
  options: { windowMs?: number; graphZones?: number } = {},
): Promise<void> {
  const windowMs = options.windowMs ?? 60_000;
  const graphZones = options.graphZones ?? 50;
  console.log(
    `\n${section}: ${windowMs / 1000} s idle with the tree open, then ${graphZones} zones graphed at 1 Hz`,
  );
  const bundle = await bundleExtensionModel();
  const bare = bareClient(env.devHost.socketPath);
  try {
    await seedZones(bare, graphZones);
  } finally {
    bare.close();
  }
  const proxy = await startFaultProxy({ port: env.sshd.port });
  try {
    // The bench sshd's own alias, pointed at the proxy; both contenders use this file.
    const alias = `idle-${proxy.port}`;
    const configFile = join(env.work, "ssh_config_idle");
    const knownHosts = join(env.work, "known_hosts_idle");
    writeFileSync(knownHosts, `[127.0.0.1]:${proxy.port} ${env.sshd.hostPublicKey()}\n`);
    writeFileSync(
      configFile,
      [
        `Host ${alias}`,
        "  HostName 127.0.0.1",
        `  Port ${proxy.port}`,
        `  User ${env.sshd.user}`,
        `  IdentityFile ${env.sshd.clientKeyPath}`,
        "  IdentitiesOnly yes",
        `  UserKnownHostsFile ${knownHosts}`,
        "  StrictHostKeyChecking yes",
        "  ServerAliveInterval 15",
        "  ServerAliveCountMax 3",
        "",
      ].join("\n"),
    );
    const settleMs = 5_000;
    const common = {
      hostId: alias,
      sshConfigFile: configFile,
      daemonSocket: env.devHost.socketPath,
      settleMs,
      windowMs,
    };
    const ours = await runModelWindow(bundle, "idle", common, proxy);
    const openssh = await openSshIdle(configFile, alias, proxy, settleMs, windowMs);
    const perMinute = (n: number, ms: number): number => (n * 60_000) / ms;
    const rpcCount = Object.values(ours.result.rpcs).reduce((a, b) => a + b, 0);
    report.add({
      section,
      name: `RPCs per minute, idle, tree open (${ours.result.zones} zones)`,
      value: perMinute(rpcCount, ours.result.windowMs),
      unit: "RPC/min",
      baseline: { name: "the watch stream alone", value: 0 },
      target: { on: "value", op: "<=", limit: 0, text: "0 beyond the watch stream" },
      note: rpcCount
        ? `RPCs seen: ${JSON.stringify(ours.result.rpcs)}`
        : `window ${(ours.result.windowMs / 1000).toFixed(0)} s; WatchEvents opened before it`,
    });
    report.add({
      section,
      name: "bytes on the wire per minute, idle",
      value: perMinute(ours.bytes, ours.result.windowMs),
      unit: "B/min",
      baseline: { name: "OpenSSH ssh -N, same keepalive", value: perMinute(openssh.bytes, openssh.windowMs) },
      note: "both ways through the fault proxy; ServerAliveInterval 15",
    });
    report.add({
      section,
      name: "CPU of the extension's data path, idle",
      value: (ours.result.cpuMs / ours.result.windowMs) * 100,
      unit: "% of a core",
      baseline: { name: "OpenSSH ssh -N", value: (openssh.cpuMs / openssh.windowMs) * 100 },
      note: "process CPU time over the window (OpenSSH's from /proc at 10 ms resolution)",
    });

    const graphWindow = Math.min(windowMs, 30_000);
    const graph = await runModelWindow(
      bundle,
      "graph",
      { ...common, windowMs: graphWindow, graphLimit: graphZones },
      proxy,
    );
    const idleCpu = (ours.result.cpuMs / ours.result.windowMs) * 100;
    const rate =
      ((graph.result.samples ?? 0) * 1000) / graph.result.windowMs / Math.max(1, graph.result.zones);
    report.add({
      section,
      name: `CPU with ${graph.result.zones} zones graphed at 1 Hz`,
      value: (graph.result.cpuMs / graph.result.windowMs) * 100,
      unit: "% of a core",
      baseline: { name: "the same process idle", value: idleCpu },
      target: { on: "value", op: "<=", limit: 5, text: "≤ 5 % of one core" },
      note:
        `${graph.result.samples ?? 0} samples in ${(graph.result.windowMs / 1000).toFixed(0)} s, ${rate.toFixed(2)} per zone per second` +
        (rate < 0.9
          ? " — the sampler fell behind 1 Hz (slow ReadZoneMetrics on a loaded host), so this understates the cost at a full 1 Hz"
          : "") +
        `; ReadZoneMetrics ${graph.result.rpcs["ReadZoneMetrics"] ?? 0}; ${graph.result.zones} zones on the host`,
    });
  } finally {
    await proxy.close();
  }
}
