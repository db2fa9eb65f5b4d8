import { homedir } from "node:os";
import { join } from "node:path";
import type { Logger } from "../core/log";
import { DevHost } from "./devHost";
import { defaultSocketPath } from "../core/protect/transport";
import type { SandboxMode } from "./sandbox/zoneSandbox";
import type { AcceleratorChoice } from "./vm/accel";

/** The sandbox kinds `--sandbox` accepts. */
export const sandboxChoices = ["auto", "namespaces", "process", "vm"] as const;

/** The accelerators `--vm-accel` accepts. */
export const acceleratorChoices = ["auto", "kvm", "tcg"] as const;

/** The value of a choice flag, or undefined when it is not one of `choices`. */
export function choiceOf<T extends string>(choices: readonly T[], value: string | undefined): T | undefined {
  return choices.find((c) => c === value);
}

/** What both entry points (`zonectl dev-host` and dist/devhost.js) accept. */
export interface RunDevHostOptions {
  socketPath?: string | undefined;
  stateDir?: string | undefined;
  /** "127.0.0.1:PORT" for the embedded SSH server. */
  ssh?: string | undefined;
  /** "127.0.0.1:PORT" for Prometheus text at /metrics/resource. */
  prometheus?: string | undefined;
  /** authorized_keys files for the embedded SSH server. */
  authorizedKeys?: string[] | undefined;
  /** Extra folders workload bind mounts may come from. */
  mountRoots?: string[] | undefined;
  sandbox?: "auto" | SandboxMode | undefined;
  /** How VM zones run (with sandbox "vm"): auto, kvm or tcg. */
  vmAccelerator?: AcceleratorChoice | undefined;
  log: Logger;
  /** Where the startup summary goes (the socket, fingerprints, key paths). */
  out: (line: string) => void;
  /** Aborted on SIGINT/SIGTERM: the dev host stops cleanly and the promise resolves. */
  signal: AbortSignal;
}

/** The flags of both entry points, as parseArgs options; {@link devHostOptionsFrom} reads them. */
export const devHostFlags = {
  socket: { type: "string" },
  state: { type: "string" },
  ssh: { type: "string" },
  prometheus: { type: "string" },
  "authorized-keys": { type: "string", multiple: true },
  "mount-root": { type: "string", multiple: true },
  sandbox: { type: "string" },
  "vm-accel": { type: "string" },
} as const;

export const devHostUsage =
  "[--socket PATH] [--state DIR] [--ssh 127.0.0.1:PORT] [--prometheus 127.0.0.1:PORT] [--authorized-keys FILE]… [--mount-root DIR]… [--sandbox auto|namespaces|process|vm] [--vm-accel auto|kvm|tcg]";

/** What the parsed flags ask for, or the message for a value they cannot take. */
export function devHostOptionsFrom(
  values: Record<string, unknown>,
): Omit<RunDevHostOptions, "log" | "out" | "signal"> | { error: string } {
  const str = (key: string): string | undefined =>
    typeof values[key] === "string" ? values[key] : undefined;
  const sandbox = choiceOf(sandboxChoices, str("sandbox"));
  if (str("sandbox") !== undefined && !sandbox)
    return { error: `--sandbox must be ${sandboxChoices.join(", ")}` };
  const vmAccelerator = choiceOf(acceleratorChoices, str("vm-accel"));
  if (str("vm-accel") !== undefined && !vmAccelerator)
    return { error: `--vm-accel must be ${acceleratorChoices.join(", ")}` };
  const list = (key: string): string[] | undefined =>
    Array.isArray(values[key]) ? values[key].map(String) : undefined;
  return {
    socketPath: str("socket"),
    stateDir: str("state"),
    ssh: str("ssh"),
    prometheus: str("prometheus"),
    authorizedKeys: list("authorized-keys"),
    mountRoots: list("mount-root"),
    sandbox,
    vmAccelerator,
  };
}

/** The state directory when none is given: system-wide for root, per user otherwise. */
export function defaultStateDir(): string {
  if (process.getuid?.() === 0) return "/var/lib/styrolite-devhost";
  return join(process.env["XDG_STATE_HOME"] ?? join(homedir(), ".local", "state"), "styrolite-devhost");
}

/**
 * The socket when none is given: as root, protect-daemon's own path, so `zonectl` and the
 * extension reach the dev host with their defaults, locally and through any sshd; otherwise a
 * socket in the state directory.
 */
export function devHostSocketPath(stateDir: string): string {
  return process.getuid?.() === 0 ? defaultSocketPath : join(stateDir, "daemon.socket");
}

/**
 * Runs a dev host until `signal` aborts, then shuts it down completely (zones, cgroups,
 * bridge, socket). The one entry used by `zonectl dev-host` and by extension/devhost/main.ts.
 */
export async function runDevHost(options: RunDevHostOptions): Promise<void> {
  const stateDir = options.stateDir ?? defaultStateDir();
  const host = await DevHost.start({
    stateDir,
    socketPath: options.socketPath ?? devHostSocketPath(stateDir),
    sandbox: options.sandbox,
    vmAccelerator: options.vmAccelerator,
    prometheus: options.prometheus,
    ssh: options.ssh,
    authorizedKeys: options.authorizedKeys,
    mountRoots: options.mountRoots,
    log: options.log,
  });
  options.out(
    `dev host ready: socket ${host.socketPath} (state ${host.stateDir}, sandbox ${host.sandboxMode})`,
  );
  if (host.prometheusUrl) options.out(`prometheus: ${host.prometheusUrl}`);
  if (host.ssh) {
    options.out(`ssh: ${host.ssh.host}:${host.ssh.port}, host key ${host.ssh.hostFingerprint}`);
    options.out(
      `ssh: client key ${host.ssh.clientKeyPath} (always accepted; other keys only from --authorized-keys files)`,
    );
  }
  try {
    if (!options.signal.aborted) {
      await new Promise<void>((resolve) =>
        options.signal.addEventListener("abort", () => resolve(), { once: true }),
      );
    }
  } finally {
    await host.stop();
  }
}
