import { messageOf } from "../core/errors";
import { DevcontainerError } from "../core/devcontainer/errors";
import { LaunchError } from "../core/launch/errors";
import type { LaunchErrorReason } from "../core/launch/errors";
import { ProtectError } from "../core/protect/errors";
import { SshError } from "../core/ssh/errors";
import { printable } from "../core/ssh/printable";
import type { SshErrorReason } from "../core/ssh/errors";

/**
 * zonectl's exit codes, one per failure class, so scripts can tell failures apart. Stable:
 * add new codes, never renumber. (2 is a usage error, set by main.ts.)
 */
export const exitCodes = {
  unexpected: 1,
  usage: 2,
  // SSH
  hostKeyUnknown: 10,
  hostKeyChanged: 11,
  hostKeyRevoked: 12,
  authFailed: 13,
  connectFailed: 14,
  sshTimeout: 15,
  sshLost: 16,
  channelRefused: 17,
  sshConfigInvalid: 18,
  // The Protect daemon
  socketMissing: 20,
  daemonNotRunning: 21,
  daemonUnreachable: 22,
  permissionDenied: 23,
  notFound: 24,
  ambiguous: 25,
  unimplemented: 26,
  deadline: 27,
  daemonLost: 28,
  daemonError: 29,
  rejected: 30,
  // devcontainer.json
  devcontainer: 40,
  cancelled: 130,
} as const;

const sshCodes: Record<SshErrorReason, number> = {
  hostKeyUnknown: exitCodes.hostKeyUnknown,
  hostKeyChanged: exitCodes.hostKeyChanged,
  hostKeyRevoked: exitCodes.hostKeyRevoked,
  authFailed: exitCodes.authFailed,
  connectFailed: exitCodes.connectFailed,
  timeout: exitCodes.sshTimeout,
  lost: exitCodes.sshLost,
  channelRefused: exitCodes.channelRefused,
  configInvalid: exitCodes.sshConfigInvalid,
  cancelled: exitCodes.cancelled,
};

/**
 * Turns anything a command throws into one clear line and an exit code. Each typed error
 * (SshError, ProtectError, DevcontainerError, …) gets a distinct code so scripts can tell
 * failures apart; the table grows with the error types. Messages quote user and host values
 * (paths, what a remote printed): their control characters are escaped, so the line stays one
 * line and cannot drive the terminal.
 */
export function describeCliError(err: unknown): { message: string; exitCode: number } {
  const { message, exitCode } = describeError(err);
  return { message: printable(message), exitCode };
}

function describeError(err: unknown): { message: string; exitCode: number } {
  if (SshError.is(err)) {
    let message = err.message;
    if (err.reason === "hostKeyUnknown" && err.details.hostKeyUnknownCause === "noWayToAsk") {
      message +=
        " Run zonectl on a terminal to confirm it, or add the key to known_hosts (e.g. connect once with ssh).";
    }
    return { message, exitCode: sshCodes[err.reason] };
  }
  if (ProtectError.is(err)) {
    return { message: err.message, exitCode: protectCode(err) };
  }
  if (DevcontainerError.is(err)) {
    return { message: err.message, exitCode: exitCodes.devcontainer };
  }
  if (err instanceof Error && err.name === "AbortError") {
    return { message: err.message, exitCode: exitCodes.cancelled };
  }
  return { message: messageOf(err), exitCode: exitCodes.unexpected };
}

function protectCode(err: ProtectError): number {
  switch (err.reason) {
    case "unreachable":
      return err.details.unreachable === "socketMissing"
        ? exitCodes.socketMissing
        : err.details.unreachable === "daemonNotRunning"
          ? exitCodes.daemonNotRunning
          : exitCodes.daemonUnreachable;
    case "permissionDenied":
      return exitCodes.permissionDenied;
    case "notFound":
      return exitCodes.notFound;
    case "ambiguous":
      return exitCodes.ambiguous;
    case "unimplemented":
      return exitCodes.unimplemented;
    case "deadline":
      return exitCodes.deadline;
    case "lost":
      return exitCodes.daemonLost;
    case "cancelled":
      return exitCodes.cancelled;
    case "invalidArgument":
    case "alreadyExists":
    case "failedPrecondition":
      return exitCodes.rejected;
    case "invalidReply":
    case "server":
      return exitCodes.daemonError;
  }
}

/** Exit codes of launch failures (stable; 3 and 40 as `zonectl plan` uses them). */
export const launchExitCodes: Record<LaunchErrorReason, number> = {
  notLaunchable: 3,
  initializeFailed: 41,
  hookFailed: 42,
  zoneFailed: 43,
  workloadFailed: 44,
  timeout: 45,
  syncFailed: 46,
  pullFailed: 47,
  device: 48,
  buildFailed: 50,
  unsafePath: 49,
  ambiguous: exitCodes.ambiguous,
  cancelled: exitCodes.cancelled,
};

/** One line and an exit code for anything a launch-related command throws. */
export function describeLaunchError(err: unknown): { message: string; exitCode: number } {
  if (LaunchError.is(err)) return { message: err.message, exitCode: launchExitCodes[err.reason] };
  return describeCliError(err);
}
