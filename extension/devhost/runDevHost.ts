import { homedir } from "node:os";
import { join } from "node:path";
import type { Logger } from "../core/log";
import { DevHost } from "./devHost";
import { protectSocketPath } from "./ssh/sshServer";
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
export function defaultSocketPath(stateDir: string): string {
  return process.getuid?.() === 0 ? protectSocketPath : join(stateDir, "daemon.socket");
}

/**
 * Runs a dev host until `signal` aborts, then shuts it down completely (zones, cgroups,
 * bridge, socket). The one entry used by `zonectl dev-host` and by extension/devhost/main.ts.
 */
export async function runDevHost(options: RunDevHostOptions): Promise<void> {
  const stateDir = options.stateDir ?? defaultStateDir();
  const host = await DevHost.start({
    stateDir,
    socketPath: options.socketPath ?? defaultSocketPath(stateDir),
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
