/**
 * An SFTP session whose every request settles. ssh2 calls a request's callback only when the
 * server answers; once the channel (or the whole connection) is gone, requests that were pending
 * in a compound operation such as fastPut — and any request made afterwards — are never answered
 * nor failed, so a caller awaiting them hangs for ever. Here each request races the session's
 * end: pending and later requests reject with SshError `lost`.
 *
 * One session is shared by every user of a connection ({@link SshConnection.sftpSession}):
 * sshd allows MaxSessions (default 10) session channels per connection, and SFTP multiplexes
 * any number of requests over one channel anyway.
 */
import type { SFTPWrapper } from "ssh2";
import { SshError } from "./errors";

/** ssh2's callback shape: an error, or the value. */
export type SftpCallback<T> = (err: Error | undefined | null, value: T) => void;

/** One open SFTP channel. Create through {@link SshConnection.sftpSession}. */
export class SftpSession {
  readonly #sftp: SFTPWrapper;
  readonly #key: string;
  readonly #pending = new Set<(error: SshError) => void>();
  #ended: SshError | undefined;
  #endedWhy = "";

  constructor(sftp: SFTPWrapper, key: string) {
    this.#sftp = sftp;
    this.#key = key;
    // 'error' precedes 'close' on a protocol failure; either way the session is over.
    sftp.on("error", (err: Error) => this.#end(`the SFTP session failed: ${err.message}`, err));
    sftp.on("end", () => this.#end("the SFTP session ended"));
    sftp.on("close", () => this.#end("the SFTP session closed"));
  }

  /** False once the channel ended, failed or was closed: ask the connection for a new session. */
  get isOpen(): boolean {
    return this.#ended === undefined;
  }

  /** The ssh2 wrapper, for calls this class does not cover. Prefer {@link request}: its calls settle. */
  get raw(): SFTPWrapper {
    return this.#sftp;
  }

  /**
   * Runs one ssh2 SFTP call (simple or compound, such as fastPut) and settles with its result,
   * or with SshError `lost` when the session ends first. `what` names the call in messages.
   */
  request<T>(what: string, start: (sftp: SFTPWrapper, cb: SftpCallback<T>) => void): Promise<T> {
    if (this.#ended) return Promise.reject(this.#lost(what, this.#ended));
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const onEnd = (error: SshError): void => {
        if (settled) return;
        settled = true;
        this.#pending.delete(onEnd);
        reject(this.#lost(what, error));
      };
      this.#pending.add(onEnd);
      const done: SftpCallback<T> = (err, value) => {
        if (settled) return;
        if (!err) {
          settled = true;
          this.#pending.delete(onEnd);
          resolve(value);
          return;
        }
        // ssh2 fails a closing channel's pending requests ("No response from server") just
        // before it reports the close: wait for the rest of this turn so that the error can
        // be told apart from a file error.
        queueMicrotask(() => {
          if (settled) return;
          if (this.#ended) {
            onEnd(this.#ended);
            return;
          }
          settled = true;
          this.#pending.delete(onEnd);
          reject(err);
        });
      };
      try {
        start(this.#sftp, done);
      } catch (err) {
        // ssh2 throws synchronously on bad arguments.
        if (!settled) {
          settled = true;
          this.#pending.delete(onEnd);
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      }
    });
  }

  /** Ends the channel; pending requests reject with `lost`. */
  close(): void {
    this.#end("the SFTP session was closed");
    this.#sftp.end();
  }

  /** Called by the connection when it closes: the channel's own close may come late or never. */
  connectionClosed(error: SshError | undefined): void {
    this.#end(error ? "the connection was lost" : "the connection was closed", error);
  }

  #end(why: string, cause?: unknown): void {
    if (this.#ended) return;
    this.#endedWhy = why;
    this.#ended = new SshError(
      "lost",
      `ssh ${this.#key}: ${why}.`,
      { host: this.#key },
      cause === undefined ? undefined : { cause },
    );
    const pending = [...this.#pending];
    this.#pending.clear();
    for (const fail of pending) fail(this.#ended);
  }

  #lost(what: string, ended: SshError): SshError {
    return new SshError(
      "lost",
      `ssh ${this.#key}: ${what} failed: ${this.#endedWhy}.`,
      { host: this.#key },
      { cause: ended },
    );
  }
}
