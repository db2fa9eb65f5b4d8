/**
 * Typed errors with a reason. Callers branch on `reason`, never on message text (which may
 * change, and quotes user values).
 * Each area declares its own subclass with a closed set of reasons, e.g.
 *
 *   export class SshError extends ReasonedError<SshErrorReason> { override readonly name = "SshError"; }
 *   if (SshError.is(err, "hostKeyChanged")) …
 */
export abstract class ReasonedError<R extends string> extends Error {
  constructor(
    readonly reason: R,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** True when `err` is an instance of this class (and, if given, has that reason). */
  static is<E extends ReasonedError<string>>(
    this: abstract new (...args: never[]) => E,
    err: unknown,
    reason?: E["reason"],
  ): err is E {
    return err instanceof this && (reason === undefined || err.reason === reason);
  }
}

/**
 * A {@link ReasonedError} that carries facts for the caller beyond its message (which step,
 * which host, which fingerprints), typed per error class:
 *
 *   export class SshError extends DetailedError<SshErrorReason, SshErrorDetails> { override readonly name = "SshError"; }
 *
 * `D` must have only optional fields: an error made without details gets `{}`.
 */
export abstract class DetailedError<R extends string, D extends object> extends ReasonedError<R> {
  constructor(
    reason: R,
    message: string,
    readonly details: D = {} as D,
    options?: { cause?: unknown },
  ) {
    super(reason, message, options);
  }
}

/** The message of anything thrown, for one-line reports. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
