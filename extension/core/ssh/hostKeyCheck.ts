/**
 * What to do with the host key a server presents: the StrictHostKeyChecking policy as a pure
 * decision ({@link hostKeyDecision}), the errors that name the known_hosts line to look at, and
 * the ssh2 `hostVerifier` that asks the user when the policy says so.
 */
import type { Logger } from "../log";
import type { ResolvedSshConfig, StrictHostKeyChecking } from "./config";
import { SshError } from "./errors";
import type { HostKeyUnknownCause } from "./errors";
import type { HostKeyInfo, HostKeyStatus, KnownHosts } from "./knownHosts";
import { fingerprintOf, keyTypeOf } from "./knownHosts";

/** What the user is asked about a host key that is not in known_hosts. */
export interface HostKeyQuestion extends HostKeyInfo {
  /** Key types known_hosts does hold for this host (a different type was offered), usually empty. */
  readonly otherKeyTypes: readonly string[];
  /** Where the key is recorded if accepted (undefined when UserKnownHostsFile is none). */
  readonly knownHostsFile: string | undefined;
}

/** What the known_hosts lookup and the config's policy make of a presented key. */
export type HostKeyDecision =
  /** Connect; `record` adds the key to known_hosts first. */
  | { readonly action: "accept"; readonly record: boolean; readonly why: string }
  /** Refuse the connection. */
  | { readonly action: "refuse"; readonly refusal: HostKeyRefusal }
  /** Ask the user whether to trust an unknown key. */
  | { readonly action: "ask" };

export type HostKeyRefusal =
  | { readonly reason: "hostKeyRevoked" | "hostKeyChanged" }
  | { readonly reason: "hostKeyUnknown"; readonly cause: HostKeyUnknownCause };

/** The policy half of the decision: what the config says and whether anyone can be asked. */
export interface HostKeyPolicy {
  readonly strictHostKeyChecking: StrictHostKeyChecking;
  readonly batchMode: boolean;
  /** A prompt exists (the extension's dialog, a terminal); false for scripts. */
  readonly canAsk: boolean;
}

/**
 * OpenSSH's rules: a known key connects; a revoked or changed one never does, whatever the
 * policy; an unknown one is refused under `yes`, recorded under `no` and `accept-new`, and
 * otherwise (`ask`) put to the user — unless BatchMode is on or nobody can be asked.
 */
export function hostKeyDecision(status: HostKeyStatus["status"], policy: HostKeyPolicy): HostKeyDecision {
  switch (status) {
    case "known":
      return { action: "accept", record: false, why: "known" };
    case "revoked":
      return { action: "refuse", refusal: { reason: "hostKeyRevoked" } };
    case "changed":
      return { action: "refuse", refusal: { reason: "hostKeyChanged" } };
    case "unknown":
      if (policy.strictHostKeyChecking === "yes")
        return { action: "refuse", refusal: { reason: "hostKeyUnknown", cause: "strictHostKeyChecking" } };
      if (policy.strictHostKeyChecking === "no" || policy.strictHostKeyChecking === "accept-new")
        return {
          action: "accept",
          record: true,
          why: `StrictHostKeyChecking ${policy.strictHostKeyChecking}`,
        };
      if (policy.batchMode || !policy.canAsk)
        return { action: "refuse", refusal: { reason: "hostKeyUnknown", cause: "noWayToAsk" } };
      return { action: "ask" };
  }
}

const unknownWhy: Record<HostKeyUnknownCause, string> = {
  strictHostKeyChecking: "and StrictHostKeyChecking is yes",
  noWayToAsk: "and there is no way to ask whether to trust it",
  notTrusted: "and was not trusted",
};

/** The error for a refused key, naming the known_hosts line to look at. */
export function hostKeyError(
  refusal: HostKeyRefusal,
  key: string,
  khName: string,
  info: HostKeyInfo,
  status: HostKeyStatus,
): SshError {
  const presented = { host: key, fingerprint: info.fingerprint, keyType: info.keyType };
  if (refusal.reason === "hostKeyUnknown")
    return new SshError(
      "hostKeyUnknown",
      `ssh ${key}: the host key of ${khName} is not known (${info.keyType} ${info.fingerprint}) ${unknownWhy[refusal.cause]}.`,
      { ...presented, hostKeyUnknownCause: refusal.cause },
    );
  if (status.status !== "revoked" && status.status !== "changed")
    throw new Error(`a ${refusal.reason} refusal needs the known_hosts entry it is about`);
  const { entry } = status;
  const where = { knownHostsFile: entry.file, knownHostsLine: entry.line };
  if (refusal.reason === "hostKeyRevoked")
    return new SshError(
      "hostKeyRevoked",
      `ssh ${key}: the host key ${info.keyType} ${info.fingerprint} of ${khName} is marked @revoked in ${entry.file}:${entry.line}; refusing to connect.`,
      { ...presented, ...where },
    );
  const old = fingerprintOf(entry.keyBlob);
  return new SshError(
    "hostKeyChanged",
    `ssh ${key}: HOST KEY CHANGED for ${khName}: ${entry.file}:${entry.line} has ${entry.keyType} ${old}, the server presented ${info.fingerprint}. Someone could be intercepting the connection; if the host was reinstalled, remove line ${entry.line} from ${entry.file}.`,
    { ...presented, ...where, oldFingerprint: old },
  );
}

/** What the verifier needs besides the config. */
export interface HostKeyVerifierContext {
  /** "user@host:port", for messages. */
  readonly key: string;
  /** The name the key is looked up and recorded under (host, [host]:port, or HostKeyAlias). */
  readonly khName: string;
  readonly knownHosts: KnownHosts;
  readonly confirmHostKey: ((question: HostKeyQuestion) => Promise<boolean>) | undefined;
  readonly log: Logger;
  /** Paused while the user is asked: their thinking time is not the handshake's. */
  readonly timer: { waiting(on: boolean): void };
  /** Whether the handshake is already over (failed or cancelled): a late answer does nothing. */
  readonly settled: () => boolean;
  /** A refused key: the error the handshake fails with once ssh2 reports the refusal. */
  readonly onRefused: (error: SshError) => void;
}

/** The `hostVerifier` for ssh2's connect(): decides, records, refuses or asks. */
export function hostKeyVerifier(
  config: ResolvedSshConfig,
  ctx: HostKeyVerifierContext,
): (keyBlob: Buffer, verify: (ok: boolean) => void) => void {
  const { log, khName } = ctx;
  return (keyBlob, verify) => {
    const info: HostKeyInfo = {
      knownHostsName: khName,
      host: config.hostName,
      port: config.port,
      keyType: keyTypeOf(keyBlob),
      fingerprint: fingerprintOf(keyBlob),
    };
    const status = ctx.knownHosts.check(khName, keyBlob);
    const refuse = (refusal: HostKeyRefusal): void => {
      const error = hostKeyError(refusal, ctx.key, khName, info, status);
      ctx.onRefused(error);
      log.debug(error.message); // the caller reports the error itself
      verify(false);
    };
    const accept = (why: string, record: boolean): void => {
      if (record && config.userKnownHostsFiles.length) {
        try {
          const where = ctx.knownHosts.add(khName, keyBlob, config.hashKnownHosts);
          log.info(
            `${why}: added ${info.keyType} ${info.fingerprint} for ${khName} to ${where.file}:${where.line}`,
          );
        } catch (err) {
          log.warn(`could not record the host key for ${khName}: ${(err as Error).message}`);
        }
      }
      verify(true);
    };
    if (status.status === "known")
      log.debug(
        `host key ${info.keyType} ${info.fingerprint} matches ${status.entry.file}:${status.entry.line}`,
      );
    if (status.status === "unknown" && status.otherKeyTypes.length)
      log.warn(
        `known_hosts holds ${status.otherKeyTypes.join(", ")} for ${khName}, but the server offered ${info.keyType}`,
      );
    const decision = hostKeyDecision(status.status, {
      strictHostKeyChecking: config.strictHostKeyChecking,
      batchMode: config.batchMode,
      canAsk: ctx.confirmHostKey !== undefined,
    });
    if (decision.action === "accept") return accept(decision.why, decision.record);
    if (decision.action === "refuse") return refuse(decision.refusal);
    ctx.timer.waiting(true);
    void ctx.confirmHostKey!({
      ...info,
      otherKeyTypes: status.status === "unknown" ? status.otherKeyTypes : [],
      knownHostsFile: config.userKnownHostsFiles[0],
    })
      .catch(() => false)
      .then((ok) => {
        ctx.timer.waiting(false);
        if (ctx.settled()) return;
        if (ok) accept("trusted by the user", true);
        else refuse({ reason: "hostKeyUnknown", cause: "notTrusted" });
      });
  };
}
