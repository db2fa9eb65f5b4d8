import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import { SshConnectionPool, isRetryable } from "../../../extension/core/ssh/managed";
import { SshError } from "../../../extension/core/ssh/errors";

const home = join(__dirname, "fixtures", "home");

describe("connection pool", () => {
  test("one managed connection per resolved user@host:port, however the host is spelled", () => {
    const pool = new SshConnectionPool({ homedir: home, configFile: join(home, ".ssh", "config"), env: {} });
    try {
      const byAlias = pool.get("bastion");
      assert.equal(pool.get("jump@bastion.example.net:2222"), byAlias);
      assert.equal(pool.get("ssh://jump@bastion.example.net:2222"), byAlias);
      assert.notEqual(pool.get("other@bastion.example.net:2222"), byAlias);
      assert.deepEqual([...pool.connections.keys()].sort(), [
        "jump@bastion.example.net:2222",
        "other@bastion.example.net:2222",
      ]);
      assert.equal(byAlias.state.state, "idle"); // nothing connects until asked
    } finally {
      pool.dispose();
    }
  });

  test("a disposed pool's connections refuse to connect", async () => {
    const pool = new SshConnectionPool({ homedir: home, configFile: join(home, ".ssh", "config"), env: {} });
    const managed = pool.get("bastion");
    pool.dispose();
    await assert.rejects(managed.connection(), (e: unknown) => SshError.is(e, "cancelled"));
  });

  test("only network trouble is retried", () => {
    for (const r of ["connectFailed", "timeout", "lost"] as const)
      assert.equal(isRetryable(new SshError(r, "x")), true, r);
    for (const r of [
      "hostKeyChanged",
      "hostKeyUnknown",
      "hostKeyRevoked",
      "authFailed",
      "configInvalid",
      "cancelled",
    ] as const)
      assert.equal(isRetryable(new SshError(r, "x")), false, r);
  });
});
