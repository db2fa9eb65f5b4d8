import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { utils } from "ssh2";
import type { ParsedKey } from "ssh2";
import { ensureKeyPair, fingerprint } from "../../core/ssh/keyPair";
import { DevHostError } from "../errors";

/** The host key and the client key the embedded SSH server keeps in `<stateDir>/ssh/`. */
export interface SshKeyFiles {
  hostPrivateKey: Buffer;
  hostFingerprint: string;
  hostPublicKey: string;
  clientKeyPath: string;
  clientPublicKey: string;
}

/**
 * Loads the host key and the generated client key, creating each once (ed25519). The host key
 * must stay the same across restarts or every client's known_hosts would flag a changed key.
 */
export function ensureSshKeys(stateDir: string): SshKeyFiles {
  const dir = join(stateDir, "ssh");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const host = ensurePair(join(dir, "ssh_host_ed25519_key"), "styrolite-devhost host key");
  const client = ensurePair(join(dir, "client_ed25519_key"), "styrolite-devhost client key");
  return {
    hostPrivateKey: host.privateKey,
    hostFingerprint: fingerprint(host.publicKey),
    hostPublicKey: host.publicKey,
    clientKeyPath: join(dir, "client_ed25519_key"),
    clientPublicKey: client.publicKey,
  };
}

function ensurePair(path: string, comment: string): { privateKey: Buffer; publicKey: string } {
  try {
    return ensureKeyPair(path, comment);
  } catch (err) {
    throw new DevHostError("invalidArgument", (err as Error).message);
  }
}

/** A public key allowed to log in: its type and blob, and where it came from (for the log). */
export interface AllowedKey {
  type: string;
  blob: Buffer;
  key: ParsedKey;
  source: string;
}

const keyTypes =
  /^(ssh-(rsa|dss|ed25519)|ecdsa-sha2-nistp\d+|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)$/;

/**
 * Reads authorized_keys-format lines. A key with options (command=, from=, restrict,
 * expiry-time=, …) is refused: the embedded server honours none of them, and taking such a key
 * as an unrestricted login would give its holder more than its owner granted.
 */
export function parseAuthorizedKeys(
  text: string,
  source: string,
  onRefused: (line: number, reason: string) => void = () => undefined,
): AllowedKey[] {
  const out: AllowedKey[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (!line || line.startsWith("#")) continue;
    const tokens = line.split(/\s+/);
    const at = tokens.findIndex((t) => keyTypes.test(t));
    const type = tokens[at];
    const data = tokens[at + 1];
    if (at < 0 || !type || !data) continue;
    if (at > 0) {
      onRefused(
        i + 1,
        `it carries options (${tokens[0]!.split(/[=,]/)[0]}…), which this server does not honour`,
      );
      continue;
    }
    const parsed = utils.parseKey(`${type} ${data}`);
    if (parsed instanceof Error) continue;
    const key = firstKey(parsed);
    if (key) out.push({ type: key.type, blob: key.getPublicSSH(), key, source });
  }
  return out;
}

/** parseKey returns an array for some OpenSSH key files; the first key is the one. */
function firstKey(parsed: ParsedKey | ParsedKey[]): ParsedKey | undefined {
  return Array.isArray(parsed) ? parsed[0] : parsed;
}
