import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  ZoneNetworkIpVersion,
  ZoneSchema,
  ZoneState,
} from "../../../extension/proto/gen/protect/control/v1/common_pb";
import { formatAge, zoneView } from "../../../extension/core/protect/views";
import { zoneStateName } from "../../../extension/core/protect/zoneFacts";
import { zoneTable } from "../../../extension/cli/commands/ls";
import { describeCliError, exitCodes } from "../../../extension/cli/errorReport";
import { ProtectError } from "../../../extension/core/protect/errors";
import { SshError } from "../../../extension/core/ssh/errors";

const created = new Date("2025-01-01T10:00:00Z");

const readyZone = create(ZoneSchema, {
  id: "4b0c6a4e-0f7e-4a55-9a57-3f1f1c2d9e11",
  spec: {
    name: "web",
    initialResources: { targetCpus: 2, maxCpus: 4, targetMemory: 2048n, maxMemory: 4096n },
  },
  status: {
    state: ZoneState.READY,
    createdAt: timestampFromDate(created),
    networkStatus: {
      interfaces: [
        {
          ips: [
            { version: ZoneNetworkIpVersion.V6, address: "fd00::2/64" },
            { version: ZoneNetworkIpVersion.V4, address: "10.75.0.2/16" },
          ],
        },
      ],
    },
    resourceStatus: { activeResources: { targetCpus: 2, targetMemory: 1024n } },
  },
});

describe("zone views", () => {
  test("plain JSON: string state, numbers not bigints, addresses without prefix, ISO dates", () => {
    const v = zoneView(readyZone);
    assert.deepEqual(v, {
      id: readyZone.id,
      name: "web",
      state: "ready",
      ipv4: "10.75.0.2",
      ipv6: "fd00::2",
      vcpus: 2,
      memoryMiB: 1024,
      createdAt: "2025-01-01T10:00:00.000Z",
      readyAt: null,
      error: null,
      exitCode: null,
      domid: null,
    });
    assert.doesNotThrow(() => JSON.stringify(v));
  });

  test("states by enum name; unknown numbers say unknown", () => {
    assert.equal(zoneStateName(ZoneState.CREATING), "creating");
    assert.equal(zoneStateName(ZoneState.FAILED), "failed");
    assert.equal(zoneStateName(42), "unknown");
  });

  test("a failed zone carries its message; the table shows it next to the state", () => {
    const failed = create(ZoneSchema, {
      id: "z2",
      spec: { name: "broken" },
      status: { state: ZoneState.FAILED, errorStatus: { message: "kernel panic\nmore" } },
    });
    const v = zoneView(failed);
    assert.equal(v.error, "kernel panic\nmore");
    const table = zoneTable([v, zoneView(readyZone)], new Date(created.getTime() + 3 * 3600_000));
    const lines = table.trimEnd().split("\n");
    assert.match(lines[0]!, /^NAME\s+ID\s+STATE\s+IP\s+VCPUS\s+MEMORY\s+AGE$/);
    assert.match(lines[1]!, /^broken\s+z2\s+failed \(kernel panic\)\s+-\s+-\s+-\s+-$/);
    assert.match(lines[2]!, /^web\s+4b0c6a4e-\S+\s+ready\s+10\.75\.0\.2\s+2\s+1GiB\s+3h$/);
    assert.equal(zoneTable([]), "No zones.\n");
  });

  test("ages", () => {
    const now = new Date("2025-01-02T00:00:00Z");
    assert.equal(formatAge(null, now), "-");
    assert.equal(formatAge("2025-01-01T23:59:30Z", now), "30s");
    assert.equal(formatAge("2025-01-01T23:00:00Z", now), "60m");
    assert.equal(formatAge("2024-12-20T00:00:00Z", now), "13d");
  });
});

describe("zonectl exit codes", () => {
  test("each failure class has its own code and one line", () => {
    const cases: [unknown, number][] = [
      [
        new SshError(
          "hostKeyUnknown",
          "unknown key SHA256:x and there is no way to ask whether to trust it.",
          { hostKeyUnknownCause: "noWayToAsk" },
        ),
        exitCodes.hostKeyUnknown,
      ],
      [new SshError("hostKeyChanged", "changed"), exitCodes.hostKeyChanged],
      [new SshError("authFailed", "denied"), exitCodes.authFailed],
      [new ProtectError("unreachable", "missing", { unreachable: "socketMissing" }), exitCodes.socketMissing],
      [
        new ProtectError("unreachable", "refused", { unreachable: "daemonNotRunning" }),
        exitCodes.daemonNotRunning,
      ],
      [new ProtectError("permissionDenied", "sudo"), exitCodes.permissionDenied],
      [new ProtectError("notFound", "no zone"), exitCodes.notFound],
      [new Error("boom"), exitCodes.unexpected],
    ];
    const codes = cases.map(([err, code]) => {
      const r = describeCliError(err);
      assert.equal(r.exitCode, code);
      assert.ok(!r.message.includes("\n"));
      return r.exitCode;
    });
    assert.equal(new Set(codes).size, codes.length);
    assert.match(describeCliError(cases[0]![0]).message, /Run zonectl on a terminal/);
  });

  test("a message quoting a path with a line break or an escape sequence stays one plain line", () => {
    const r = describeCliError(
      new ProtectError("unreachable", "the daemon socket /x/line\nbreak\u001b[31m does not exist", {
        unreachable: "socketMissing",
      }),
    );
    assert.equal(r.exitCode, exitCodes.socketMissing);
    assert.equal(r.message, "the daemon socket /x/line\\nbreak\\u001b[31m does not exist");
  });

  test("the terminal hint follows the error's cause, not its wording", () => {
    const hint = /Run zonectl on a terminal/;
    assert.match(
      describeCliError(new SshError("hostKeyUnknown", "key not known", { hostKeyUnknownCause: "noWayToAsk" }))
        .message,
      hint,
    );
    // Asked and declined, or refused by StrictHostKeyChecking: a terminal would not help.
    assert.doesNotMatch(
      describeCliError(
        new SshError("hostKeyUnknown", "key not known; no way to ask", { hostKeyUnknownCause: "notTrusted" }),
      ).message,
      hint,
    );
    assert.doesNotMatch(
      describeCliError(
        new SshError("hostKeyUnknown", "no way to ask", { hostKeyUnknownCause: "strictHostKeyChecking" }),
      ).message,
      hint,
    );
  });
});
