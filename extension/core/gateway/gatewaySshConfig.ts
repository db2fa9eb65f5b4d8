import { randomBytes } from "node:crypto";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { shellCommand } from "../ssh/shellQuote";
import { ensureKeyPair } from "../ssh/keyPair";
import type { KeyPairFile } from "../ssh/keyPair";

/** One zone (or workload) reachable as an ssh alias through `zonectl ssh-proxy`. */
export interface GatewayEntry {
  readonly alias: string;
  /** The host target as zonectl takes it with --host. */
  readonly host: string;
  /** ZONE or ZONE/WORKLOAD, as ssh-proxy takes it. */
  readonly zone: string;
  /** Who logs in (the devcontainer's remoteUser); absent: the workload's own user. */
  readonly user?: string;
}

const marker = "# zonectl-entry ";
const header = [
  "# Styrolite Zones: ssh aliases for zones, written by `zonectl ssh-config --write`.",
  "# Rewritten on every write: edits here are lost. Keys and known_hosts live next to this file.",
];

/**
 * The gateway's files under ~/.ssh/styrolite-zones/: `config` (the blocks, included from
 * ~/.ssh/config), `known_hosts` (each alias pinned to its gateway key) and `keys/<alias>` (the
 * gateway host keys, generated once).
 */
export class GatewaySshConfig {
  readonly directory: string;
  readonly configPath: string;
  readonly knownHostsPath: string;

  constructor(directory: string) {
    this.directory = directory;
    this.configPath = join(directory, "config");
    this.knownHostsPath = join(directory, "known_hosts");
  }

  keyPath(alias: string): string {
    return join(this.directory, "keys", alias);
  }

  /** The alias's gateway host key, generated the first time. */
  hostKey(alias: string): KeyPairFile {
    mkdirSync(join(this.directory, "keys"), { recursive: true, mode: 0o700 });
    return ensureKeyPair(this.keyPath(alias), `styrolite-zones gateway ${alias}`);
  }

  /** The ssh_config block of an entry; `zonectl` is the command that runs zonectl. */
  render(entry: GatewayEntry, zonectl: readonly string[]): string {
    const proxy = shellCommand([...zonectl, "--host", entry.host, "ssh-proxy", entry.zone]).replace(
      /%/g,
      "%%",
    );
    return [
      `${marker}${JSON.stringify({ alias: entry.alias, host: entry.host, zone: entry.zone, ...(entry.user ? { user: entry.user } : {}) })}`,
      `Host ${entry.alias}`,
      `  HostName ${entry.alias}`,
      ...(entry.user ? [`  User ${entry.user}`] : []),
      `  ProxyCommand ${proxy}`,
      `  UserKnownHostsFile ${configWord(this.knownHostsPath)}`,
      `  HostKeyAlias ${entry.alias}`,
      "  StrictHostKeyChecking yes",
      "  CheckHostIP no",
      "  ForwardAgent no",
      "  ForwardX11 no",
      "",
    ].join("\n");
  }

  /** The entries in our config file (none when it does not exist). */
  read(): GatewayEntry[] {
    let text: string;
    try {
      text = readFileSync(this.configPath, "utf8");
    } catch {
      return [];
    }
    const out: GatewayEntry[] = [];
    for (const line of text.split("\n")) {
      if (!line.startsWith(marker)) continue;
      try {
        const e = JSON.parse(line.slice(marker.length)) as Partial<GatewayEntry>;
        if (typeof e.alias === "string" && typeof e.host === "string" && typeof e.zone === "string")
          out.push({
            alias: e.alias,
            host: e.host,
            zone: e.zone,
            ...(typeof e.user === "string" ? { user: e.user } : {}),
          });
      } catch {
        // a line someone edited: the entry is dropped on the next write
      }
    }
    return out;
  }

  /**
   * Pins each entry's gateway key in our known_hosts (adding or replacing its line, keeping the
   * others). Returns the blocks, ready to print or write.
   */
  prepare(entries: readonly GatewayEntry[], zonectl: readonly string[]): string {
    mkdirSync(this.directory, { recursive: true, mode: 0o700 });
    const pinned = this.#knownHosts();
    for (const e of entries) pinned.set(e.alias, this.hostKey(e.alias).publicKey);
    this.#writeKnownHosts(pinned);
    return entries.map((e) => this.render(e, zonectl)).join("\n");
  }

  /**
   * Writes exactly `entries` to our config file; entries that were there and are not any more
   * lose their key and known_hosts line. Returns the aliases removed.
   */
  write(entries: readonly GatewayEntry[], zonectl: readonly string[]): string[] {
    const blocks = this.prepare(entries, zonectl);
    const kept = new Set(entries.map((e) => e.alias));
    const removed = this.read()
      .map((e) => e.alias)
      .filter((a) => !kept.has(a));
    atomicWrite(this.configPath, `${header.join("\n")}\n\n${blocks}`, 0o600);
    if (removed.length) {
      const pinned = this.#knownHosts();
      for (const alias of removed) {
        pinned.delete(alias);
        rmSync(this.keyPath(alias), { force: true });
        rmSync(`${this.keyPath(alias)}.pub`, { force: true });
      }
      this.#writeKnownHosts(pinned);
    }
    return removed;
  }

  /** Adds entries (replacing any with the same alias) and keeps all others. */
  add(entries: readonly GatewayEntry[], zonectl: readonly string[]): void {
    const byAlias = new Map(this.read().map((e) => [e.alias, e]));
    for (const e of entries) byAlias.set(e.alias, e);
    this.write([...byAlias.values()], zonectl);
  }

  #knownHosts(): Map<string, string> {
    const pinned = new Map<string, string>();
    try {
      for (const line of readFileSync(this.knownHostsPath, "utf8").split("\n")) {
        const [name, type, key] = line.trim().split(/\s+/);
        if (name && type && key && !name.startsWith("#")) pinned.set(name, `${type} ${key}`);
      }
    } catch {
      // none yet
    }
    return pinned;
  }

  #writeKnownHosts(pinned: Map<string, string>): void {
    const lines = [...pinned].map(([alias, key]) => `${alias} ${key}`);
    atomicWrite(this.knownHostsPath, lines.length ? `${lines.join("\n")}\n` : "", 0o600);
  }
}

/**
 * Makes ~/.ssh/config include our file: one `Include` line at the top (where it applies to
 * every host, before any `Host` block), after a backup of the file as it was. Idempotent.
 * Returns what it did.
 */
export function ensureInclude(
  userConfigPath: string,
  includedPath: string,
): { changed: false } | { changed: true; backup: string | undefined } {
  let text = "";
  const exists = existsSync(userConfigPath);
  // A config kept elsewhere and linked here (dotfile managers) is edited where it lives.
  if (exists) userConfigPath = realpathSync(userConfigPath);
  if (exists) text = readFileSync(userConfigPath, "utf8");
  const line = `Include ${configWord(includedPath)}`;
  const already = text
    .split("\n")
    .some(
      (l) =>
        /^\s*include\s/i.test(l) && l.trim().split(/\s+/).slice(1).join(" ") === configWord(includedPath),
    );
  if (already) return { changed: false };
  let backup: string | undefined;
  if (exists) {
    backup = `${userConfigPath}.zones-backup`;
    copyFileSync(userConfigPath, backup);
  }
  mkdirSync(dirname(userConfigPath), { recursive: true, mode: 0o700 });
  const note = "# Added by Styrolite Zones (zonectl ssh-config --write): ssh aliases for zones.";
  atomicWrite(userConfigPath, `${note}\n${line}\n\n${text}`, 0o600);
  return { changed: true, backup };
}

/** A path as one ssh_config word: quoted when it has spaces; `%` escaped (ssh expands tokens). */
function configWord(path: string): string {
  if (/["\n]/.test(path)) throw new Error(`cannot write the path ${JSON.stringify(path)} into an ssh config`);
  const escaped = path.replace(/%/g, "%%");
  return /\s/.test(escaped) ? `"${escaped}"` : escaped;
}

function atomicWrite(path: string, content: string, mode: number): void {
  const temp = join(dirname(path), `.${randomBytes(6).toString("hex")}.tmp`);
  writeFileSync(temp, content, { mode });
  renameSync(temp, path);
}
