import { messageOf } from "../../core/errors";
import { gatewayAlias, gatewayDirectory, splitZoneArgument } from "../../core/gateway/gatewayNames";
import { GatewaySshConfig } from "../../core/gateway/gatewaySshConfig";
import { protectGatewayTarget } from "../../core/gateway/protectGateway";
import { stdioSocket } from "../../core/gateway/stdioSocket";
import { ZoneGateway } from "../../core/gateway/zoneGateway";
import type { GatewayTarget } from "../../core/gateway/zoneGateway";
import { devcontainerRemoteEnv, resolveExecTarget } from "../../core/launch/targets";
import type { ProtectHost } from "../../core/protect/host";
import { parseTarget } from "../../core/protect/target";
import { ZoneState } from "../../proto/gen/protect/control/v1/common_pb";
import type { CliContext, Command } from "../command";
import { openHost, targetOf } from "../hostTarget";

/**
 * `zonectl ssh-proxy ZONE[/WORKLOAD]`: an SSH server on stdin/stdout for ssh's ProxyCommand
 * (`zonectl ssh-config` writes it), leading into the workload over the host API. Its host key
 * is the zone's gateway key under ~/.ssh/styrolite-zones. Refusals and a lost host connection
 * are reported on stderr, which ssh shows.
 */
export const sshProxyCommand: Command = {
  name: "ssh-proxy",
  summary: "speak SSH on stdin/stdout into a zone's workload (ssh ProxyCommand; see ssh-config)",
  usage:
    "ZONE[/WORKLOAD] [--builtin-sftp]\n\n--builtin-sftp serves sftp itself even when the image has an sftp-server.",
  options: { "builtin-sftp": { type: "boolean" } },
  async run(ctx, { values, positionals }) {
    if (positionals.length !== 1) {
      ctx.stderr.write(
        `zonectl ssh-proxy: name one zone\nusage: zonectl ssh-proxy ${sshProxyCommand.usage}\n`,
      );
      return 2;
    }
    if (ctx.stdin.isTTY) {
      ctx.stderr.write(
        "zonectl ssh-proxy speaks SSH on stdin/stdout: it is ssh's ProxyCommand. Run `zonectl ssh-config --write`, then `ssh ALIAS`.\n",
      );
      return 2;
    }
    const text = positionals[0]!;
    const { zone, workload } = splitZoneArgument(text);
    const alias = gatewayAlias(parseTarget(targetOf(ctx)), zone, workload);
    const key = new GatewaySshConfig(gatewayDirectory()).hostKey(alias);
    const notice = (line: string): void => void ctx.stderr.write(`zonectl ssh-proxy: ${line}\n`);

    // The SSH handshake and the host connection proceed together; the login waits for both.
    const opened = openHost(ctx);
    const target = opened.then((host) => gatewayTarget(ctx, host, text));
    const gateway = new ZoneGateway({
      hostKey: key.privateKey,
      target,
      notice,
      log: ctx.log,
      sftp: values["builtin-sftp"] === true ? "builtin" : "auto",
    });
    const stop = new AbortController();
    void opened
      .then((host) => followHost(host, target, gateway, stop.signal))
      .catch((err: unknown) => gateway.lose(messageOf(err))); // cannot reach the host: say so and end
    try {
      await gateway.serve(stdioSocket(ctx.stdin, ctx.stdout));
    } finally {
      stop.abort();
      await opened.then(
        (host) => host.close(),
        () => undefined,
      );
    }
    return 0;
  },
};

async function gatewayTarget(ctx: CliContext, host: ProtectHost, text: string): Promise<GatewayTarget> {
  const t = await resolveExecTarget(host, text, ctx.signal);
  const remoteEnv = await devcontainerRemoteEnv(host, t, ctx.env, ctx.signal);
  return protectGatewayTarget(host, t, remoteEnv);
}

/**
 * Ends every session with a message when the host connection drops or the zone goes away, so
 * ssh exits instead of hanging on streams that can no longer answer.
 */
async function followHost(
  host: ProtectHost,
  target: Promise<GatewayTarget>,
  gateway: ZoneGateway,
  signal: AbortSignal,
): Promise<void> {
  const zoneId = (await target).zoneId; // a target that fails ends the login itself
  try {
    for await (const event of host.watch(signal)) {
      if (event.type === "disconnected") {
        gateway.lose(`lost the connection to ${host.name}: ${event.error.message}`);
        return;
      }
      if (event.type === "zone" && event.zone.id === zoneId) {
        const state = event.zone.status?.state;
        if (state === ZoneState.DESTROYING || state === ZoneState.DESTROYED) {
          gateway.lose(`zone ${event.zone.spec?.name || event.zone.id} is being destroyed`);
          return;
        }
      }
    }
  } catch (err) {
    if (!signal.aborted) gateway.lose(`lost the connection to ${host.name}: ${messageOf(err)}`);
  }
}
