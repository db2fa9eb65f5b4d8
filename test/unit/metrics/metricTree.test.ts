import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { create, fromJson, type JsonValue } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import {
  MetricFormat,
  MetricNodeSchema,
  type MetricNode,
} from "../../../extension/proto/gen/protect/control/v1/common_pb";
import { zoneSampleFromTree } from "../../../extension/core/metrics/metricTree";

const fixture = (name: string): JsonValue =>
  JSON.parse(readFileSync(new URL(`fixtures/${name}`, import.meta.url), "utf8")) as JsonValue;
const tree = (json: JsonValue): MetricNode => fromJson(MetricNodeSchema, json);
const T = 1_700_000_000_000;

function node(
  name: string,
  value?: number | string,
  format = MetricFormat.UNKNOWN,
  children: MetricNode[] = [],
): MetricNode {
  const init: Parameters<typeof create<typeof MetricNodeSchema>>[1] = { name, format, children };
  if (typeof value === "number") init.value = create(ValueSchema, { kind: { case: "numberValue", value } });
  if (typeof value === "string") init.value = create(ValueSchema, { kind: { case: "stringValue", value } });
  return create(MetricNodeSchema, init);
}
const pct = (name: string, value: number, children: MetricNode[] = []): MetricNode =>
  node(name, value, MetricFormat.PERCENT, children);

describe("zoneSampleFromTree", () => {
  it("reads memory and processes from a krata-shaped tree, with no CPU figures invented", () => {
    const sample = zoneSampleFromTree(tree(fixture("kratactl-zone-metrics.json")), T);
    assert.equal(sample.time, T);
    assert.equal(sample.memoryTotal, 1011245056);
    assert.equal(sample.memoryUsed, 61440000);
    assert.equal(sample.memoryFree, 949805056);
    assert.equal(sample.cpuPercent, null);
    assert.equal(sample.cpuPerVcpu, undefined);
    assert.equal(sample.processes.length, 2);
    const [init, server] = sample.processes;
    assert.deepEqual(init, {
      pid: 1,
      parentPid: 0,
      command: "/bin/sh",
      executable: "/bin/sh",
      cwd: "/",
      residentBytes: 1052672,
      virtualBytes: 1671168,
      lifetimeSeconds: 42,
      uid: 0,
      gid: 0,
      cpuPercent: null,
    });
    assert.equal(server!.command, "python3 -m http.server 8000");
    assert.equal(server!.parentPid, 1);
    assert.equal(server!.residentBytes, 20971520);
    assert.equal(server!.uid, 1000);
  });

  it("finds percent nodes wherever they sit: per-vCPU by index, total by name", () => {
    const root = node("zone", undefined, MetricFormat.UNKNOWN, [
      node("system", undefined, MetricFormat.UNKNOWN, [
        node("cpu", undefined, MetricFormat.UNKNOWN, [
          pct("usage", 40),
          node("0", undefined, MetricFormat.UNKNOWN, [pct("usage", 70)]),
          node("1", undefined, MetricFormat.UNKNOWN, [pct("usage", 10)]),
        ]),
        node("memory", undefined, MetricFormat.UNKNOWN, [
          node("total", 1000, MetricFormat.BYTES),
          node("free", 400, MetricFormat.BYTES),
        ]),
      ]),
    ]);
    const sample = zoneSampleFromTree(root, T);
    assert.equal(sample.cpuPercent, 40);
    assert.deepEqual(sample.cpuPerVcpu, [70, 10]);
    // used is derived when only total and free are given
    assert.equal(sample.memoryUsed, 600);
  });

  it("averages per-vCPU figures when the tree has no total, and accepts cpuN names", () => {
    const root = node("", undefined, MetricFormat.UNKNOWN, [
      node("vcpus", undefined, MetricFormat.UNKNOWN, [pct("vcpu0", 100), pct("vcpu1", 50), pct("vcpu3", 30)]),
    ]);
    const sample = zoneSampleFromTree(root, T);
    assert.equal(sample.cpuPerVcpu!.length, 4);
    assert.ok(Number.isNaN(sample.cpuPerVcpu![2]));
    assert.equal(sample.cpuPercent, 60);
  });

  it("keeps a process's own percentage out of the zone's CPU and reads it for the process", () => {
    const root = node("zone", undefined, MetricFormat.UNKNOWN, [
      pct("cpu", 25),
      node("process", undefined, MetricFormat.UNKNOWN, [
        node("42", undefined, MetricFormat.UNKNOWN, [
          node("executable", "/bin/burn"),
          node("parent", 1, MetricFormat.INTEGER),
          pct("cpu", 99),
        ]),
      ]),
    ]);
    const sample = zoneSampleFromTree(root, T);
    assert.equal(sample.cpuPercent, 25);
    assert.equal(sample.processes[0]!.cpuPercent, 99);
    assert.equal(sample.processes[0]!.command, "/bin/burn");
  });

  it("prefers the system memory node over another memory node and takes numeric strings", () => {
    const root = node("zone", undefined, MetricFormat.UNKNOWN, [
      node("balloon", undefined, MetricFormat.UNKNOWN, [
        node("memory", undefined, MetricFormat.UNKNOWN, [node("total", 1, MetricFormat.BYTES)]),
      ]),
      node("system", undefined, MetricFormat.UNKNOWN, [
        node("memory", undefined, MetricFormat.UNKNOWN, [
          node("total", "2048", MetricFormat.BYTES),
          node("used", 1024, MetricFormat.BYTES),
        ]),
      ]),
    ]);
    const sample = zoneSampleFromTree(root, T);
    assert.equal(sample.memoryTotal, 2048);
    assert.equal(sample.memoryFree, 1024);
  });

  it("survives an empty or missing tree", () => {
    assert.deepEqual(zoneSampleFromTree(undefined, T), {
      time: T,
      cpuPercent: null,
      memoryUsed: null,
      memoryTotal: null,
      memoryFree: null,
      processes: [],
    });
    assert.equal(zoneSampleFromTree(node("zone"), T).processes.length, 0);
  });
});
