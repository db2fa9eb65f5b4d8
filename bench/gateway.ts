/**
 * The zone gateway (issue 13): 100 MiB through a TTY and keystroke echo with OpenSSH's
 * `ssh -tt` through `zonectl ssh-proxy`, against `zonectl exec -t` (the path `zonectl shell`
 * takes) to the same zone over the same sshd; and save → file in the zone with
 * `zonectl sync --watch` over SSH, against `scp` of the same file.
 */
import { spawn } from "node:child_process";
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ProtectHost } from "../extension/core/protect/host";
import { startExec } from "../extension/core/terminal/execSession";
import { ZoneState } from "../extension/proto/gen/protect/control/v1/common_pb";
import type { BenchEnv } from "./env";
import { runProcess, zonectlEnv } from "./env";
import type { Report } from "./report";
import { median, percentile } from "./stats";
import { writeTextFile } from "./terminal";

const section = "gateway";

/** A child that streams: bytes counted from the first one to the end. */
async function streamed(
  cmd: string,
  args: string[],
  env: Record<string, string>,
  expected: number,
): Promise<number> {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "pipe"] });
  let received = 0;
  let first = 0;
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => {
    if (!first) first = performance.now();
    received += d.length;
  });
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const [code] = (await once(child, "close")) as [number | null];
  const seconds = (performance.now() - first) / 1000;
  if (code !== 0 || received < expected * 0.99)
    throw new Error(`${cmd} ${args.join(" ")}: exit ${code}, ${received} of ${expected} bytes\n${stderr}`);
  return received / 2 ** 20 / seconds;
}

/** Keystroke → echo (ms) through a child that runs `cat` on a remote TTY. */
async function echoTimes(child: ChildProcessWithoutNullStreams, count: number): Promise<number[]> {
  let n = 0;
  child.stdout.on("data", (d: Buffer) => (n += d.length));
  child.stderr.resume();
  const until = async (before: number, timeoutMs: number): Promise<void> => {
    const deadline = performance.now() + timeoutMs;
    while (n <= before) {
      if (performance.now() > deadline) throw new Error("no echo");
      await new Promise((r) => setImmediate(r));
    }
  };
  child.stdin.write("w");
  await until(0, 60_000);
  const out: number[] = [];
  for (let i = 0; out.length < count; i++) {
    if (i % 40 === 39) {
      child.stdin.write("\r");
      await new Promise((r) => setTimeout(r, 30));
      continue;
    }
    const before = n;
    const t0 = performance.now();
    child.stdin.write("k");
    await until(before, 5_000);
    out.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 3));
  }
  child.stdin.write("\r\u0004");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  if (child.exitCode === null && child.signalCode === null) await once(child, "close");
  clearTimeout(timer);
  return out;
}

export async function benchGateway(
  env: BenchEnv,
  report: Report,
  options: { mib?: number } = {},
): Promise<void> {
  const mib = options.mib ?? 100;
  console.log(`\n${section}: ssh -tt through the zone gateway, saves that follow`);
  const host = await ProtectHost.open(`unix://${env.devHost.socketPath}`);
  let zoneId: string | undefined;
  try {
    zoneId = await host.createZone({ name: "bench-gateway" });
    await host.waitForZone(zoneId, (z) => z?.status?.state === ZoneState.READY, { timeoutMs: 120_000 });
    const home = join(env.work, "gateway-home");
    mkdirSync(home, { recursive: true });
    const cliEnv = { ...zonectlEnv(env, env.sshd), ZONECTL_HOST: env.sshd.alias, HOME: home };
    const zonectl = (args: string[]) => [env.zonectlJs, ...args];
    const written = await runProcess(process.execPath, zonectl(["ssh-config", "--write", "bench-gateway"]), {
      env: cliEnv,
    });
    if (written.code !== 0) throw new Error(`ssh-config: ${written.stderr}`);
    const alias = written.stdout.toString("utf8").trim();
    const sshConfig = join(home, ".ssh", "config");

    // Throughput: the file is on the host, which a zone-level exec sees.
    const file = join(env.work, "gateway-throughput.txt");
    const lines = await writeTextFile(file, mib);
    const expected = mib * 2 ** 20 + lines;
    const viaSsh = (): Promise<number> =>
      streamed("ssh", ["-tt", "-F", sshConfig, alias, `cat ${file}`], cliEnv, expected);
    const viaZonectl = (): Promise<number> =>
      streamed(
        process.execPath,
        zonectl(["exec", "-t", "bench-gateway", "--", "cat", file]),
        cliEnv,
        expected,
      );
    await viaSsh(); // warm: the page cache, the key, the first connection
    const ssh: number[] = [];
    const shell: number[] = [];
    for (let i = 0; i < 3; i++) {
      ssh.push(await viaSsh());
      shell.push(await viaZonectl());
    }
    report.add({
      section,
      name: `${mib} MiB cat, ssh -tt through the zone gateway`,
      value: median(ssh),
      unit: "MiB/s",
      baseline: { name: "zonectl exec -t (zonectl shell's path), same sshd", value: median(shell) },
      note: "median of 3 interleaved runs, from the first byte to the end",
    });

    const count = 200;
    const sshEcho = await echoTimes(
      spawn("ssh", ["-tt", "-F", sshConfig, alias, "cat"], {
        env: { ...process.env, ...cliEnv },
        stdio: ["pipe", "pipe", "pipe"],
      }),
      count,
    );
    const shellEcho = await echoTimes(
      spawn(process.execPath, zonectl(["exec", "-t", "bench-gateway", "--", "cat"]), {
        env: { ...process.env, ...cliEnv },
        stdio: ["pipe", "pipe", "pipe"],
      }),
      count,
    );
    report.add({
      section,
      name: "keystroke echo p50, ssh -tt through the zone gateway",
      value: median(sshEcho),
      unit: "ms",
      baseline: { name: "zonectl exec -t, p50", value: median(shellEcho) },
      note: `${count} keystrokes each; p99 ${percentile(sshEcho, 99).toFixed(1)} vs ${percentile(shellEcho, 99).toFixed(1)} ms`,
    });

    await saveToZone(env, report, host, zoneId, cliEnv, zonectl);
  } finally {
    if (zoneId) await host.destroyZone(zoneId).catch(() => undefined);
    host.close();
  }
}

/**
 * Save → file in the zone: `zonectl sync --watch` over SSH pushes each save; a process in the
 * zone polls the file every 5 ms and says when the new content is there.
 */
async function saveToZone(
  env: BenchEnv,
  report: Report,
  host: ProtectHost,
  zoneId: string,
  cliEnv: Record<string, string>,
  zonectl: (args: string[]) => string[],
): Promise<void> {
  const project = join(env.work, "gateway-project");
  const root = join(env.work, "gateway-workspaces");
  mkdirSync(join(project, ".devcontainer"), { recursive: true });
  writeFileSync(join(project, ".devcontainer", "devcontainer.json"), '{ "image": "busybox:latest" }');
  writeFileSync(join(project, "saved.txt"), "0\n");
  const watch = spawn(process.execPath, zonectl(["sync", "--watch", project, "--workspace-root", root]), {
    env: { ...process.env, ...cliEnv },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let watchOut = "";
  watch.stderr.setEncoding("utf8").on("data", (d: string) => (watchOut += d));
  watch.stdout.setEncoding("utf8").on("data", (d: string) => (watchOut += d));
  const seen = new Map<string, number>();
  let poller: ReturnType<typeof startExec> | undefined;
  try {
    for (let i = 0; i < 600 && !/watching .*Ctrl-C/.test(watchOut); i++)
      await new Promise((r) => setTimeout(r, 100));
    const hostPath = /→ .*?:(\/[^:]+): \d+ of \d+ files/.exec(watchOut)?.[1];
    if (!hostPath) throw new Error(`sync --watch did not start:\n${watchOut}`);
    let buffered = "";
    poller = startExec(
      host,
      {
        zoneId,
        command: [
          "sh",
          "-c",
          'last=; while :; do c=$(cat "$1" 2>/dev/null); [ "$c" != "$last" ] && { echo "$c"; last=$c; }; sleep 0.005; done',
          "poll",
          join(hostPath, "saved.txt"),
        ],
      },
      {
        onStdout: (d) => {
          buffered += Buffer.from(d).toString("utf8");
          for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
            seen.set(buffered.slice(0, nl), performance.now());
            buffered = buffered.slice(nl + 1);
          }
        },
      },
    );
    const saves: number[] = [];
    const scps: number[] = [];
    const scpTarget = `${env.sshd.alias}:${join(root, "scp-target.txt")}`;
    for (let i = 1; i <= 30; i++) {
      const content = `save ${i}`;
      const t0 = performance.now();
      writeFileSync(join(project, "saved.txt"), `${content}\n`);
      while (!seen.has(content)) {
        if (performance.now() - t0 > 10_000)
          throw new Error(`save ${i} never reached the zone:\n${watchOut}`);
        await new Promise((r) => setTimeout(r, 1));
      }
      saves.push(seen.get(content)! - t0);
      const scp = await runProcess(
        "scp",
        ["-q", "-F", env.sshd.sshConfigPath, join(project, "saved.txt"), scpTarget],
        {
          env: { SSH_AUTH_SOCK: "" },
        },
      );
      if (scp.code !== 0) throw new Error(`scp: ${scp.stderr}`);
      scps.push(scp.ms);
      await new Promise((r) => setTimeout(r, 100));
    }
    report.add({
      section,
      name: "save → file in the zone, p50 (sync --watch over SSH)",
      value: median(saves),
      unit: "ms",
      baseline: { name: "scp of the same file, same sshd, p50", value: median(scps) },
      target: { on: "value", op: "<=", limit: 200, text: "≤ 200 ms" },
      note: `30 saves; p99 ${percentile(saves, 99).toFixed(0)} ms; the zone polls every 5 ms`,
    });
  } finally {
    poller?.cancel();
    watch.kill("SIGINT");
    await once(watch, "close");
  }
}
