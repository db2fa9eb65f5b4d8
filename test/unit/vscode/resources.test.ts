// Resize requests keep a zone's bounds consistent, from the figures the host reports.
import { test } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { ZoneSchema } from "../../../extension/proto/gen/protect/control/v1/common_pb";
import {
  currentResources,
  parseMemoryMiB,
  resizedResources,
} from "../../../extension/vscode/model/resources";

const zone = create(ZoneSchema, {
  id: "z",
  spec: {
    initialResources: {
      minCpus: 1,
      targetCpus: 1,
      maxCpus: 2,
      minMemory: 128n,
      targetMemory: 256n,
      maxMemory: 512n,
    },
  },
  status: {
    resourceStatus: {
      activeResources: {
        minCpus: 1,
        targetCpus: 2,
        maxCpus: 2,
        minMemory: 128n,
        targetMemory: 384n,
        maxMemory: 512n,
      },
    },
  },
});

test("the active resources win over the initial ones", () => {
  assert.equal(currentResources(zone)?.targetMemory, 384n);
  const fresh = create(ZoneSchema, { spec: zone.spec! });
  assert.equal(currentResources(fresh)?.targetMemory, 256n);
});

test("a target beyond the max raises the max; below the min lowers the min; the rest stays", () => {
  const up = resizedResources(zone, 4, 1024);
  assert.deepEqual([up.minCpus, up.targetCpus, up.maxCpus], [1, 4, 4]);
  assert.deepEqual([up.minMemory, up.targetMemory, up.maxMemory], [128n, 1024n, 1024n]);
  const down = resizedResources(zone, undefined, 64);
  assert.deepEqual([down.minCpus, down.targetCpus, down.maxCpus], [1, 2, 2], "cpus untouched");
  assert.deepEqual([down.minMemory, down.targetMemory, down.maxMemory], [64n, 64n, 512n]);
  assert.equal(
    zone.status?.resourceStatus?.activeResources?.targetMemory,
    384n,
    "the zone itself is not changed",
  );
});

test("memory as typed: MiB by default, m and g suffixes, at least 16 MiB, whole MiB", () => {
  assert.equal(parseMemoryMiB("512"), 512);
  assert.equal(parseMemoryMiB("512m"), 512);
  assert.equal(parseMemoryMiB("2g"), 2048);
  assert.equal(parseMemoryMiB("1.5 GiB"), 1536);
  assert.equal(parseMemoryMiB("8"), undefined);
  assert.equal(parseMemoryMiB("1.3m"), undefined);
  assert.equal(parseMemoryMiB("lots"), undefined);
});
