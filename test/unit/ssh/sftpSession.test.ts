// SftpSession with a fake ssh2 SFTP channel at the boundary: the orders of events ssh2 produces
// when a channel dies, and the errors that are the file's, not the connection's.
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { describe, test } from "node:test";
import type { SFTPWrapper } from "ssh2";
import { SshError } from "../../../extension/core/ssh/errors";
import { SftpSession } from "../../../extension/core/ssh/sftpSession";
import type { SftpCallback } from "../../../extension/core/ssh/sftpSession";

/** Holds request callbacks like ssh2 does until the "server" answers. */
class FakeSftp extends EventEmitter {
  readonly pending: SftpCallback<unknown>[] = [];
  ended = false;

  stat(_path: string, cb: SftpCallback<unknown>): void {
    this.pending.push(cb);
  }

  /** What ssh2 does when the channel closes: fail the pending callbacks, then 'end', then 'close'. */
  dieLikeSsh2(): void {
    for (const cb of this.pending.splice(0)) cb(new Error("No response from server"), undefined);
    this.emit("end");
    this.emit("close");
  }

  end(): void {
    this.ended = true;
  }
}

function sessionOn(fake: FakeSftp): SftpSession {
  return new SftpSession(fake as unknown as SFTPWrapper, "u@h:22");
}

const stat = (session: SftpSession): Promise<unknown> =>
  session.request("stat /x", (sftp, cb) => (sftp as unknown as FakeSftp).stat("/x", cb));

describe("SftpSession", () => {
  test("ssh2's 'No response from server' on a closing channel is SshError lost, naming the call", async () => {
    const fake = new FakeSftp();
    const session = sessionOn(fake);
    const call = stat(session);
    fake.dieLikeSsh2();
    await assert.rejects(
      call,
      (e: unknown) => SshError.is(e, "lost") && /stat \/x failed: the SFTP session ended/.test(e.message),
    );
    assert.equal(session.isOpen, false);
  });

  test("a request ssh2 never answers rejects when the channel closes", async () => {
    const fake = new FakeSftp();
    const session = sessionOn(fake);
    // A compound call (like fastPut cleaning up) whose inner request is lost inside ssh2.
    const call = session.request<unknown>("upload /x", () => undefined);
    fake.emit("close");
    await assert.rejects(call, (e: unknown) => SshError.is(e, "lost"));
  });

  test("calls after the end reject at once; the connection's loss is named as such", async () => {
    const fake = new FakeSftp();
    const session = sessionOn(fake);
    const cause = new SshError("lost", "ssh u@h:22: connection lost (read ECONNRESET).");
    session.connectionClosed(cause);
    await assert.rejects(
      stat(session),
      (e: unknown) => SshError.is(e, "lost") && /the connection was lost/.test(e.message),
    );
    assert.equal(fake.pending.length, 0, "a request was sent on a dead session");
  });

  test("a file's own error passes through unchanged while the session lives", async () => {
    const fake = new FakeSftp();
    const session = sessionOn(fake);
    const call = stat(session);
    const missing = Object.assign(new Error("No such file"), { code: 2 });
    fake.pending.shift()!(missing, undefined);
    await assert.rejects(call, (e: unknown) => e === missing);
    assert.ok(session.isOpen);
  });

  test("close() ends the channel and fails what is pending", async () => {
    const fake = new FakeSftp();
    const session = sessionOn(fake);
    const call = stat(session);
    session.close();
    assert.ok(fake.ended);
    await assert.rejects(call, (e: unknown) => SshError.is(e, "lost"));
  });
});
