/**
 * known_hosts, read and written the way OpenSSH does: plain host patterns (with `*`, `?`,
 * `!negation`, comma lists), `[host]:port` for non-default ports, hashed `|1|salt|hash` entries,
 * several files, `@revoked` keys refused. `@cert-authority` lines are skipped: host certificates
 * are not supported, and a log line says so.
 */
import { createHash, createHmac, randomBytes } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import type { Logger } from "../log";
import { silentLogger } from "../log";
import { wildcardMatch } from "./config";

/** One key line of a known_hosts file. */
export interface KnownHostEntry {
  readonly file: string;
  /** 1-based line number. */
  readonly line: number;
  readonly marker: "revoked" | "cert-authority" | undefined;
  /** The host field as written (patterns or a `|1|` hash). */
  readonly hosts: string;
  /** Key type embedded in the key blob (e.g. `ssh-ed25519`, `ssh-rsa`). */
  readonly keyType: string;
  readonly keyBlob: Buffer;
}

/** The outcome of looking a server's key up. */
export type HostKeyStatus =
  | { readonly status: "known"; readonly entry: KnownHostEntry }
  | { readonly status: "unknown"; readonly otherKeyTypes: readonly string[] }
  | { readonly status: "changed"; readonly entry: KnownHostEntry }
  | { readonly status: "revoked"; readonly entry: KnownHostEntry };

/** Facts about a server key, for prompts and error messages. */
export interface HostKeyInfo {
  /** The host as it appears in known_hosts lookups (`host` or `[host]:port`). */
  readonly knownHostsName: string;
  readonly host: string;
  readonly port: number;
  readonly keyType: string;
  /** `SHA256:` + unpadded base64, as `ssh-keygen -l` and ssh print it. */
  readonly fingerprint: string;
}

/** `SHA256:` + unpadded base64 of the key blob. */
export function fingerprintOf(keyBlob: Buffer): string {
  return `SHA256:${createHash("sha256").update(keyBlob).digest("base64").replace(/=+$/, "")}`;
}

/** The key type string at the start of an SSH public key blob. */
export function keyTypeOf(keyBlob: Buffer): string {
  if (keyBlob.length < 4) return "unknown";
  const len = keyBlob.readUInt32BE(0);
  if (len > 64 || 4 + len > keyBlob.length) return "unknown";
  return keyBlob.subarray(4, 4 + len).toString("latin1");
}

/** The name known_hosts records for a host: bare for port 22, `[host]:port` otherwise; a HostKeyAlias as is. */
export function knownHostsNameFor(host: string, port: number, hostKeyAlias?: string): string {
  if (hostKeyAlias) return hostKeyAlias;
  return port === 22 ? host : `[${host}]:${port}`;
}

/** Parses one known_hosts file's text. Malformed lines are skipped (OpenSSH does the same). */
export function parseKnownHosts(text: string, file: string, logger: Logger = silentLogger): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  const lines = text.split("\n");
  lines.forEach((raw, index) => {
    const line = raw.trim();
    if (!line || line.startsWith("#")) return;
    const fields = line.split(/\s+/);
    let marker: KnownHostEntry["marker"];
    if (fields[0]?.startsWith("@")) {
      const m = fields.shift();
      if (m === "@revoked") marker = "revoked";
      else if (m === "@cert-authority") marker = "cert-authority";
      else {
        logger.debug(`known_hosts ${file}:${index + 1}: unknown marker ${m}, line skipped`);
        return;
      }
    }
    const [hosts, type, b64] = fields;
    if (!hosts || !type || !b64) return;
    const keyBlob = Buffer.from(b64, "base64");
    if (!keyBlob.length) return;
    const keyType = keyTypeOf(keyBlob);
    if (keyType !== type && !(type.startsWith("ssh-rsa") && keyType === "ssh-rsa")) {
      logger.debug(`known_hosts ${file}:${index + 1}: key type ${type} does not match its key, line skipped`);
      return;
    }
    entries.push({ file, line: index + 1, marker, hosts, keyType, keyBlob });
  });
  return entries;
}

/** Whether a known_hosts host field matches a name (hashed entries by HMAC-SHA1, others as a pattern list). */
export function hostFieldMatches(hosts: string, name: string): boolean {
  if (hosts.startsWith("|1|")) {
    const [, , salt, hash] = hosts.split("|");
    if (!salt || !hash) return false;
    const computed = createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64");
    return computed === hash;
  }
  let matched = false;
  for (const raw of hosts.split(",")) {
    const negated = raw.startsWith("!");
    const pattern = (negated ? raw.slice(1) : raw).toLowerCase();
    if (wildcardMatch(pattern, name.toLowerCase())) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

/** The host field for a new line: the name itself, or its `|1|salt|hash` form. */
export function hashedHostField(name: string, salt: Buffer = randomBytes(20)): string {
  return `|1|${salt.toString("base64")}|${createHmac("sha1", salt).update(name).digest("base64")}`;
}

/** known_hosts lookups across the user's and the global files; appends go to the first user file. */
export class KnownHosts {
  readonly #logger: Logger;
  #warnedCa = new Set<string>();

  constructor(
    readonly userFiles: readonly string[],
    readonly globalFiles: readonly string[],
    logger: Logger = silentLogger,
  ) {
    this.#logger = logger;
  }

  /** Every entry whose host field matches `name`, in file order (read fresh each time). */
  entriesFor(name: string): KnownHostEntry[] {
    const out: KnownHostEntry[] = [];
    for (const file of [...this.userFiles, ...this.globalFiles]) {
      let text: string;
      try {
        text = readFileSync(file, "utf8");
      } catch {
        continue;
      }
      for (const entry of parseKnownHosts(text, file, this.#logger)) {
        if (!hostFieldMatches(entry.hosts, name)) continue;
        if (entry.marker === "cert-authority") {
          const where = `${entry.file}:${entry.line}`;
          if (!this.#warnedCa.has(where)) {
            this.#warnedCa.add(where);
            this.#logger.info(
              `known_hosts ${where}: @cert-authority entries are not supported (host certificates are not checked); line ignored`,
            );
          }
          continue;
        }
        out.push(entry);
      }
    }
    return out;
  }

  /** Checks a server key against what is recorded for `name`. */
  check(name: string, keyBlob: Buffer): HostKeyStatus {
    const entries = this.entriesFor(name);
    const keyType = keyTypeOf(keyBlob);
    const revoked = entries.find((e) => e.marker === "revoked" && e.keyBlob.equals(keyBlob));
    if (revoked) return { status: "revoked", entry: revoked };
    const plain = entries.filter((e) => e.marker === undefined);
    const match = plain.find((e) => e.keyBlob.equals(keyBlob));
    if (match) return { status: "known", entry: match };
    const sameType = plain.find((e) => e.keyType === keyType);
    if (sameType) return { status: "changed", entry: sameType };
    return { status: "unknown", otherKeyTypes: [...new Set(plain.map((e) => e.keyType))] };
  }

  /** Key types on record for `name` (used to prefer those host key algorithms, as OpenSSH does). */
  knownKeyTypes(name: string): string[] {
    return [
      ...new Set(
        this.entriesFor(name)
          .filter((e) => e.marker === undefined)
          .map((e) => e.keyType),
      ),
    ];
  }

  /**
   * Appends a line for `name` to the first user file (created with mode 0600 if missing). The host
   * is hashed when `hash` is true or when the file already holds hashed entries.
   */
  add(name: string, keyBlob: Buffer, hash: boolean): { file: string; line: number } {
    const file = this.userFiles[0];
    if (!file) throw new Error("no UserKnownHostsFile to record the host key in (UserKnownHostsFile none)");
    let existing = "";
    if (existsSync(file)) existing = readFileSync(file, "utf8");
    else mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const useHash = hash || /^\s*(@\S+\s+)?\|1\|/m.test(existing);
    const host = useHash ? hashedHostField(name) : name;
    const prefix = existing && !existing.endsWith("\n") ? "\n" : "";
    appendFileSync(file, `${prefix}${host} ${keyTypeOf(keyBlob)} ${keyBlob.toString("base64")}\n`, {
      mode: 0o600,
    });
    return { file, line: (existing + prefix).split("\n").length };
  }
}

/** Host key algorithms ssh2 can verify, in its default preference order. */
const hostKeyAlgorithms = [
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "rsa-sha2-512",
  "rsa-sha2-256",
  "ssh-rsa",
];

/**
 * Host key algorithms ordered so that key types already recorded come first: the server then
 * presents the key we know instead of another type we would have to ask about (OpenSSH's
 * order_hostkeyalgs does the same).
 */
export function preferredHostKeyAlgorithms(knownTypes: readonly string[]): string[] {
  const known = new Set(
    knownTypes.flatMap((t) => (t === "ssh-rsa" ? ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] : [t])),
  );
  return [
    ...hostKeyAlgorithms.filter((a) => known.has(a)),
    ...hostKeyAlgorithms.filter((a) => !known.has(a)),
  ];
}
