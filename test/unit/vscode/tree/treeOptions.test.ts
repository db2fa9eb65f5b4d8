// The Zones view's filter, sort and grouping order, on zones as a host sends them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { TimestampSchema } from "@bufbuild/protobuf/wkt";
import { ZoneState } from "../../../../extension/proto/gen/protect/control/v1/common_pb";
import type { Zone } from "../../../../extension/proto/gen/protect/control/v1/common_pb";
import {
  arrangeZones,
  defaultTreeOptions,
  parseTreeOptions,
  stateOrder,
  zoneMatches,
} from "../../../../extension/vscode/tree/treeOptions";
import { workload, zone } from "../fixtures";

function created(z: Zone, seconds: number): Zone {
  z.status!.createdAt = create(TimestampSchema, { seconds: BigInt(seconds) });
  return z;
}

const zones = [
  created(zone("z1", "api", ZoneState.FAILED), 30),
  created(zone("z2", "build", ZoneState.READY, { ip: "10.75.0.9" }), 10),
  created(zone("z3", "web", ZoneState.CREATING), 20),
];
const workloads = { z1: [], z2: [workload("w1", "z2", "compiler")], z3: [] } as Record<
  string,
  ReturnType<typeof workload>[]
>;
const of = (id: string) => workloads[id] ?? [];

test("the filter matches name, id, IP, state and workload names, every word", () => {
  assert.ok(zoneMatches(zones[1]!, of("z2"), "BUILD"));
  assert.ok(zoneMatches(zones[1]!, of("z2"), "10.75.0.9"));
  assert.ok(zoneMatches(zones[1]!, of("z2"), "compiler ready"));
  assert.ok(!zoneMatches(zones[1]!, of("z2"), "compiler failed"));
  assert.ok(zoneMatches(zones[0]!, of("z1"), "z1"));
  assert.deepEqual(
    arrangeZones(zones, of, { ...defaultTreeOptions, filter: "re" }).map((z) => z.id),
    ["z2", "z3"],
    "ready and creating contain 're'",
  );
});

test("sorts by name (as given), state (ready first) or creation (newest first)", () => {
  assert.deepEqual(
    arrangeZones(zones, of, defaultTreeOptions).map((z) => z.id),
    ["z1", "z2", "z3"],
  );
  assert.deepEqual(
    arrangeZones(zones, of, { ...defaultTreeOptions, sort: "state" }).map((z) => z.id),
    ["z2", "z3", "z1"],
  );
  assert.deepEqual(
    arrangeZones(zones, of, { ...defaultTreeOptions, sort: "created" }).map((z) => z.id),
    ["z1", "z3", "z2"],
  );
  assert.ok(stateOrder("ready") < stateOrder("failed") && stateOrder("failed") < stateOrder("bogus"));
});

test("stored options are validated: junk falls back to the defaults", () => {
  assert.deepEqual(parseTreeOptions(undefined), defaultTreeOptions);
  assert.deepEqual(parseTreeOptions({ filter: "x", sort: "state", groupByState: true }), {
    filter: "x",
    sort: "state",
    groupByState: true,
  });
  assert.deepEqual(parseTreeOptions({ sort: "size" }), defaultTreeOptions);
  assert.deepEqual(parseTreeOptions("garbage"), defaultTreeOptions);
  assert.deepEqual(parseTreeOptions({ groupByState: true }), { ...defaultTreeOptions, groupByState: true });
});
