// The workspace copy's SFTP against a real OpenSSH sshd: one shared session per connection
// (sshd's MaxSessions would refuse one per user), and calls that settle when the connection
// dies under them (ssh2 alone never answers a request on a dead channel).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { SftpHostFiles } from "../../../extension/core/launch/sftpFiles";
import { SshConnection } from "../../../extension/core/ssh/connection";
import { SshError } from "../../../extension/core/ssh/errors";
import { startSshd } from "../../harness/sshd";
import type { Sshd } from "../../harness/sshd";

let sshd: Sshd;

before(async () => {
  // Few sessions, so that one session per user would be refused at once.
  sshd = await startSshd({ config: { MaxSessions: "3", LogLevel: "VERBOSE" } });
});

after(async () => {
  await sshd?.stop();
});

const connect = (): Promise<SshConnection> =>
  SshConnection.connect(sshd.alias, { configFile: sshd.sshConfigPath, env: {}, homedir: sshd.dir });

/** Resolves with how a promise settled, or "pending" after `ms`. */
async function settleWithin<T>(
  p: Promise<T>,
  ms: number,
): Promise<{ value?: T; error?: unknown } | "pending"> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p.then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      ),
      new Promise<"pending">((r) => (timer = setTimeout(() => r("pending"), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

describe("shared SFTP session", () => {
  test("30 users copying at once on one connection share one session, past MaxSessions 3", async () => {
    const conn = await connect();
    const local = join(sshd.dir, "local");
    const remote = join(sshd.dir, "remote");
    mkdirSync(local);
    mkdirSync(remote);
    try {
      // A raw session per user is what sshd refuses: three sessions are already too many with
      // the connection's own exec. (The contrast shows the limit is real on this sshd.)
      const raw = await Promise.allSettled([conn.sftp(), conn.sftp(), conn.sftp(), conn.sftp()]);
      const refused = raw.find(
        (r): r is PromiseRejectedResult => r.status === "rejected" && SshError.is(r.reason, "channelRefused"),
      );
      assert.ok(refused, "sshd accepted every session: the limit is not in force");
      // The refusal names the session limit, not forwarding (which has nothing to do with it).
      assert.match((refused.reason as Error).message, /MaxSessions/);
      assert.doesNotMatch((refused.reason as Error).message, /forwarding/);
      for (const r of raw) if (r.status === "fulfilled") r.value.end();
      await new Promise((r) => setTimeout(r, 200)); // sshd frees the slots once the channels close

      const users = await Promise.all(Array.from({ length: 30 }, () => SftpHostFiles.open(conn)));
      await Promise.all(
        users.map(async (files, i) => {
          const from = join(local, `f${i}`);
          writeFileSync(from, `file ${i}\n`.repeat(1000 + i));
          await files.upload(from, join(remote, `f${i}`), { mode: 0o640, mtime: 1_700_000_000 + i });
          assert.equal((await files.lstat(join(remote, `f${i}`)))?.mtime, 1_700_000_000 + i);
          files.close();
        }),
      );
      for (let i = 0; i < 30; i++)
        assert.equal(readFileSync(join(remote, `f${i}`), "utf8"), `file ${i}\n`.repeat(1000 + i));
      assert.deepEqual(
        readdirSync(remote).filter((n) => n.includes(".zsync-")),
        [],
        "temporary files left behind",
      );
      // sshd logs one line per SFTP subsystem it starts: the raw ones above, then one shared.
      const started = sshd.logs().match(/Starting session: subsystem 'sftp'/g)?.length ?? 0;
      const rawOpened = raw.filter((r) => r.status === "fulfilled").length;
      assert.equal(started, rawOpened + 1, sshd.logs().slice(-2000));
    } finally {
      conn.close();
    }
  });

  test("a session that ended is replaced on the next call while the connection lives", async () => {
    const conn = await connect();
    try {
      const first = await conn.sftpSession();
      assert.equal(await conn.sftpSession(), first, "a second caller got a session of its own");
      first.close();
      assert.equal(first.isOpen, false);
      const files = await SftpHostFiles.open(conn);
      assert.equal((await files.lstat(sshd.dir))?.kind, "directory");
      const second = await conn.sftpSession();
      assert.notEqual(second, first);
      assert.ok(second.isOpen);
    } finally {
      conn.close();
    }
  });
});

describe("a connection that dies under SFTP calls", () => {
  test("an upload in flight and every later call reject with SshError lost at once, never hang", async () => {
    const conn = await connect();
    const big = join(sshd.dir, "big");
    // Large enough to be mid-transfer when the connection dies, even on a fast loopback.
    writeFileSync(big, randomBytes(64 * 2 ** 20));
    const target = join(sshd.dir, "big-copy");
    try {
      const files = await SftpHostFiles.open(conn);
      let settledAt = 0;
      // Handlers attached now: the rejection may come while killSessions() is still running.
      const upload = settleWithin(
        files
          .upload(big, target, { mode: 0o600, mtime: 1_700_000_000 })
          .finally(() => (settledAt = performance.now())),
        15_000,
      );
      const listing = settleWithin(files.list(sshd.dir), 15_000);
      await new Promise((r) => setTimeout(r, 50));
      const killedAt = performance.now();
      assert.ok((await sshd.killSessions()) > 0);
      const outcome = await upload;
      assert.notEqual(outcome, "pending", "the upload never settled after the connection died");
      if (outcome !== "pending") {
        assert.ok(SshError.is(outcome.error, "lost"), `expected SshError lost, got ${String(outcome.error)}`);
        assert.match((outcome.error as Error).message, /upload .* failed: the connection was lost/);
      }
      const settledMs = settledAt - killedAt;
      console.log(`upload rejected ${settledMs.toFixed(0)} ms after the sshd session was killed`);
      assert.ok(settledMs < 5_000);
      assert.notEqual(await listing, "pending"); // answered before the drop, or lost: either way settled
      // Later calls on the dead connection fail at once too.
      const later: Promise<unknown>[] = [
        files.lstat(sshd.dir),
        files.removeFile(target),
        files.mkdir(join(sshd.dir, "x"), 0o755),
      ];
      for (const call of later) {
        const r = await settleWithin(call, 2_000);
        assert.notEqual(r, "pending", "a call after the loss never settled");
        if (r !== "pending") assert.ok(SshError.is(r.error, "lost"), String(r.error));
      }
      assert.ok(!existsSync(target), "a half-written file appeared under its final name");
    } finally {
      conn.close();
    }
  });
});
