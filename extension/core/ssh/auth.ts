/**
 * Client authentication in OpenSSH's order: the agent first (SSH_AUTH_SOCK or IdentityAgent),
 * then identity files (encrypted ones ask for a passphrase, up to three tries), then
 * keyboard-interactive and password through callbacks. Nothing secret is ever logged: log lines
 * name key files and methods, never passphrases, passwords or answers.
 */
import { existsSync, readFileSync } from "node:fs";
import type {
  AnyAuthMethod,
  AuthHandlerMiddleware,
  AuthenticationType,
  IdentityCallback,
  KeyboardInteractiveCallback,
  ParsedKey,
  Prompt,
} from "ssh2";
import { OpenSSHAgent, utils } from "ssh2";
import type { Logger } from "../log";
import type { ResolvedSshConfig } from "./config";

/** Asked for an encrypted key's passphrase. */
export interface PassphraseRequest {
  readonly keyFile: string;
  /** 1 on the first ask, 2 and 3 after a wrong passphrase. */
  readonly attempt: number;
  /** `user@host:port`, for the prompt text. */
  readonly target: string;
}

/** Asked for a password. */
export interface PasswordRequest {
  readonly user: string;
  readonly target: string;
  readonly attempt: number;
}

/** A keyboard-interactive round from the server. */
export interface KeyboardInteractiveRequest {
  readonly target: string;
  readonly name: string;
  readonly instructions: string;
  readonly prompts: readonly { readonly prompt: string; readonly echo: boolean }[];
}

/** The user-facing questions authentication may ask; any left out is simply not tried. */
export interface AuthCallbacks {
  /** Resolve undefined to skip this key. */
  passphrase?(request: PassphraseRequest): Promise<string | undefined>;
  /** Resolve undefined to stop trying passwords. */
  password?(request: PasswordRequest): Promise<string | undefined>;
  /** One answer per prompt; undefined to give up on this method. */
  keyboardInteractive?(request: KeyboardInteractiveRequest): Promise<string[] | undefined>;
}

/** Maximum tries for a passphrase and for a password, as OpenSSH's NumberOfPasswordPrompts. */
const maxTries = 3;

/** Reports when the handler waits on the user, so the handshake timeout can pause meanwhile. */
export interface UserWaitTracker {
  waiting(on: boolean): void;
}

/** One authentication attempt to offer, made when ssh2 gets to it (so prompts come in order). */
interface AuthStep {
  readonly method: AuthenticationType;
  make(): Promise<AnyAuthMethod | undefined>;
}

/** What every step builder needs. */
interface AuthContext {
  readonly config: ResolvedSshConfig;
  readonly callbacks: AuthCallbacks;
  readonly logger: Logger;
  /** "user@host:port", for messages. */
  readonly target: string;
  /** Asks the user something, pausing the handshake timeout meanwhile. */
  readonly ask: <T>(fn: () => Promise<T>) => Promise<T>;
}

/**
 * Builds the ssh2 authHandler for a host: the agent, then each identity file, then
 * keyboard-interactive and password (as OpenSSH orders them), each offered only while the
 * server still accepts its method.
 */
export function createAuthHandler(
  config: ResolvedSshConfig,
  callbacks: AuthCallbacks,
  logger: Logger,
  tracker: UserWaitTracker,
): AuthHandlerMiddleware {
  const target = `${config.user}@${config.hostName}:${config.port}`;
  const ctx: AuthContext = {
    config,
    callbacks,
    logger,
    target,
    ask: async (fn) => {
      tracker.waiting(true);
      try {
        return await fn();
      } finally {
        tracker.waiting(false);
      }
    },
  };
  const steps = [
    ...agentSteps(ctx),
    ...identityFileSteps(ctx),
    ...keyboardInteractiveSteps(ctx),
    ...passwordSteps(ctx),
  ];
  let index = 0;
  return (methodsLeft, _partialSuccess, next) => {
    const allowed = (method: AuthenticationType): boolean => !methodsLeft || methodsLeft.includes(method);
    const advance = async (): Promise<AnyAuthMethod | false> => {
      while (index < steps.length) {
        const step = steps[index++]!;
        if (!allowed(step.method)) continue;
        try {
          const attempt = await step.make();
          if (attempt) return attempt;
        } catch (err) {
          logger.debug(`ssh ${target}: an authentication step failed locally: ${(err as Error).message}`);
        }
      }
      return false;
    };
    void advance().then((attempt) => next(attempt as AnyAuthMethod)); // false tells ssh2 that nothing is left
  };
}

function agentSteps({ config, logger, target }: AuthContext): AuthStep[] {
  if (!config.pubkeyAuthentication || !config.identityAgent) return [];
  const socket = config.identityAgent;
  return [
    {
      method: "publickey",
      make: async () => {
        if (!existsSync(socket)) {
          logger.debug(`ssh ${target}: agent socket ${socket} does not exist; agent skipped`);
          return undefined;
        }
        logger.debug(
          `ssh ${target}: trying keys from the agent at ${socket}${config.identitiesOnly ? " (IdentitiesOnly: only those named by IdentityFile)" : ""}`,
        );
        const agent = config.identitiesOnly
          ? filteredAgent(socket, publicBlobsOf(config.identityFiles))
          : socket;
        return { type: "agent", username: config.user, agent };
      },
    },
  ];
}

function identityFileSteps({ config, callbacks, logger, target, ask }: AuthContext): AuthStep[] {
  if (!config.pubkeyAuthentication) return [];
  return config.identityFiles.map((file) => ({
    method: "publickey",
    make: async () => {
      let text: string;
      try {
        text = readFileSync(file, "utf8");
      } catch {
        if (config.identityFilesExplicit)
          logger.debug(`ssh ${target}: identity file ${file} not found; skipped`);
        return undefined;
      }
      const key = await loadKey(file, text, target, callbacks, logger, ask);
      if (!key) return undefined;
      logger.debug(`ssh ${target}: trying identity file ${file}`);
      return { type: "publickey", username: config.user, key };
    },
  }));
}

function keyboardInteractiveSteps({ config, callbacks, logger, target, ask }: AuthContext): AuthStep[] {
  if (!config.kbdInteractiveAuthentication || !callbacks.keyboardInteractive || config.batchMode) return [];
  const answer = callbacks.keyboardInteractive.bind(callbacks);
  const step = (): AuthStep => ({
    method: "keyboard-interactive",
    make: async () => {
      logger.debug(`ssh ${target}: trying keyboard-interactive`);
      let gaveUp = false;
      return {
        type: "keyboard-interactive",
        username: config.user,
        prompt: (
          name: string,
          instructions: string,
          _lang: string,
          prompts: Prompt[],
          finish: KeyboardInteractiveCallback,
        ) => {
          if (gaveUp) return finish([]);
          void ask(() =>
            answer({
              target,
              name,
              instructions,
              prompts: prompts.map((p) => ({ prompt: p.prompt, echo: p.echo ?? false })),
            }),
          ).then(
            (answers) => {
              if (answers === undefined) gaveUp = true;
              finish(answers ?? []);
            },
            () => finish([]), // a failing prompt UI counts as no answer; the server then fails this method
          );
        },
      };
    },
  });
  return Array.from({ length: maxTries }, step);
}

function passwordSteps({ config, callbacks, logger, target, ask }: AuthContext): AuthStep[] {
  if (!config.passwordAuthentication || !callbacks.password || config.batchMode) return [];
  const askPassword = callbacks.password.bind(callbacks);
  let stopped = false;
  return Array.from({ length: maxTries }, (_, i): AuthStep => {
    const attempt = i + 1;
    return {
      method: "password",
      make: async () => {
        if (stopped) return undefined;
        const password = await ask(() => askPassword({ user: config.user, target, attempt }));
        if (password === undefined) {
          stopped = true;
          return undefined;
        }
        logger.debug(`ssh ${target}: trying a password (attempt ${attempt})`);
        return { type: "password", username: config.user, password };
      },
    };
  });
}

/** Parses a private key, asking for its passphrase when encrypted. Undefined: skip the key. */
async function loadKey(
  file: string,
  text: string,
  target: string,
  callbacks: AuthCallbacks,
  logger: Logger,
  ask: <T>(fn: () => Promise<T>) => Promise<T>,
): Promise<ParsedKey | undefined> {
  if (!isEncryptedKey(text)) {
    const key = utils.parseKey(text);
    if (key instanceof Error) {
      logger.info(`ssh ${target}: identity file ${file} cannot be parsed (${key.message}); skipped`);
      return undefined;
    }
    return key;
  }
  if (!callbacks.passphrase) {
    logger.info(
      `ssh ${target}: identity file ${file} is encrypted and no passphrase prompt is available; skipped`,
    );
    return undefined;
  }
  const askPassphrase = callbacks.passphrase.bind(callbacks);
  for (let attempt = 1; attempt <= maxTries; attempt++) {
    const passphrase = await ask(() => askPassphrase({ keyFile: file, attempt, target }));
    if (passphrase === undefined) return undefined;
    const key = utils.parseKey(text, passphrase);
    if (!(key instanceof Error)) return key;
    logger.info(`ssh ${target}: wrong passphrase for ${file} (attempt ${attempt} of ${maxTries})`);
  }
  logger.info(`ssh ${target}: identity file ${file} skipped after ${maxTries} wrong passphrases`);
  return undefined;
}

/** Whether a private key file is passphrase-protected (OpenSSH format or PEM). */
export function isEncryptedKey(text: string): boolean {
  if (/^Proc-Type:\s*4,ENCRYPTED/m.test(text) || text.includes("-----BEGIN ENCRYPTED PRIVATE KEY-----"))
    return true;
  if (/^Encryption:\s*(?!none)\S+/m.test(text)) return true; // PuTTY .ppk
  const m = /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END OPENSSH PRIVATE KEY-----/.exec(text);
  if (!m) return false;
  const data = Buffer.from(m[1]!.replace(/\s+/g, ""), "base64");
  const magic = "openssh-key-v1\0";
  if (data.subarray(0, magic.length).toString("latin1") !== magic) return false;
  const len = data.readUInt32BE(magic.length);
  const cipher = data.subarray(magic.length + 4, magic.length + 4 + len).toString("latin1");
  return cipher !== "none";
}

/** Public key blobs of identity files, from `<file>.pub` or an unencrypted private key. */
function publicBlobsOf(files: readonly string[]): Buffer[] {
  const out: Buffer[] = [];
  for (const file of files) {
    for (const candidate of [`${file}.pub`, file]) {
      let text: string;
      try {
        text = readFileSync(candidate, "utf8");
      } catch {
        continue;
      }
      if (candidate === file && isEncryptedKey(text)) continue;
      const key = utils.parseKey(text);
      if (key instanceof Error) continue;
      out.push(key.getPublicSSH());
      break;
    }
  }
  return out;
}

/**
 * An agent that offers only the keys named by IdentityFile (IdentitiesOnly yes). An instance
 * with its own getIdentities rather than a subclass: a class extending ssh2's would need ssh2
 * loaded whenever this module is, and the bundles load ssh2 only once an SSH host is dialled.
 */
function filteredAgent(socketPath: string, allowed: readonly Buffer[]): OpenSSHAgent {
  const agent = new OpenSSHAgent(socketPath);
  const all = agent.getIdentities.bind(agent);
  agent.getIdentities = (cb: IdentityCallback<ParsedKey>): void => {
    all((err, keys) => {
      if (err) return cb(err);
      // OpenSSHAgent answers with parsed keys; anything else cannot be compared and is dropped.
      const parsed = (keys ?? []).filter(
        (k): k is ParsedKey => typeof (k as Partial<ParsedKey>).getPublicSSH === "function",
      );
      cb(
        undefined,
        parsed.filter((k) => allowed.some((b) => b.equals(k.getPublicSSH()))),
      );
    });
  };
  return agent;
}
