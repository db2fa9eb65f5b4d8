import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { Column, MetricsHistory, type HistoryChange } from "../../../extension/core/metrics/history";
import { ZoneSchema, ZoneState } from "../../../extension/proto/gen/protect/control/v1/common_pb";
import { limitsFromZone, markerForTransition } from "../../../extension/core/metrics/zoneEvents";

const MiB = 1024 * 1024;

describe("MetricsHistory", () => {
  it("stores samples as rows and reports processes and changes", () => {
    const h = new MetricsHistory(10);
    const changes: HistoryChange["kind"][] = [];
    h.onDidChange((c) => changes.push(c.kind));
    h.addZoneSample({
      time: 1000,
      cpuPercent: 50,
      cpuPerVcpu: [80, 20],
      memoryUsed: 5,
      memoryTotal: 10,
      memoryFree: 5,
      processes: [],
    });
    assert.equal(h.ring.valueAt(Column.cpu, 0), 50);
    assert.equal(h.ring.valueAt(Column.cpuAt(1), 0), 20);
    assert.equal(h.ring.valueAt(Column.processes, 0), 0);
    assert.deepEqual(changes, ["sample", "processes"]);
  });

  it("adds one gap row per failure streak, none before the first sample", () => {
    const h = new MetricsHistory(10);
    h.addGap(1);
    assert.equal(h.ring.length, 0);
    h.addZoneSample({ time: 2, cpuPercent: 1, memoryUsed: 1, memoryTotal: 1, memoryFree: 0, processes: [] });
    h.addGap(3);
    h.addGap(4);
    assert.equal(h.ring.length, 2);
    assert.ok(Number.isNaN(h.ring.valueAt(Column.cpu, 1)));
  });

  it("marks a limits change after the first, not the first itself", () => {
    const h = new MetricsHistory(10);
    const limits = { targetMemoryBytes: 512 * MiB, maxMemoryBytes: 1024 * MiB, targetCpus: 1, maxCpus: 2 };
    h.setLimits(limits, 1);
    h.setLimits({ ...limits }, 2);
    assert.equal(h.markers.length, 0);
    h.setLimits({ ...limits, targetMemoryBytes: 768 * MiB, targetCpus: 2 }, 3);
    assert.deepEqual(h.markers, [{ time: 3, kind: "resize", label: "2 vCPU · 768 MiB" }]);
    assert.equal(h.limits!.targetMemoryBytes, 768 * MiB);
  });

  it("keeps zone columns of a host history bounded", () => {
    const h = new MetricsHistory(5);
    for (let i = 0; i < 300; i++) {
      h.addHostSample(
        { time: i, cpuPercent: 1, memoryUsed: 1, memoryTotal: 2, memoryFree: 1 },
        new Map([[`z${i}`, { cpuPercent: 1, memoryUsed: 1 }]]),
      );
    }
    assert.ok(h.ring.columns.length < 140, `${h.ring.columns.length} columns`);
    assert.equal(h.ring.valueAt(Column.zoneCpu("z299"), 4), 1);
  });
});

describe("zone events", () => {
  const zone = (state: ZoneState, extra: Record<string, unknown> = {}) =>
    create(ZoneSchema, { id: "z1", spec: { name: "web" }, status: { state, ...extra } });

  it("turns transitions into markers with exit codes and OOM reasons", () => {
    assert.equal(markerForTransition(ZoneState.READY, zone(ZoneState.READY), 1), null);
    assert.deepEqual(markerForTransition(ZoneState.CREATED, zone(ZoneState.READY), 1), {
      time: 1,
      kind: "state",
      label: "READY",
    });
    assert.deepEqual(
      markerForTransition(ZoneState.READY, zone(ZoneState.EXITED, { exitStatus: { code: 137 } }), 2),
      { time: 2, kind: "exit", label: "exit 137", exitCode: 137 },
    );
    assert.deepEqual(
      markerForTransition(
        ZoneState.READY,
        zone(ZoneState.FAILED, { errorStatus: { message: "zone killed: out of memory" } }),
        3,
      ),
      {
        time: 3,
        kind: "oom",
        label: "OOM",
        reason: "zone killed: out of memory",
      },
    );
    assert.equal(
      markerForTransition(
        ZoneState.READY,
        zone(ZoneState.FAILED, { errorStatus: { message: "kernel panic" } }),
        4,
      )!.kind,
      "failed",
    );
  });

  it("reads limits from active resources, falling back to the spec, MiB to bytes", () => {
    const z = create(ZoneSchema, {
      id: "z",
      spec: { initialResources: { targetMemory: 256n, maxMemory: 512n, targetCpus: 1, maxCpus: 2 } },
    });
    assert.deepEqual(limitsFromZone(z), {
      targetMemoryBytes: 256 * MiB,
      maxMemoryBytes: 512 * MiB,
      targetCpus: 1,
      maxCpus: 2,
    });
    z.status = create(ZoneSchema, {
      status: { resourceStatus: { activeResources: { targetMemory: 1024n, targetCpus: 4 } } },
    }).status;
    assert.deepEqual(limitsFromZone(z), {
      targetMemoryBytes: 1024 * MiB,
      maxMemoryBytes: null,
      targetCpus: 4,
      maxCpus: null,
    });
  });
});
