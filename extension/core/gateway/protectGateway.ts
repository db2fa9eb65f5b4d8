import { protectDialer } from "../forward/dialers";
import type { ExecTarget } from "../launch/targets";
import type { ProtectHost } from "../protect/host";
import { startExec } from "../terminal/execSession";
import type { GatewayTarget } from "./zoneGateway";
import type { ZoneRunner } from "./zoneRunner";

/** The gateway's target on a live host: processes by ExecuteZoneCommand, connections by DialNetworkSocket. */
export function protectGatewayTarget(
  host: ProtectHost,
  target: ExecTarget,
  remoteEnv: Readonly<Record<string, string>>,
): GatewayTarget {
  const zoneName = target.zone.spec?.name || target.zone.id;
  const where = target.workload
    ? `${zoneName}/${target.workload.spec?.name || target.workload.id}`
    : zoneName;
  return {
    description: where,
    zoneId: target.zone.id,
    defaultUser: target.user,
    workingDirectory: target.workingDirectory,
    remoteEnv,
    runner: (user): ZoneRunner => ({
      description: user ? `${where} (user ${user})` : where,
      start: (command, options = {}) =>
        startExec(
          host,
          {
            zoneId: target.zone.id,
            ...(target.workload ? { workloadId: target.workload.id } : {}),
            command,
            ...(options.env ? { env: options.env } : {}),
            ...(options.workingDirectory ? { workingDirectory: options.workingDirectory } : {}),
            ...(user ? { user } : {}),
            ...(options.tty ? { tty: options.tty } : {}),
          },
          {
            ...(options.signal ? { signal: options.signal } : {}),
            ...(options.onStdout ? { onStdout: options.onStdout } : {}),
            ...(options.onStderr ? { onStderr: options.onStderr } : {}),
          },
        ),
    }),
    dial: (address, port) => protectDialer(host, target.zone.id, address, port)(),
  };
}

/** Environment knobs of zonectl that say how to reach a host; a ProxyCommand must carry them. */
export const hostEnvironmentKeys = ["ZONECTL_SSH_CONFIG", "ZONECTL_SOCKET", "ZONECTL_BRIDGE"] as const;

/**
 * The words that run zonectl from an ssh ProxyCommand: `node` (or VS Code's Electron run as
 * Node) and the zonectl script, behind `env` when settings must travel with it — the command
 * runs later, from ssh, in an environment we do not control.
 */
export function zonectlCommandWords(options: {
  readonly node: string;
  /** Arguments before the script (`--import /abs/loader.mjs` when run from source). */
  readonly nodeArgs?: readonly string[];
  readonly script: string;
  /** Set for VS Code's Electron binary. */
  readonly electron?: boolean;
  readonly env?: Readonly<Record<string, string>>;
}): string[] {
  const env = Object.entries({
    ...(options.electron ? { ELECTRON_RUN_AS_NODE: "1" } : {}),
    ...options.env,
  }).map(([k, v]) => `${k}=${v}`);
  return [
    ...(env.length ? ["/usr/bin/env", ...env] : []),
    options.node,
    ...(options.nodeArgs ?? []),
    options.script,
  ];
}
