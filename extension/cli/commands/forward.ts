import type { Dialer } from "../../core/forward/dialers";
import { ForwardError, parseForwardArg } from "../../core/forward/errors";
import { ForwardSet, PortForward } from "../../core/forward/portForward";
import { messageOf } from "../../core/errors";
import { zoneView } from "../../core/protect/views";
import type { Command } from "../command";
import { openHost } from "../hostTarget";

/**
 * `zonectl forward ZONE PORT[:LOCAL]…`: listens on 127.0.0.1:LOCAL (default: the same port; 0
 * picks a free one) and carries each connection to PORT inside the zone — through the daemon
 * (DialNetworkSocket, the default) or, with --via ssh, an SSH channel to the zone's IP. Prints
 * the local address of each forward and runs until Ctrl-C.
 */
export const forwardCommand: Command = {
  name: "forward",
  summary: "forward local ports to ports in a zone until Ctrl-C",
  usage:
    "ZONE PORT[:LOCAL]... [--address ADDR] [--via dial|ssh]\n\nPORT is the port in the zone, LOCAL the local one (default PORT; 0 picks a free port).",
  options: {
    address: { type: "string" },
    via: { type: "string" },
  },
  async run(ctx, { values, positionals }) {
    const [zoneText, ...ports] = positionals;
    if (!zoneText || !ports.length) {
      ctx.stderr.write(
        `zonectl forward: name a zone and at least one port\nusage: zonectl forward ${forwardCommand.usage}\n`,
      );
      return 2;
    }
    const via = typeof values["via"] === "string" ? values["via"] : "dial";
    if (via !== "dial" && via !== "ssh") {
      ctx.stderr.write("zonectl forward: --via takes dial or ssh\n");
      return 2;
    }
    let specs: { zonePort: number; localPort: number }[];
    try {
      specs = ports.map(parseForwardArg);
    } catch (err) {
      ctx.stderr.write(`zonectl forward: ${messageOf(err)}\n`);
      return 2;
    }
    const address = typeof values["address"] === "string" ? values["address"] : "127.0.0.1";
    const host = await openHost(ctx);
    const set = new ForwardSet();
    try {
      const zone = await host.resolveZone(zoneText, { signal: ctx.signal });
      const name = zone.spec?.name || zone.id;
      const ip = zoneView(zone).ipv4 ?? zoneView(zone).ipv6;
      if (via === "ssh" && (host.target.kind !== "ssh" || !ip)) {
        throw new ForwardError(
          "noRoute",
          host.target.kind !== "ssh"
            ? "--via ssh needs an SSH host"
            : `zone ${name} has no IP address to forward to over SSH`,
        );
      }
      for (const s of specs) {
        const dial: Dialer = host.dialer(zone, s.zonePort, via);
        const forward = set.add(
          await PortForward.open(
            { localAddress: address, localPort: s.localPort, remote: `${name}:${s.zonePort}` },
            dial,
            { logger: ctx.log },
          ),
        );
        forward.onDidFail((f) =>
          ctx.stderr.write(
            `zonectl forward: a connection to ${f.forward.remote} failed: ${f.error.message}\n`,
          ),
        );
        const info = forward.info;
        ctx.stdout.write(`forwarding ${info.localAddress}:${info.localPort} → ${info.remote}\n`);
      }
      ctx.stderr.write("Ctrl-C stops forwarding\n");
      await new Promise<void>((resolve) => {
        if (ctx.signal.aborted) resolve();
        else ctx.signal.addEventListener("abort", () => resolve(), { once: true });
      });
      return 0;
    } catch (err) {
      if (ForwardError.is(err)) {
        ctx.stderr.write(`zonectl forward: ${err.message}\n`);
        return 1;
      }
      throw err;
    } finally {
      await set.closeAll();
      host.close();
    }
  },
};
