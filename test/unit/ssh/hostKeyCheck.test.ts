// StrictHostKeyChecking as OpenSSH applies it, decided without a server: which presented keys
// connect, which are recorded, which are refused and why, and when the user is asked.
import assert from "node:assert/strict";
import { test } from "node:test";
import { hostKeyDecision } from "../../../extension/core/ssh/hostKeyCheck";
import type { HostKeyPolicy } from "../../../extension/core/ssh/hostKeyCheck";
import type { StrictHostKeyChecking } from "../../../extension/core/ssh/config";

const policy = (strict: StrictHostKeyChecking, extra: Partial<HostKeyPolicy> = {}): HostKeyPolicy => ({
  strictHostKeyChecking: strict,
  batchMode: false,
  canAsk: true,
  ...extra,
});
const everyPolicy: StrictHostKeyChecking[] = ["yes", "no", "ask", "accept-new"];

test("a known key connects under every policy and is not recorded again", () => {
  for (const strict of everyPolicy)
    assert.deepEqual(hostKeyDecision("known", policy(strict)), {
      action: "accept",
      record: false,
      why: "known",
    });
});

test("a revoked or changed key is refused under every policy, even StrictHostKeyChecking no", () => {
  for (const strict of everyPolicy) {
    assert.deepEqual(hostKeyDecision("revoked", policy(strict)), {
      action: "refuse",
      refusal: { reason: "hostKeyRevoked" },
    });
    assert.deepEqual(hostKeyDecision("changed", policy(strict, { batchMode: true })), {
      action: "refuse",
      refusal: { reason: "hostKeyChanged" },
    });
  }
});

test("an unknown key: refused under yes, recorded under no and accept-new, asked about under ask", () => {
  assert.deepEqual(hostKeyDecision("unknown", policy("yes")), {
    action: "refuse",
    refusal: { reason: "hostKeyUnknown", cause: "strictHostKeyChecking" },
  });
  assert.deepEqual(hostKeyDecision("unknown", policy("accept-new")), {
    action: "accept",
    record: true,
    why: "StrictHostKeyChecking accept-new",
  });
  assert.deepEqual(hostKeyDecision("unknown", policy("no", { batchMode: true, canAsk: false })), {
    action: "accept",
    record: true,
    why: "StrictHostKeyChecking no",
  });
  assert.deepEqual(hostKeyDecision("unknown", policy("ask")), { action: "ask" });
});

test("an unknown key nobody can be asked about is refused: BatchMode, or no prompt at all", () => {
  for (const extra of [{ batchMode: true }, { canAsk: false }])
    assert.deepEqual(hostKeyDecision("unknown", policy("ask", extra)), {
      action: "refuse",
      refusal: { reason: "hostKeyUnknown", cause: "noWayToAsk" },
    });
});
