/**
 * Listing: `zonectl ls --json` over SSH against a bare ListZones on the dev host's own socket,
 * and against the old way (an exec channel running a CLI on the host that calls the same RPC,
 * as `ssh host sudo protect zone list` does), with 10, 100 and 1000 real zones seeded through
 * the API.
 */
import { ProtectHost } from "../extension/core/protect/host";
import { zoneView } from "../extension/core/protect/views";
import type { SshConnection } from "../extension/core/ssh/connection";
import { ZoneState } from "../extension/proto/gen/protect/control/v1/common_pb";
import type { BareClient, BenchEnv } from "./env";
import { bareClient, runProcess, zonectlEnv } from "./env";
import type { Report } from "./report";
import { median, percentile, timeInterleaved } from "./stats";

const section = "listing";

/** Brings the dev host to exactly `n` READY zones (creating through the API, 20 at a time). */
export async function seedZones(bare: BareClient, n: number): Promise<void> {
  const count = async (): Promise<{ all: number; ready: number; failed: string | undefined }> => {
    let all = 0;
    let ready = 0;
    let failed: string | undefined;
    for await (const reply of bare.client.listZones({})) {
      for (const z of reply.zones) {
        all++;
        if (z.status?.state === ZoneState.READY) ready++;
        if (z.status?.state === ZoneState.FAILED) failed = z.status.errorStatus?.message ?? "FAILED";
      }
    }
    return { all, ready, failed };
  };
  let { all } = await count();
  while (all < n) {
    const batch = Math.min(20, n - all);
    await Promise.all(
      Array.from({ length: batch }, (_, i) =>
        bare.client.createZone({ spec: { name: `bench-${String(all + i).padStart(4, "0")}` } }),
      ),
    );
    all += batch;
  }
  const deadline = Date.now() + 300_000;
  for (;;) {
    const c = await count();
    if (c.failed) throw new Error(`a seeded zone FAILED: ${c.failed}`);
    if (c.ready >= n) return;
    if (Date.now() > deadline) throw new Error(`only ${c.ready} of ${n} zones READY after 5 minutes`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Exactly what `zonectl ls --json` does once it has a host. */
async function lsJson(host: ProtectHost): Promise<string> {
  const zones = (await host.listZones())
    .map(zoneView)
    .sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  return JSON.stringify(zones, null, 2);
}

async function bareList(bare: BareClient): Promise<number> {
  let n = 0;
  for await (const reply of bare.client.listZones({})) n += reply.zones.length;
  return n;
}

/** The old way on an already-open SSH connection: an exec channel running the CLI on the host. */
async function oldWay(conn: SshConnection, env: BenchEnv): Promise<string> {
  const r = await conn.run(
    `${process.execPath} ${env.zonectlJs} --host unix://${env.devHost.socketPath} --json ls`,
  );
  if (r.code !== 0) throw new Error(`old way failed (exit ${r.code}): ${r.stderr}`);
  return r.stdout;
}

/**
 * Cold `zonectl ls --json` on the local socket against a bare `node -e 0`, paired: each pair runs
 * back to back, and the figure's ratio is the median of the pairs' ratios, so load from other
 * work on the machine falls on both alike. Node's compile cache is warm (as from the second run
 * on); the same CLI with the cache turned off is reported beside it.
 */
async function benchColdLocal(env: BenchEnv, report: Report, n: number): Promise<void> {
  const args = [env.zonectlJs, "--host", `unix://${env.devHost.socketPath}`, "--json", "ls"];
  const ls = (extraEnv: Record<string, string>) => async () => {
    const r = await runProcess(process.execPath, args, { env: extraEnv });
    if (r.code !== 0) throw new Error(`zonectl ls on the socket failed: ${r.stderr}`);
  };
  const runs = 15;
  const t = await timeInterleaved(
    {
      ls: ls({}),
      node: async () => void (await runProcess(process.execPath, ["-e", "0"])),
      noCache: ls({ NODE_DISABLE_COMPILE_CACHE: "1" }),
    },
    runs,
    2,
  );
  const pairRatio = median(t.ls.map((v, i) => v / t.node[i]!));
  report.add({
    section,
    name: `${n} zones: zonectl ls --json on the local socket, cold (process start + connect + list)`,
    value: median(t.ls),
    unit: "ms",
    baseline: { name: "node -e 0", value: median(t.node) },
    target: { on: "ratio", op: "<=", limit: 1.6, text: "≤ 1.6× node -e 0" },
    note: `median of ${runs} pairs; median pair ratio ${pairRatio.toFixed(2)}×; Node's compile cache warm. With it off (NODE_DISABLE_COMPILE_CACHE=1): ${median(t.noCache).toFixed(0)} ms, ${median(t.noCache.map((v, i) => v / t.node[i]!)).toFixed(2)}×`,
  });
}

export async function benchListing(env: BenchEnv, report: Report, sizes: readonly number[]): Promise<void> {
  console.log(`\n${section}: seeding and listing ${sizes.join(" / ")} zones`);
  const bare = bareClient(env.devHost.socketPath);
  const sshOpts = (sshd: typeof env.sshd): Parameters<typeof ProtectHost.open>[1] => ({
    configFile: sshd.sshConfigPath,
    env: {},
    socketPath: env.devHost.socketPath,
  });
  const streamlocal = await ProtectHost.open(env.sshd.alias, sshOpts(env.sshd));
  const bridge = await ProtectHost.open(env.sshdBridge.alias, sshOpts(env.sshdBridge));
  try {
    for (const n of sizes) {
      await seedZones(bare, n);
      const runs = n >= 1000 ? 15 : n >= 100 ? 30 : 50;
      const counted = { bare: await bareList(bare), ssh: JSON.parse(await lsJson(streamlocal)) as unknown[] };
      if (counted.bare !== n || counted.ssh.length !== n)
        throw new Error(`expected ${n} zones, bare saw ${counted.bare}, ssh ${counted.ssh.length}`);

      const warm = await timeInterleaved(
        {
          bare: () => bareList(bare),
          streamlocal: () => lsJson(streamlocal),
          bridge: () => lsJson(bridge),
          // The same call without the rendering: how much of the difference is the tunnel.
          listOnly: () => streamlocal.listZones(),
        },
        runs,
        3,
      );
      const bareMs = median(warm.bare);
      const note = `median of ${runs} interleaved runs after 3 warm-up; p90 bare ${percentile(warm.bare, 90).toFixed(1)} ms, ssh ${percentile(warm.streamlocal, 90).toFixed(1)} ms`;
      report.add({
        section,
        name: `${n} zones: zonectl ls --json over SSH (streamlocal), warm`,
        value: median(warm.streamlocal),
        unit: "ms",
        baseline: { name: "bare ListZones, local socket", value: bareMs },
        target: { on: "ratio", op: "<=", limit: 1.2, text: "≤ 1.2× bare" },
        note,
      });
      report.add({
        section,
        name: `${n} zones: ListZones alone over SSH (facade, no rendering), warm`,
        value: median(warm.listOnly),
        unit: "ms",
        baseline: { name: "bare ListZones, local socket", value: bareMs },
        note: "the tunnel's share: ls --json adds zone views, sorting and JSON on top",
      });
      report.add({
        section,
        name: `${n} zones: zonectl ls --json over SSH (exec bridge), warm`,
        value: median(warm.bridge),
        unit: "ms",
        baseline: { name: "bare ListZones, local socket", value: bareMs },
        note: `median of ${runs} interleaved runs; the route used when sshd forbids forwarding`,
      });

      // The old way pays a CLI start on the host for every listing, even on an open connection.
      const conn = streamlocal.ssh;
      if (!conn) throw new Error("no SSH connection");
      const oldRuns = n >= 1000 ? 5 : 8;
      const old = await timeInterleaved(
        { ours: () => lsJson(streamlocal), old: () => oldWay(conn, env) },
        oldRuns,
        1,
      );
      report.add({
        section,
        name: `${n} zones: old way (exec channel running a CLI on the host), warm connection`,
        value: median(old.old),
        unit: "ms",
        baseline: { name: "zonectl ls --json over SSH, warm", value: median(old.ours) },
        note: `median of ${oldRuns}; the ratio is how many times slower the old way is`,
      });

      // Cold: a fresh zonectl process that connects, lists and exits, against the same CLI on
      // the local socket, and against OpenSSH's ssh running the CLI on the host (the old way, cold).
      if (n === Math.min(...sizes)) await benchColdLocal(env, report, n);
      const coldRuns = 5;
      const cold = await timeInterleaved(
        {
          ssh: async () => {
            const r = await runProcess(
              process.execPath,
              [env.zonectlJs, "--host", env.sshd.alias, "--json", "ls"],
              { env: zonectlEnv(env, env.sshd) },
            );
            if (r.code !== 0) throw new Error(`zonectl ls over SSH failed: ${r.stderr}`);
          },
          local: async () => {
            const r = await runProcess(process.execPath, [
              env.zonectlJs,
              "--host",
              `unix://${env.devHost.socketPath}`,
              "--json",
              "ls",
            ]);
            if (r.code !== 0) throw new Error(`zonectl ls on the socket failed: ${r.stderr}`);
          },
          openssh: async () => {
            const r = await runProcess("ssh", [
              "-F",
              env.sshd.sshConfigPath,
              env.sshd.alias,
              `${process.execPath} ${env.zonectlJs} --host unix://${env.devHost.socketPath} --json ls`,
            ]);
            if (r.code !== 0) throw new Error(`ssh + remote CLI failed: ${r.stderr}`);
          },
        },
        coldRuns,
        1,
      );
      report.add({
        section,
        name: `${n} zones: zonectl ls --json over SSH, cold (process start + connect + list)`,
        value: median(cold.ssh),
        unit: "ms",
        baseline: { name: "zonectl ls --json on the local socket, cold", value: median(cold.local) },
        target: {
          on: "ratio",
          op: "<=",
          limit: 1.2,
          text: "≤ 1.2× the local socket (needs a warm shared connection)",
        },
        note: `median of ${coldRuns}; against the bare warm call it is ${(median(cold.ssh) / bareMs).toFixed(1)}×`,
      });
      report.add({
        section,
        name: `${n} zones: old way cold (OpenSSH ssh running the CLI on the host)`,
        value: median(cold.openssh),
        unit: "ms",
        baseline: { name: "zonectl ls --json over SSH, cold", value: median(cold.ssh) },
        note: `median of ${coldRuns}`,
      });
    }
  } finally {
    streamlocal.close();
    bridge.close();
    // Leave the zones: later sections run against a host that has them; run.ts removes them at the end.
    bare.close();
  }
}

/** Destroys every zone and waits until the list is empty. */
export async function removeAllZones(socketPath: string): Promise<void> {
  const bare = bareClient(socketPath);
  try {
    const ids: string[] = [];
    for await (const reply of bare.client.listZones({})) for (const z of reply.zones) ids.push(z.id);
    for (let i = 0; i < ids.length; i += 50)
      await Promise.all(
        ids.slice(i, i + 50).map((zoneId) => bare.client.destroyZone({ zoneId }).catch(() => undefined)),
      );
    const deadline = Date.now() + 300_000;
    while (Date.now() < deadline && (await bareList(bare)) > 0) await new Promise((r) => setTimeout(r, 250));
  } finally {
    bare.close();
  }
}
