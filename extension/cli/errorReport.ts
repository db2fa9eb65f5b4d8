import { messageOf } from "../core/errors";

/**
 * Turns anything a command throws into one clear line and an exit code. Each typed error
 * (SshError, ProtectError, DevcontainerError, …) gets a distinct code so scripts can tell
 * failures apart; the table grows with the error types.
 */
export function describeCliError(err: unknown): { message: string; exitCode: number } {
  return { message: messageOf(err), exitCode: 1 };
}
