// Shared pieces of the fault suite: a real sshd reached through the fault proxy, a tally of
// injected faults (printed per file and summed over the files of one `node --test` run), and a
// watch consumer that keeps the model a tree view would and notices duplicates.
import { appendFileSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { ProtectHost } from "../../../extension/core/protect/host";
import type { HostEvent, ProtectHostOptions } from "../../../extension/core/protect/host";
import type { SshConnectionState } from "../../../extension/core/ssh/managed";
import { ZoneState } from "../../../extension/proto/gen/protect/control/v1/common_pb";
import type { Zone } from "../../../extension/proto/gen/protect/control/v1/common_pb";
import { startFaultProxy } from "../../harness/faultProxy";
import type { FaultProxy } from "../../harness/faultProxy";
import { startSshd } from "../../harness/sshd";
import type { Sshd, SshdOptions } from "../../harness/sshd";

/** Counts of one kind of fault. */
interface FaultCount {
  injected: number;
  recovered: number;
  lost: number;
  /** Losses in tests marked todo: known bugs, reported, not counted as `lost`. */
  known: number;
}

/**
 * Faults injected in one test file. `lost` counts what a fault cost that it should not have
 * (zones missing or duplicated, output bytes missing, sessions that never reported): the suite
 * asserts it is 0, and the tally prints it so a summary shows it too.
 */
export class FaultTally {
  readonly #kinds = new Map<string, FaultCount>();

  constructor(readonly file: string) {}

  #of(kind: string): FaultCount {
    let c = this.#kinds.get(kind);
    if (!c) this.#kinds.set(kind, (c = { injected: 0, recovered: 0, lost: 0, known: 0 }));
    return c;
  }

  injected(kind: string, n = 1): void {
    this.#of(kind).injected += n;
  }

  recovered(kind: string, n = 1): void {
    this.#of(kind).recovered += n;
  }

  lost(kind: string, n: number): void {
    this.#of(kind).lost += n;
  }

  /** A loss inside a todo test: a known bug, named in the test and the report. */
  knownLost(kind: string, n: number): void {
    this.#of(kind).known += n;
  }

  totals(): FaultCount {
    const t = { injected: 0, recovered: 0, lost: 0, known: 0 };
    for (const c of this.#kinds.values()) {
      t.injected += c.injected;
      t.recovered += c.recovered;
      t.lost += c.lost;
      t.known += c.known;
    }
    return t;
  }

  /**
   * Prints this file's counts per kind, then the sums over every file of this test run so far
   * (files run in separate processes of one runner: they meet in a file keyed by its pid).
   */
  print(): void {
    const name = basename(this.file);
    const line = (c: FaultCount): string =>
      `injected ${c.injected}, recovered ${c.recovered}, lost ${c.lost}${c.known ? ` (+${c.known} in todo tests: known bugs)` : ""}`;
    for (const [kind, c] of this.#kinds) console.log(`faults ${name} ${kind}: ${line(c)}`);
    const t = this.totals();
    removeStaleTallies();
    const runFile = join(tmpdir(), `zones-fault-tally-${process.ppid}.jsonl`);
    appendFileSync(runFile, `${JSON.stringify({ file: name, ...t })}\n`);
    const all = readFileSync(runFile, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as FaultCount & { file: string });
    const sum = all.reduce(
      (a, r) => ({
        injected: a.injected + r.injected,
        recovered: a.recovered + r.recovered,
        lost: a.lost + r.lost,
        known: a.known + (r.known ?? 0),
      }),
      { injected: 0, recovered: 0, lost: 0, known: 0 },
    );
    console.log(`faults ${name}: ${line(t)}`);
    console.log(`faults, ${all.length} fault file(s) of this run so far: ${line(sum)}`);
  }
}

/** Removes the tally files of test runs whose runner has exited. */
function removeStaleTallies(): void {
  for (const name of readdirSync(tmpdir())) {
    const m = /^zones-fault-tally-(\d+)\.jsonl$/.exec(name);
    if (!m) continue;
    try {
      process.kill(Number(m[1]), 0);
    } catch {
      rmSync(join(tmpdir(), name), { force: true });
    }
  }
}

/** A real sshd, the fault proxy in front of it, and an ssh config whose alias goes through the proxy. */
export interface ProxiedSshd {
  readonly sshd: Sshd;
  readonly proxy: FaultProxy;
  /** The `Host` alias that reaches sshd through the proxy. */
  readonly alias: string;
  /** The ssh config file defining {@link alias}. */
  readonly configFile: string;
  /** ServerAliveInterval (ms) and ServerAliveCountMax written into the config. */
  readonly keepaliveIntervalMs: number;
  readonly keepaliveCountMax: number;
  stop(): Promise<void>;
}

/** Options of {@link startProxiedSshd}. */
export interface ProxiedSshdOptions extends SshdOptions {
  /** ServerAliveInterval in seconds (whole seconds, as ssh_config takes them). Default 1. */
  readonly serverAliveInterval?: number;
  readonly serverAliveCountMax?: number;
  /** ConnectTimeout in seconds, so a reconnect into a black hole gives up. Default 3. */
  readonly connectTimeout?: number;
}

/** Starts sshd and a proxy; the alias trusts sshd's host key under the proxy's port. */
export async function startProxiedSshd(options: ProxiedSshdOptions = {}): Promise<ProxiedSshd> {
  const sshd = await startSshd(options);
  let proxy: FaultProxy;
  try {
    proxy = await startFaultProxy({ port: sshd.port });
  } catch (err) {
    await sshd.stop();
    throw err;
  }
  const interval = options.serverAliveInterval ?? 1;
  const countMax = options.serverAliveCountMax ?? 3;
  const alias = `faulty-${proxy.port}`;
  const knownHosts = join(sshd.dir, "known_hosts_proxy");
  const configFile = join(sshd.dir, "ssh_config_proxy");
  writeFileSync(knownHosts, `[127.0.0.1]:${proxy.port} ${sshd.hostPublicKey()}\n`);
  writeFileSync(
    configFile,
    [
      `Host ${alias}`,
      `  HostName 127.0.0.1`,
      `  Port ${proxy.port}`,
      `  User ${sshd.user}`,
      `  IdentityFile ${sshd.clientKeyPath}`,
      `  IdentitiesOnly yes`,
      `  UserKnownHostsFile ${knownHosts}`,
      `  StrictHostKeyChecking yes`,
      `  ServerAliveInterval ${interval}`,
      `  ServerAliveCountMax ${countMax}`,
      `  ConnectTimeout ${options.connectTimeout ?? 3}`,
      "",
    ].join("\n"),
  );
  return {
    sshd,
    proxy,
    alias,
    configFile,
    keepaliveIntervalMs: interval * 1000,
    keepaliveCountMax: countMax,
    async stop() {
      await proxy.close();
      await sshd.stop();
    },
  };
}

/** Opens a ProtectHost through the proxy; every SSH state change is recorded with its time. */
export async function openThroughProxy(
  env: ProxiedSshd,
  socketPath: string,
  states: { state: SshConnectionState["state"]; at: number }[],
  options: Partial<ProtectHostOptions> = {},
): Promise<ProtectHost> {
  const host = await ProtectHost.open(env.alias, {
    configFile: env.configFile,
    env: {},
    socketPath,
    reconnect: { initialDelayMs: 200, maxDelayMs: 2_000, maxAttempts: 30 },
    ...options,
  });
  host.onDidChangeState((s) => states.push({ state: s.state, at: performance.now() }));
  return host;
}

/**
 * Consumes ProtectHost.watch() the way a tree does (resync replaces, changes upsert, DESTROYED
 * removes) and remembers what would hurt a user: a zone listed twice in one resync.
 */
export class WatchModel {
  readonly events: HostEvent[] = [];
  readonly zones = new Map<string, Zone>();
  /** Ids that appeared twice within one resync. */
  readonly duplicates: string[] = [];
  readonly done: Promise<void>;
  readonly #controller = new AbortController();
  #waiters: { check: () => boolean; resolve: () => void }[] = [];
  #failure: Error | undefined;

  constructor(host: ProtectHost) {
    this.done = (async () => {
      try {
        for await (const ev of host.watch(this.#controller.signal)) {
          this.events.push(ev);
          if (ev.type === "resync") {
            this.zones.clear();
            for (const z of ev.zones) {
              if (this.zones.has(z.id)) this.duplicates.push(z.id);
              this.zones.set(z.id, z);
            }
          } else if (ev.type === "zone") {
            if (ev.zone.status?.state === ZoneState.DESTROYED) this.zones.delete(ev.zone.id);
            else this.zones.set(ev.zone.id, ev.zone);
          }
          this.#check();
        }
      } catch (err) {
        this.#failure = err instanceof Error ? err : new Error(String(err));
        this.#check();
      }
    })();
  }

  #check(): void {
    this.#waiters = this.#waiters.filter((w) => (w.check() ? (w.resolve(), false) : true));
  }

  resyncs(): Extract<HostEvent, { type: "resync" }>[] {
    return this.events.filter((e): e is Extract<HostEvent, { type: "resync" }> => e.type === "resync");
  }

  disconnects(): Extract<HostEvent, { type: "disconnected" }>[] {
    return this.events.filter(
      (e): e is Extract<HostEvent, { type: "disconnected" }> => e.type === "disconnected",
    );
  }

  /** Waits (generously: this is not what a test measures) until `check` holds. */
  until(what: string, check: () => boolean, timeoutMs = 60_000): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `timed out after ${timeoutMs} ms waiting for ${what}; events: ${this.events.map((e) => e.type).join(", ")}`,
            ),
          ),
        timeoutMs,
      );
      this.#waiters.push({
        check: () => Boolean(this.#failure) || check(),
        resolve: () => {
          clearTimeout(timer);
          if (this.#failure) reject(this.#failure);
          else resolve();
        },
      });
    });
  }

  async stop(): Promise<void> {
    this.#controller.abort();
    await this.done;
  }
}

/** Ids the model lacks or has in excess compared with the host's own list. */
export function diffIds(
  model: Iterable<string>,
  truth: Iterable<string>,
): { missing: string[]; extra: string[] } {
  const m = new Set(model);
  const t = new Set(truth);
  return { missing: [...t].filter((id) => !m.has(id)), extra: [...m].filter((id) => !t.has(id)) };
}

/** Polls `check` every 50 ms until it holds (a generous wait, not a measurement). */
export async function eventually(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
