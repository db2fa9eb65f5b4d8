import { dockerSizeToMiB } from "../../core/devcontainer/units";
import { resourcesInForce } from "../../core/protect/zoneFacts";
import type { ZoneResourcesSpec } from "../../proto/gen/protect/control/v1/common_pb";
import type { Command } from "../command";
import { openHost } from "../hostTarget";

function describe(r: ZoneResourcesSpec | undefined): string {
  if (!r) return "unknown";
  return `${r.targetCpus} vCPU (max ${r.maxCpus}), ${r.targetMemory} MiB (max ${r.maxMemory} MiB)`;
}

/**
 * `zonectl resize ZONE [--cpus N] [--memory SIZE]`: UpdateZoneResources with a new target
 * (the maximum grows with it, the minimum shrinks with it); prints the resources before and,
 * as the host then reports them, after. SIZE: 512m, 2g, 1.5g, or a number of MiB.
 */
export const resizeCommand: Command = {
  name: "resize",
  summary: "change a zone's vCPUs and memory",
  usage: "ZONE [--cpus N] [--memory SIZE]\n\nSIZE: 512m, 2g, 1.5g or a plain number of MiB.",
  options: {
    cpus: { type: "string" },
    memory: { type: "string" },
  },
  async run(ctx, { values, positionals }) {
    if (positionals.length !== 1 || (values["cpus"] === undefined && values["memory"] === undefined)) {
      ctx.stderr.write(
        `zonectl resize: name one zone and --cpus and/or --memory\nusage: zonectl resize ${resizeCommand.usage}\n`,
      );
      return 2;
    }
    const cpusText = values["cpus"] as string | undefined;
    const memoryText = values["memory"] as string | undefined;
    const cpus = cpusText === undefined ? undefined : Number(cpusText);
    if (cpus !== undefined && !(Number.isInteger(cpus) && cpus >= 1 && cpus <= 4096)) {
      ctx.stderr.write(`zonectl resize: --cpus takes a whole number of vCPUs, not '${cpusText}'\n`);
      return 2;
    }
    const memory =
      memoryText === undefined
        ? undefined
        : /^\d+$/.test(memoryText)
          ? Number(memoryText)
          : dockerSizeToMiB(memoryText);
    if (memoryText !== undefined && !(memory && memory >= 16)) {
      ctx.stderr.write(
        `zonectl resize: --memory takes a size like 512m or 2g (at least 16 MiB), not '${memoryText}'\n`,
      );
      return 2;
    }
    const host = await openHost(ctx);
    try {
      const zone = await host.resolveZone(positionals[0]!, { signal: ctx.signal });
      const before = resourcesInForce(zone);
      await host.resizeZone(zone, cpus, memory, { signal: ctx.signal });
      const after = resourcesInForce(await host.getZone(zone.id, { signal: ctx.signal }));
      const name = zone.spec?.name || zone.id;
      if (ctx.globals.json) {
        const plain = (r: ZoneResourcesSpec | undefined): unknown =>
          r
            ? {
                targetCpus: r.targetCpus,
                maxCpus: r.maxCpus,
                minCpus: r.minCpus,
                targetMemoryMiB: Number(r.targetMemory),
                maxMemoryMiB: Number(r.maxMemory),
                minMemoryMiB: Number(r.minMemory),
              }
            : null;
        ctx.stdout.write(
          `${JSON.stringify({ id: zone.id, name, before: plain(before), after: plain(after) }, null, 2)}\n`,
        );
      } else {
        ctx.stdout.write(`${name}\n  before  ${describe(before)}\n  after   ${describe(after)}\n`);
      }
      return 0;
    } finally {
      host.close();
    }
  },
};
