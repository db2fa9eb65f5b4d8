import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { utils } from "ssh2";
import type { ParsedKey } from "ssh2";

/** A key pair kept in a file (OpenSSH format) and its `.pub` next to it. */
export interface KeyPairFile {
  readonly privateKey: Buffer;
  /** `ssh-ed25519 AAAA…` (no comment). */
  readonly publicKey: string;
}

/**
 * A new ed25519 key pair in OpenSSH format that ssh2 itself can read back. ssh2's generator
 * strips leading zero bytes from the 32-byte public key, so about one pair in 256 comes out
 * malformed (an ssh2 bug, open upstream); such a pair is thrown away and another made.
 */
export function generateEd25519KeyPair(comment?: string): { private: string; public: string } {
  for (;;) {
    const pair = utils.generateKeyPairSync("ed25519", comment !== undefined ? { comment } : {});
    if (!(utils.parseKey(pair.private) instanceof Error) && !(utils.parseKey(pair.public) instanceof Error))
      return pair;
  }
}

/**
 * Loads the ed25519 key pair at `path`, generating it the first time. Server keys must stay
 * the same across runs, or every client's known_hosts would flag a changed key.
 */
export function ensureKeyPair(path: string, comment: string): KeyPairFile {
  if (!existsSync(path)) {
    const pair = generateEd25519KeyPair(comment);
    // "wx": two processes racing to create the key keep the first one.
    try {
      writeFileSync(path, pair.private, { mode: 0o600, flag: "wx" });
      writeFileSync(`${path}.pub`, `${pair.public}\n`, { mode: 0o644 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
  const privateKey = readFileSync(path);
  const parsed = utils.parseKey(privateKey);
  const key: ParsedKey | undefined =
    parsed instanceof Error
      ? undefined
      : Array.isArray(parsed)
        ? (parsed[0] as ParsedKey | undefined)
        : parsed;
  if (!key)
    throw new Error(`cannot read the key ${path}${parsed instanceof Error ? `: ${parsed.message}` : ""}`);
  return { privateKey, publicKey: `${key.type} ${key.getPublicSSH().toString("base64")}` };
}

/** OpenSSH's fingerprint of a public key line: SHA256 of the key blob, unpadded base64. */
export function fingerprint(publicKeyLine: string): string {
  const blob = Buffer.from(publicKeyLine.trim().split(/\s+/)[1] ?? "", "base64");
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}
