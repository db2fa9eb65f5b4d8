// Zone facts every front end states the same way; resize requests keep a zone's bounds
// consistent, from the figures the host reports.
import { test } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import {
  WorkloadState,
  ZoneNetworkIpVersion,
  ZoneSchema,
  ZoneState,
} from "../../../extension/proto/gen/protect/control/v1/common_pb";
import { formatBytes, formatMiB } from "../../../extension/core/format";
import { limitsFromZone } from "../../../extension/core/metrics/zoneEvents";
import { zoneView } from "../../../extension/core/protect/views";
import {
  parseMemoryMiB,
  resizedResources,
  resourcesInForce,
  workloadStateName,
  zoneIp,
  zoneStateName,
} from "../../../extension/core/protect/zoneFacts";

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
  assert.equal(resourcesInForce(zone)?.targetMemory, 384n);
  const fresh = create(ZoneSchema, { spec: zone.spec! });
  assert.equal(resourcesInForce(fresh)?.targetMemory, 256n);
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

test("a zone whose host reports no target yet: the CLI, the graphs and the resize prompt read the same figures", () => {
  const starting = create(ZoneSchema, {
    id: "s",
    spec: zone.spec!,
    status: { resourceStatus: { activeResources: { targetCpus: 0, targetMemory: 0n } } },
  });
  const inForce = resourcesInForce(starting);
  assert.equal(inForce?.targetMemory, 256n, "the initial resources, not the empty active spec");
  assert.equal(zoneView(starting).memoryMiB, 256);
  assert.equal(zoneView(starting).vcpus, 1);
  assert.equal(limitsFromZone(starting)?.targetMemoryBytes, 256 * 2 ** 20);
  assert.equal(limitsFromZone(starting)?.maxCpus, 2);
});

test("state names: lower-case words by enum name, the same for every caller", () => {
  assert.equal(zoneStateName(ZoneState.READY), "ready");
  assert.equal(zoneStateName(undefined), "unknown");
  assert.equal(zoneStateName(99), "unknown");
  assert.equal(workloadStateName(WorkloadState.RUNNING), "running");
});

test("the address shown: the first IPv4 without its prefix, else IPv6", () => {
  const withIps = (ips: { version: ZoneNetworkIpVersion; address: string }[]) =>
    create(ZoneSchema, { status: { networkStatus: { interfaces: [{ ips }] } } });
  const both = withIps([
    { version: ZoneNetworkIpVersion.V6, address: "fd00::2/64" },
    { version: ZoneNetworkIpVersion.V4, address: "10.75.0.2/16" },
  ]);
  assert.equal(zoneIp(both), "10.75.0.2");
  assert.equal(zoneIp(withIps([{ version: ZoneNetworkIpVersion.V6, address: "fd00::3/64" }])), "fd00::3");
  assert.equal(zoneIp(withIps([])), undefined);
});

test("sizes for people: bytes and MiB", () => {
  assert.equal(formatBytes(512), "512 B");
  assert.equal(formatBytes(1536), "1.5 KiB");
  assert.equal(formatBytes(3 * 2 ** 30), "3.0 GiB");
  assert.equal(formatMiB(512), "512 MiB");
  assert.equal(formatMiB(2048n), "2 GiB");
  assert.equal(formatMiB(1536), "1.5 GiB");
});
