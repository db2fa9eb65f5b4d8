/**
 * The extension's own data path without VS Code's UI: HostConnections (connect, list, follow
 * WatchEvents, reconnect) through protectConnector (ProtectHost over SSH), the ZonesModel, the
 * ZonesTreeProvider producing tree items, and HostSamplers for graphs — the very classes the
 * extension's composition root wires together. esbuild bundles this file with `vscode`
 * resolved to ./vscodeStub.ts (see bundleExtensionModel in ./env.ts).
 *
 * Used two ways: imported by the bench (tree latency, render time), and run as its own process
 * (`node extensionModel.cjs idle|graph <json>`) so its CPU can be read apart from the bench's.
 */
import { loggerFrom } from "../extension/core/log";
import type { DisposableLike } from "../extension/core/lifecycle";
import { HostAccess } from "../extension/vscode/hostAccess";
import { HostConnections } from "../extension/vscode/hostConnections";
import { parseHostEntry } from "../extension/vscode/model/hostEntry";
import type { SettingKey } from "../extension/vscode/settingsSchema";
import { parseSettings } from "../extension/vscode/settingsSchema";
import { ZonesModel } from "../extension/vscode/model/zonesModel";
import { HostSamplers } from "../extension/vscode/metrics/hostSamplers";
import { protectConnector } from "../extension/vscode/protectConnector";
import { ZonesTreeProvider } from "../extension/vscode/tree/zonesTree";
import type { ZonesNode } from "../extension/vscode/tree/nodes";

/** Where the model connects. */
export interface ExtensionModelOptions {
  /** The `zones.hosts` entry: an ssh alias or `unix:///…`. */
  readonly hostId: string;
  readonly sshConfigFile: string;
  readonly daemonSocket: string;
}

/** A running extension data path. */
export interface ExtensionModel {
  readonly model: ZonesModel;
  readonly tree: ZonesTreeProvider;
  readonly connections: HostConnections;
  readonly samplers: HostSamplers;
  /** RPCs issued so far (every RPC is logged at debug by ProtectHost), by method. */
  rpcs(): Map<string, number>;
  /** Resolves once the host is connected and listed. */
  ready(timeoutMs?: number): Promise<void>;
  /**
   * Does what the view does on a refresh: asks for every node (all expanded) and its tree
   * item. Returns the labels by node id.
   */
  render(): Map<string, string>;
  /** The same with a new tree provider (no cached nodes): the first paint of the view. */
  renderFresh(): Map<string, string>;
  /** Called after each batched tree refresh the provider fires. */
  onRefresh(listener: () => void): DisposableLike;
  dispose(): void;
}

export function startExtensionModel(options: ExtensionModelOptions): ExtensionModel {
  const rpcs = new Map<string, number>();
  const log = loggerFrom((_level, line) => {
    const m = /\brpc (\w+)/.exec(line);
    if (m) rpcs.set(m[1]!, (rpcs.get(m[1]!) ?? 0) + 1);
  }, "debug");
  const raw: Partial<Record<SettingKey, unknown>> = {
    hosts: [options.hostId],
    "ssh.configFile": options.sshConfigFile,
    daemonSocket: options.daemonSocket,
  };
  const { settings } = parseSettings((key) => raw[key]);
  const model = new ZonesModel();
  const connections = new HostConnections({
    model,
    connector: protectConnector,
    settings: () => settings,
    prompts: {
      confirmUnknownHostKey: async () => false,
      askPassphrase: async () => undefined,
      askPassword: async () => undefined,
    },
    log,
    onFatalError: (_entry, err) => console.error(`extension model: ${(err as Error).message}`),
  });
  const tree = new ZonesTreeProvider(model);
  const samplers = new HostSamplers(
    model,
    new HostAccess(model, connections),
    log,
    settings.metricsIntervalSeconds * 1000,
  );
  connections.sync([parseHostEntry(options.hostId)]);

  const renderWith = (provider: ZonesTreeProvider): Map<string, string> => {
    const labels = new Map<string, string>();
    const walk = (nodes: ZonesNode[]): void => {
      for (const node of nodes) {
        const item = provider.getTreeItem(node);
        labels.set(node.id, typeof item.label === "string" ? item.label : (item.label?.label ?? ""));
        walk(provider.getChildren(node));
      }
    };
    walk(provider.getChildren());
    return labels;
  };
  const render = (): Map<string, string> => renderWith(tree);

  return {
    model,
    tree,
    connections,
    samplers,
    rpcs: () => new Map(rpcs),
    async ready(timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      while (model.host(options.hostId)?.connection.kind !== "connected") {
        const c = model.host(options.hostId)?.connection;
        if (c?.kind === "failed" && Date.now() > deadline)
          throw new Error(`the host did not connect: ${c.message}`);
        if (Date.now() > deadline) throw new Error("the host did not connect in time");
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    render,
    renderFresh() {
      const fresh = new ZonesTreeProvider(model);
      try {
        return renderWith(fresh);
      } finally {
        fresh.dispose();
      }
    },
    onRefresh: (listener) => tree.onDidChangeTreeData(() => listener()),
    dispose() {
      samplers.dispose();
      tree.dispose();
      connections.dispose();
      model.dispose();
    },
  };
}

/** What a measuring child process reports. */
export interface WindowResult {
  readonly windowMs: number;
  /** User + system CPU of this process during the window. */
  readonly cpuMs: number;
  readonly rpcs: Record<string, number>;
  readonly zones: number;
  /** For `graph`: samples recorded across the graphed zones during the window. */
  readonly samples?: number;
  /** For `memory`: heap in use (bytes, after a full GC) at the window's start, then every `heapEveryMs`. */
  readonly heap?: number[];
}

/** Options of a measuring run. */
export interface WindowOptions extends ExtensionModelOptions {
  readonly windowMs: number;
  /** Time after connecting before the window opens (first list, first samples). */
  readonly settleMs: number;
  /** For `graph`: how many zones to graph (the first by name). Default all. */
  readonly graphLimit?: number;
  /** For `memory`: how often to read the heap during the window. */
  readonly heapEveryMs?: number;
}

/** Heap in use after a full collection (the process runs with --expose-gc), so garbage is not counted. */
function heapAfterGc(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed;
}

/**
 * `idle`: connect, list, render, then sit with the tree open for the window.
 * `graph`: the same, plus every zone subscribed on the host's sampler (what open dashboards
 * do) at the configured 1 s interval.
 */
async function measureWindow(
  mode: "idle" | "graph" | "memory",
  options: WindowOptions,
): Promise<WindowResult> {
  const ext = startExtensionModel(options);
  try {
    await ext.ready();
    ext.render();
    const subs: DisposableLike[] = [];
    const sampler = ext.samplers.sampler(options.hostId);
    const listed = ext.model.zones(options.hostId).map((z) => z.id);
    const graphing = mode === "graph" || mode === "memory";
    const zoneIds = graphing ? listed.slice(0, options.graphLimit ?? listed.length) : listed;
    let samples = 0;
    if (graphing) {
      if (!sampler) throw new Error("no sampler for the host");
      for (const id of zoneIds)
        subs.push(sampler.subscribe(id, (change) => (change.kind === "sample" ? samples++ : undefined)));
    }
    await new Promise((r) => setTimeout(r, options.settleMs));
    const rpcsBefore = ext.rpcs();
    const samplesBefore = samples;
    process.stdout.write("WINDOW START\n"); // the parent starts counting bytes now
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const heap = mode === "memory" ? [heapAfterGc()] : [];
    const heapTimer =
      mode === "memory"
        ? setInterval(() => heap.push(heapAfterGc()), options.heapEveryMs ?? 60_000)
        : undefined;
    await new Promise((r) => setTimeout(r, options.windowMs));
    clearInterval(heapTimer);
    if (mode === "memory") heap.push(heapAfterGc());
    const cpu = process.cpuUsage(cpu0);
    const windowMs = performance.now() - t0;
    const rpcs: Record<string, number> = {};
    for (const [k, v] of ext.rpcs())
      if (v - (rpcsBefore.get(k) ?? 0) > 0) rpcs[k] = v - (rpcsBefore.get(k) ?? 0);
    for (const s of subs) s.dispose();
    return {
      windowMs,
      cpuMs: (cpu.user + cpu.system) / 1000,
      rpcs,
      zones: zoneIds.length,
      ...(graphing ? { samples: samples - samplesBefore } : {}),
      ...(mode === "memory" ? { heap } : {}),
    };
  } finally {
    ext.dispose();
  }
}

// Run as a process: `node extensionModel.cjs idle|graph|memory '<json options>'` prints `RESULT <json>`.
const [mode, json] = process.argv.slice(2);
if ((mode === "idle" || mode === "graph" || mode === "memory") && json) {
  measureWindow(mode, JSON.parse(json) as WindowOptions).then(
    (result) => {
      process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
      setTimeout(() => process.exit(0), 200).unref();
    },
    (err: unknown) => {
      process.stderr.write(
        `extension model: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exit(1);
    },
  );
}
