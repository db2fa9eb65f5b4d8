/**
 * How the Zones view arranges a host's zones: a text filter, a sort order, and grouping by
 * state. Kept in workspaceState (validated on read, since stored data crosses a trust line).
 * Pure: the tree provider and the unit tests share it.
 */
import * as z from "zod";
import type { Workload, Zone } from "../../proto/gen/protect/control/v1/common_pb";
import { imageLabel, zoneIp, zoneStateName } from "../../core/protect/zoneFacts";

export const sortOrders = ["name", "state", "created"] as const;
export type SortOrder = (typeof sortOrders)[number];

const schema = z.object({
  filter: z.string().max(200).default(""),
  sort: z.enum(sortOrders).default("name"),
  groupByState: z.boolean().default(false),
});

/** The view's arrangement. */
export type TreeOptions = z.output<typeof schema>;

export const defaultTreeOptions: TreeOptions = { filter: "", sort: "name", groupByState: false };

/** Stored options, or the defaults for anything missing or malformed. */
export function parseTreeOptions(stored: unknown): TreeOptions {
  const parsed = schema.safeParse(stored ?? {});
  return parsed.success ? parsed.data : defaultTreeOptions;
}

const order = ["ready", "creating", "created", "exited", "failed", "destroying", "unknown"];

/** Where a state's group goes: live zones first, failures after. */
export function stateOrder(state: string): number {
  const i = order.indexOf(state);
  return i < 0 ? order.length : i;
}

/** True when the filter text (case-insensitive, every word) is found in the zone or one of its workloads. */
export function zoneMatches(zone: Zone, workloads: readonly Workload[], filter: string): boolean {
  const words = filter.toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length) return true;
  const haystack = [
    zone.spec?.name ?? "",
    zone.id,
    zoneIp(zone) ?? "",
    zoneStateName(zone.status?.state),
    ...workloads.flatMap((w) => [w.spec?.name ?? "", w.id, imageLabel(w) ?? ""]),
  ]
    .join("\n")
    .toLowerCase();
  return words.every((w) => haystack.includes(w));
}

function createdAt(zone: Zone): number {
  const t = zone.status?.createdAt;
  return t ? Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6) : 0;
}

/** A host's zones (already in name order) filtered and sorted as the options say. */
export function arrangeZones(
  zones: readonly Zone[],
  workloadsOf: (zoneId: string) => readonly Workload[],
  options: TreeOptions,
): Zone[] {
  const shown = zones.filter((z) => zoneMatches(z, options.filter ? workloadsOf(z.id) : [], options.filter));
  if (options.sort === "state")
    return shown.sort(
      (a, b) => stateOrder(zoneStateName(a.status?.state)) - stateOrder(zoneStateName(b.status?.state)),
    );
  if (options.sort === "created") return shown.sort((a, b) => createdAt(b) - createdAt(a));
  return shown;
}
