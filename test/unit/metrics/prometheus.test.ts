import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { parsePrometheusText, protectResourceReading } from "../../../extension/core/metrics/prometheus";

const scrape = readFileSync(new URL("fixtures/protect-metrics-resource.txt", import.meta.url), "utf8");
const ZONE_A = "3f1c2a9e-5b7d-4c11-9a0e-2d6f8b1c7e44";
const ZONE_B = "a0b1c2d3-0000-4000-8000-0123456789ab";

describe("parsePrometheusText", () => {
  it("reads HELP and TYPE, skips other comments and blank lines", () => {
    const r = parsePrometheusText(
      "# a plain comment\n\n# HELP up Whether the \\\\target\\n is up.\n# TYPE up GAUGE\nup 1\n",
    );
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.metadata.get("up"), { help: "Whether the \\target\n is up.", type: "gauge" });
    assert.deepEqual(r.samples, [{ name: "up", labels: {}, value: 1 }]);
  });

  it("unescapes label values and allows a trailing comma and spaces", () => {
    const r = parsePrometheusText('m{path="C:\\\\dir",msg="say \\"hi\\"\\nbye", empty="" ,} 2\n');
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.samples[0]!.labels, { path: "C:\\dir", msg: 'say "hi"\nbye', empty: "" });
  });

  it("keeps braces, commas and hashes inside label values", () => {
    const r = parsePrometheusText('m{a="x}y,z # not a comment"} 3\n');
    assert.deepEqual(r.samples[0]!.labels, { a: "x}y,z # not a comment" });
    assert.equal(r.samples[0]!.value, 3);
  });

  it("reads NaN, infinities, exponents and signs", () => {
    const r = parsePrometheusText("a NaN\nb +Inf\nc -Inf\nd 1.5e+3\ne -0.25\nf Inf\ng .5\n");
    assert.deepEqual(r.errors, []);
    const v = r.samples.map((s) => s.value);
    assert.ok(Number.isNaN(v[0]));
    assert.deepEqual(v.slice(1), [Infinity, -Infinity, 1500, -0.25, Infinity, 0.5]);
  });

  it("reads millisecond timestamps and OpenMetrics second timestamps", () => {
    const r = parsePrometheusText("a 1 1700000000123\nb 2 1700000000.5\n");
    assert.equal(r.samples[0]!.timestampMs, 1700000000123);
    assert.equal(r.samples[1]!.timestampMs, 1700000000500);
  });

  it("ignores exemplars and stops at # EOF", () => {
    const r = parsePrometheusText(
      'req_total{code="200"} 10 # {trace_id="abc"} 1 1700000000\nreq_total{code="500"} 2 1700 # {trace_id="x"} 1\n# EOF\nignored 1\n',
    );
    assert.deepEqual(r.errors, []);
    assert.equal(r.samples.length, 2);
    assert.equal(r.samples[0]!.value, 10);
    assert.equal(r.samples[1]!.timestampMs, 1700);
  });

  it("accepts a quoted metric name inside the braces", () => {
    const r = parsePrometheusText('{"zone.cpu", zone_id="z"} 4\n');
    assert.deepEqual(r.samples[0], { name: "zone.cpu", labels: { zone_id: "z" }, value: 4 });
  });

  it("reports malformed lines with their numbers and keeps the good ones", () => {
    const text = [
      "ok 1",
      'bad{a="1" 2',
      "m{a=1} 3",
      'x{a="\\q"} 4',
      "1bad 5",
      "novalue",
      "y 12abc",
      'z{a="1",a="2"} 1',
      "w 1 notatime",
      "ok2 2",
    ].join("\n");
    const r = parsePrometheusText(text);
    assert.deepEqual(
      r.samples.map((s) => s.name),
      ["ok", "ok2"],
    );
    assert.deepEqual(
      r.errors.map((e) => e.line),
      [2, 3, 4, 5, 6, 7, 8, 9],
    );
    for (const e of r.errors) assert.ok(e.message.length > 0);
  });

  it("handles CRLF line ends and tabs", () => {
    const r = parsePrometheusText('a{b="c"}\t7\r\n');
    assert.deepEqual(r.errors, []);
    assert.equal(r.samples[0]!.value, 7);
  });

  it("never throws on random input", () => {
    const alphabet = 'ab_{}="\\, #\n\t0123456789.eE+-NaInf';
    let seed = 7;
    const rand = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    for (let i = 0; i < 2000; i++) {
      let s = "";
      const n = Math.floor(rand() * 60);
      for (let j = 0; j < n; j++) s += alphabet[Math.floor(rand() * alphabet.length)];
      parsePrometheusText(s);
    }
  });
});

describe("protectResourceReading", () => {
  it("maps Protect's resource metrics onto host and zone readings", () => {
    const parsed = parsePrometheusText(scrape);
    assert.deepEqual(parsed.errors, []);
    const reading = protectResourceReading(parsed.samples, 5);
    assert.deepEqual(reading.host, {
      time: 5,
      cpuPercent: 30,
      cpuPerCpu: [55, 45, 10, 10],
      memoryUsed: 4294967296,
      memoryTotal: 17179869184,
      memoryFree: 12884901888,
    });
    const a = reading.zones.get(ZONE_A)!;
    assert.deepEqual(a.cpuPerVcpu, [97.5, 12.5]);
    assert.equal(a.cpuPercent, 55);
    assert.equal(a.memoryTotal, 1073741824);
    assert.equal(a.memoryUsed, 268435456);
    const b = reading.zones.get(ZONE_B)!;
    assert.equal(b.cpuPercent, 3);
    // free derived from total − used when the host leaves it out
    assert.equal(b.memoryFree, 536870912 - 104857600);
    assert.equal(reading.zones.size, 2);
  });

  it("has no host reading when the scrape carries no host_* metrics, and skips NaN", () => {
    const parsed = parsePrometheusText(
      'zone_cpu_usage_percent{cpu="0",zone_id="z"} NaN\nzone_memory_used_bytes{zone_id="z"} 10\n',
    );
    const reading = protectResourceReading(parsed.samples, 1);
    assert.equal(reading.host, null);
    assert.equal(reading.zones.get("z")!.cpuPercent, null);
    assert.equal(reading.zones.get("z")!.memoryUsed, 10);
  });
});
