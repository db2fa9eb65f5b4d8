/**
 * Terminal: 100 MiB through an exec TTY (`cat` of a file in a zone, over SSH through
 * ExecuteZoneCommand) against OpenSSH's `ssh -tt host cat` of the same file on the same sshd;
 * keystroke echo latency p50/p99 against OpenSSH the same way.
 */
import { spawn } from "node:child_process";
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { createWriteStream, readFileSync } from "node:fs";
import { join } from "node:path";
import { once } from "node:events";
import { ProtectHost } from "../extension/core/protect/host";
import { startExec } from "../extension/core/terminal/execSession";
import type { ExecSession } from "../extension/core/terminal/execSession";
import { ZoneState } from "../extension/proto/gen/protect/control/v1/common_pb";
import type { BenchEnv } from "./env";
import type { Report } from "./report";
import { median, percentile } from "./stats";
import { startProxiedSshd } from "../test/integration/faults/faultEnv";

const section = "terminal";

/** Writes `mib` MiB of base64 text in 76-column lines (what a terminal shows); returns the line count. */
export async function writeTextFile(path: string, mib: number): Promise<number> {
  const line = Buffer.from(
    `${"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".repeat(2).slice(0, 76)}\n`,
  );
  const total = mib * 2 ** 20;
  const chunk = Buffer.alloc(line.length * 1024);
  for (let i = 0; i < 1024; i++) line.copy(chunk, i * line.length);
  const out = createWriteStream(path);
  let written = 0;
  while (written < total) {
    const piece = chunk.subarray(0, Math.min(chunk.length, total - written));
    written += piece.length;
    if (!out.write(piece)) await once(out, "drain");
  }
  out.end();
  await once(out, "finish");
  return Math.floor(total / line.length);
}

/** What one `cat` run delivered, and the CPU seconds the client and (ours only) the dev host spent. */
interface CatRun {
  readonly seconds: number;
  readonly bytes: number;
  readonly clientCpu: number;
  readonly devHostCpu?: number;
}

/** User + system CPU seconds a live process has used so far (/proc/<pid>/stat, clock ticks). */
function processCpu(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of stat(5); after "pid (comm) " they are 11 and 12.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** This process's user + system CPU seconds. */
function ownCpu(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/** `cat file` through ExecuteZoneCommand with a TTY, as `zonectl exec -t` runs it (ExecSession). */
async function catThroughExec(
  host: ProtectHost,
  zoneId: string,
  file: string,
  devHostPid?: number,
): Promise<CatRun> {
  let bytes = 0;
  const cpu0 = ownCpu();
  const host0 = devHostPid ? processCpu(devHostPid) : 0;
  const t0 = performance.now();
  const session = startExec(
    host,
    { zoneId, command: ["cat", file], tty: { rows: 50, columns: 200 } },
    { onStdout: (d) => (bytes += d.length), onStderr: (d) => (bytes += d.length) },
  );
  session.endInput();
  const code = await session.exited;
  const seconds = (performance.now() - t0) / 1000;
  if (code !== 0) throw new Error(`exec cat: exit ${code}`);
  const clientCpu = ownCpu() - cpu0;
  return devHostPid
    ? { seconds, bytes, clientCpu, devHostCpu: processCpu(devHostPid) - host0 }
    : { seconds, bytes, clientCpu };
}

/** Seconds for `ssh -tt host cat file` (OpenSSH's client, same sshd). */
async function catThroughOpenSsh(
  ssh: { readonly configFile: string; readonly alias: string },
  file: string,
  expected: number,
): Promise<CatRun> {
  const t0 = performance.now();
  // Through sh, whose `times` (on stderr) gives the CPU its finished child, ssh, used.
  const script = 'ssh "$@"; s=$?; times >&2; exit $s';
  const child = spawn("sh", ["-c", script, "sh", "-tt", "-F", ssh.configFile, ssh.alias, "cat", file], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  let received = 0;
  let errors = "";
  child.stdout.on("data", (d: Buffer) => (received += d.length));
  child.stderr.on("data", (d: Buffer) => (errors += d.toString()));
  const [code] = (await once(child, "close")) as [number | null];
  const seconds = (performance.now() - t0) / 1000;
  // OpenSSH prints "Connection to … closed." on stderr, not stdout: stdout is the file alone.
  if (code !== 0 || received !== expected)
    throw new Error(`ssh -tt cat: exit ${code}, ${received} of ${expected} bytes`);
  // The last line of `times` is the children's user and system time, "0m1.230000s 0m0.450000s".
  const childTimes = [...(errors.trim().split("\n").pop() ?? "").matchAll(/(\d+)m([\d.]+)s/g)];
  const clientCpu = childTimes.reduce((sum, m) => sum + Number(m[1]) * 60 + Number(m[2]), 0);
  return { seconds, bytes: received, clientCpu };
}

/** Something that echoes what is typed: write one byte, learn when output arrives. */
interface Echoer {
  write(data: string): void;
  received(): number;
  close(): Promise<void>;
}

function execEchoer(host: ProtectHost, zoneId: string): Echoer {
  let n = 0;
  const session: ExecSession = startExec(
    host,
    { zoneId, command: ["cat"], tty: { rows: 24, columns: 80 } },
    { onStdout: (d) => (n += d.length) },
  );
  return {
    write: (d) => session.write(d),
    received: () => n,
    close: async () => {
      // Enter first: ^D only means end of file at the start of a line.
      session.write("\r\u0004");
      const timer = setTimeout(() => session.cancel(), 5_000);
      await session.exited.catch(() => undefined);
      clearTimeout(timer);
    },
  };
}

function openSshEchoer(env: BenchEnv): Echoer {
  let n = 0;
  const child: ChildProcessWithoutNullStreams = spawn(
    "ssh",
    ["-tt", "-F", env.sshd.sshConfigPath, env.sshd.alias, "cat"],
    { stdio: ["pipe", "pipe", "pipe"] },
  );
  child.stdout.on("data", (d: Buffer) => (n += d.length));
  child.stderr.resume();
  return {
    write: (d) => child.stdin.write(d),
    received: () => n,
    close: async () => {
      child.stdin.write("\r\u0004");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      if (child.exitCode === null && child.signalCode === null) await once(child, "close");
      clearTimeout(timer);
    },
  };
}

/** Waits (busy on the event loop, 0-delay) until `echoer` has received more than `before` bytes. */
async function untilEcho(echoer: Echoer, before: number, timeoutMs = 5_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (echoer.received() <= before) {
    if (performance.now() > deadline) throw new Error("no echo within 5 s");
    await new Promise((r) => setImmediate(r));
  }
}

/** Keystroke → echo times (ms); every 40th key is Enter, untimed, to keep the line short. */
async function echoSamples(echoer: Echoer, count: number): Promise<number[]> {
  // Warm up: the first echo includes the session start.
  echoer.write("w");
  await untilEcho(echoer, 0, 30_000);
  const out: number[] = [];
  for (let i = 0; out.length < count; i++) {
    if (i % 40 === 39) {
      echoer.write("\r");
      await new Promise((r) => setTimeout(r, 30));
      continue;
    }
    const before = echoer.received();
    const t0 = performance.now();
    echoer.write("k");
    await untilEcho(echoer, before);
    out.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 3));
  }
  return out;
}

export async function benchTerminal(
  env: BenchEnv,
  report: Report,
  options: { mib?: number } = {},
): Promise<void> {
  const mib = options.mib ?? 100;
  console.log(`\n${section}: ${mib} MiB through a TTY, keystroke echo`);
  const file = join(env.work, "terminal-throughput.txt");
  const lines = await writeTextFile(file, mib);
  // The PTY turns each \n into \r\n (onlcr) on both paths.
  const expected = mib * 2 ** 20 + lines;
  const host = await ProtectHost.open(env.sshd.alias, {
    configFile: env.sshd.sshConfigPath,
    env: {},
    socketPath: env.devHost.socketPath,
  });
  const local = await ProtectHost.open(`unix://${env.devHost.socketPath}`);
  let zoneId: string | undefined;
  try {
    zoneId = await host.createZone({ name: "bench-terminal" });
    await host.waitForZone(zoneId, (z) => z?.status?.state === ZoneState.READY, { timeoutMs: 120_000 });

    const runs = 3;
    const ours: CatRun[] = [];
    const openssh: CatRun[] = [];
    const direct: CatRun[] = [];
    await catThroughExec(host, zoneId, file); // warm the page cache and the tunnel
    for (let i = 0; i < runs; i++) {
      ours.push(await catThroughExec(host, zoneId, file, env.devHost.pid));
      openssh.push(
        await catThroughOpenSsh(
          { configFile: env.sshd.sshConfigPath, alias: env.sshd.alias },
          file,
          expected,
        ),
      );
      direct.push(await catThroughExec(local, zoneId, file));
    }
    // Throughput of what arrived; a short count is reported, not hidden (see the note).
    const mibps = (r: readonly CatRun[]): number => median(r.map((x) => x.bytes / 2 ** 20 / x.seconds));
    // CPU seconds per 100 MiB delivered: what throughput follows once the cores are busy.
    const per100 = (r: readonly CatRun[], cpu: (x: CatRun) => number): string =>
      median(r.map((x) => (cpu(x) * 100 * 2 ** 20) / x.bytes)).toFixed(2);
    console.log(
      `  CPU-s per 100 MiB: our client ${per100(ours, (x) => x.clientCpu)} + dev host ${per100(ours, (x) => x.devHostCpu ?? 0)}` +
        ` vs OpenSSH's ssh ${per100(openssh, (x) => x.clientCpu)} (sshd and cat on both)`,
    );
    const short = [...ours, ...direct].map((r) => expected - r.bytes).filter((d) => d !== 0);
    if (short.some((d) => d < 0 || d > expected / 100))
      throw new Error(`exec cat delivered ${short.join(", ")} bytes fewer than the file`);
    report.add({
      section,
      name: `${mib} MiB cat through an exec TTY over SSH`,
      value: mibps(ours),
      unit: "MiB/s",
      baseline: { name: "OpenSSH ssh -tt host cat, same sshd", value: mibps(openssh) },
      target: { on: "ratio", op: ">=", limit: 0.9, text: "≥ 0.9× OpenSSH" },
      note:
        `median of ${runs} interleaved runs; CPU-s per 100 MiB: our client ${per100(ours, (x) => x.clientCpu)}, ` +
        `dev host ${per100(ours, (x) => x.devHostCpu ?? 0)}, OpenSSH's ssh ${per100(openssh, (x) => x.clientCpu)} ` +
        `(sshd and cat alike on both); the same TTY exec on the dev host's local socket (no SSH) gave ${mibps(direct).toFixed(1)} MiB/s` +
        (short.length
          ? `; ${short.length} of ${ours.length + direct.length} exec runs ended ${Math.max(...short)} bytes or fewer short (dev host TTY output tail lost at exit)`
          : ""),
    });

    const samples = 300;
    const oursEcho: number[] = [];
    const sshEcho: number[] = [];
    const a = execEchoer(host, zoneId);
    const b = openSshEchoer(env);
    try {
      // Alternate blocks so load from elsewhere on the machine hits both.
      for (let block = 0; block < 6; block++) {
        oursEcho.push(...(await echoSamples(a, samples / 6)));
        sshEcho.push(...(await echoSamples(b, samples / 6)));
      }
    } finally {
      await a.close();
      await b.close();
    }
    report.add({
      section,
      name: "keystroke echo p50 (exec TTY over SSH)",
      value: median(oursEcho),
      unit: "ms",
      baseline: { name: "OpenSSH ssh -tt, p50", value: median(sshEcho) },
      target: { on: "difference", op: "<=", limit: 1, text: "p50 within 1 ms of OpenSSH" },
      note: `${samples} keystrokes each, alternating blocks of ${samples / 6}`,
    });
    report.add({
      section,
      name: "keystroke echo p99 (exec TTY over SSH)",
      value: percentile(oursEcho, 99),
      unit: "ms",
      baseline: { name: "OpenSSH ssh -tt, p99", value: percentile(sshEcho, 99) },
      note: `${samples} keystrokes each`,
    });
    await farHost(env, report, zoneId);
  } finally {
    if (zoneId) await host.destroyZone(zoneId).catch(() => undefined);
    host.close();
    local.close();
  }
}

/**
 * The same TTY `cat` to a far host: a proxy in front of sshd adds `latencyMs` each way. What
 * limits a stream there is how much may be in flight per round trip — SSH's channel window for
 * OpenSSH, and HTTP/2's stream and connection windows (64 KiB by default) for us.
 */
async function farHost(
  env: BenchEnv,
  report: Report,
  zoneId: string,
  latencyMs = 20,
  mib = 8,
): Promise<void> {
  const file = join(env.work, "terminal-far.txt");
  const lines = await writeTextFile(file, mib);
  const expected = mib * 2 ** 20 + lines;
  const far = await startProxiedSshd({ serverAliveInterval: 15 });
  let host: ProtectHost | undefined;
  try {
    host = await ProtectHost.open(far.alias, {
      configFile: far.configFile,
      env: {},
      socketPath: env.devHost.socketPath,
    });
    await catThroughExec(host, zoneId, file); // connect and warm up at full speed
    far.proxy.slow({ latencyMs });
    const runs = 3;
    const ours: CatRun[] = [];
    const openssh: CatRun[] = [];
    for (let i = 0; i < runs; i++) {
      ours.push(await catThroughExec(host, zoneId, file));
      openssh.push(await catThroughOpenSsh({ configFile: far.configFile, alias: far.alias }, file, expected));
    }
    const mibps = (r: readonly CatRun[]): number => median(r.map((x) => x.bytes / 2 ** 20 / x.seconds));
    report.add({
      section,
      name: `${mib} MiB cat through an exec TTY, ${2 * latencyMs} ms round trip`,
      value: mibps(ours),
      unit: "MiB/s",
      baseline: { name: "OpenSSH ssh -tt host cat, same link", value: mibps(openssh) },
      note: `median of ${runs} interleaved runs through a proxy adding ${latencyMs} ms each way; with HTTP/2's default 64 KiB windows this was 0.91 MiB/s`,
    });
  } finally {
    host?.close();
    await far.stop();
  }
}
