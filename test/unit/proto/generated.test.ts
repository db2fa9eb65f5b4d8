import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { ControlService } from "../../../extension/proto/gen/protect/control/v1/control_pb";

const protoDir = join(import.meta.dirname, "../../../extension/proto");

function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

test("checked-in generated code matches a fresh buf generate", () => {
  const out = mkdtempSync(join(tmpdir(), "zones-gen-"));
  try {
    execFileSync("npx", ["buf", "generate", "--output", out], { cwd: protoDir, stdio: "pipe" });
    const fresh = join(out, "gen");
    const checkedIn = join(protoDir, "gen");
    assert.deepEqual(listFiles(checkedIn), listFiles(fresh));
    for (const file of listFiles(fresh)) {
      assert.equal(
        readFileSync(join(checkedIn, file), "utf8"),
        readFileSync(join(fresh, file), "utf8"),
        `${file} is stale: run npm run generate`,
      );
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test("the service carries every RPC of protect.control.v1 with its streaming mode", () => {
  assert.equal(ControlService.typeName, "protect.control.v1.ControlService");
  const kinds = Object.fromEntries(ControlService.methods.map((m) => [m.name, m.methodKind]));
  assert.equal(ControlService.methods.length, 37);
  assert.equal(kinds["GetHostStatus"], "unary");
  assert.equal(kinds["ListZones"], "server_streaming");
  assert.equal(kinds["WatchEvents"], "server_streaming");
  assert.equal(kinds["ImportImage"], "bidi_streaming");
  assert.equal(kinds["ExecuteZoneCommand"], "bidi_streaming");
  assert.equal(kinds["DialNetworkSocket"], "bidi_streaming");
  assert.equal(kinds["AttachZoneConsole"], "bidi_streaming");
});

test("field numbers that differ from declaration order are kept", async () => {
  const common = await import("../../../extension/proto/gen/protect/control/v1/common_pb");
  const numbers = (desc: { fields: readonly { name: string; number: number }[] }) =>
    Object.fromEntries(desc.fields.map((f) => [f.name, f.number]));
  assert.deepEqual(numbers(common.ZoneResourcesSpecSchema), {
    max_memory: 1,
    min_memory: 6,
    target_memory: 2,
    max_cpus: 3,
    min_cpus: 7,
    target_cpus: 4,
    adjustment_policy: 5,
  });
  assert.equal(numbers(common.WorkloadMountInfoSchema)["target_path"], 5);
  const states = Object.fromEntries(common.ZoneStateSchema.values.map((v) => [v.name, v.number]));
  assert.equal(states["ZONE_STATE_READY"], 3);
  assert.equal(states["ZONE_STATE_FAILED"], 7);
});
