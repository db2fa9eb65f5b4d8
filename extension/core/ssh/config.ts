/**
 * ssh_config resolution the way OpenSSH does it. The `ssh-config` package parses the text
 * (quoting, `=` separators, Host/Match sections, Match criteria); evaluation is ours because
 * the package neither follows `Include` nor knows that an Include inside a Host block is
 * conditional on it, and its `compute()` runs `Match exec` commands through a shell.
 *
 * Semantics kept from OpenSSH's readconf.c: the first value of a keyword wins (IdentityFile and
 * the forwarding keywords accumulate); `Host` patterns match the name typed on the command line,
 * with `*`, `?` and `!negation`, case-insensitively; `Include` takes globs, relative paths are
 * relative to ~/.ssh (user file) or /etc/ssh (system file), may appear anywhere, nests up to 16
 * deep, and an Include inside a non-matching block contributes nothing; a command-line user or
 * port beats the config. With an explicit config file (like `ssh -F`) the system file is skipped.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { homedir as osHomedir, hostname as osHostname, userInfo } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import { parse } from "ssh-config";
import type { Line } from "ssh-config";
import type { Logger } from "../log";
import { silentLogger } from "../log";
import type { SshDestination } from "./destination";
import { parseDestination } from "./destination";
import { SshError } from "./errors";

/** Where to read configuration from; every field defaults to what OpenSSH would use. */
export interface SshConfigOptions {
  /** The user config file. Default ~/.ssh/config. Giving one skips the system file, like `ssh -F`. */
  readonly configFile?: string;
  /** The system-wide file, read after the user file. Default /etc/ssh/ssh_config; null: none. */
  readonly systemConfigFile?: string | null;
  /** Home directory for `~` and `%d`. Default os.homedir(). */
  readonly homedir?: string;
  /** Local user name for `%u` and `Match localuser`. Default the process's user. */
  readonly localUser?: string;
  /** Environment for `${VAR}` and SSH_AUTH_SOCK. Default process.env. */
  readonly env?: NodeJS.ProcessEnv;
  readonly logger?: Logger;
}

/** `StrictHostKeyChecking`, normalised (`off` is `no`). */
export type StrictHostKeyChecking = "yes" | "no" | "ask" | "accept-new";

/** Everything the connection needs to know about one host, after config evaluation. */
export interface ResolvedSshConfig {
  /** The name the config was evaluated for (alias or host as typed). */
  readonly alias: string;
  readonly hostName: string;
  readonly port: number;
  readonly user: string;
  /** Identity files in the order to try, `~` and `%` tokens expanded. */
  readonly identityFiles: readonly string[];
  /** False when identityFiles are OpenSSH's defaults (missing ones are skipped silently). */
  readonly identityFilesExplicit: boolean;
  readonly identitiesOnly: boolean;
  /** The agent socket to use, or undefined for no agent. */
  readonly identityAgent: string | undefined;
  /** Jump hosts, first hop first. */
  readonly proxyJump: readonly SshDestination[];
  /** The config's ProxyCommand, as written (tokens unexpanded); unset when ProxyJump came first or it is `none`. */
  readonly proxyCommand: string | undefined;
  readonly connectTimeoutMs: number | undefined;
  /** 0 disables keepalive. */
  readonly serverAliveIntervalMs: number;
  readonly serverAliveCountMax: number;
  readonly userKnownHostsFiles: readonly string[];
  readonly globalKnownHostsFiles: readonly string[];
  readonly strictHostKeyChecking: StrictHostKeyChecking;
  readonly hashKnownHosts: boolean;
  /** The name to look up in known_hosts instead of the host name. */
  readonly hostKeyAlias: string | undefined;
  /** BatchMode: never ask the user anything. */
  readonly batchMode: boolean;
  readonly pubkeyAuthentication: boolean;
  readonly passwordAuthentication: boolean;
  readonly kbdInteractiveAuthentication: boolean;
  /** Config files that were read, in order (for messages). */
  readonly files: readonly string[];
}

/** OpenSSH's default ServerAliveInterval is 0 (off); a dead link must be noticed, so ours is 15 s. */
export const defaultServerAliveIntervalSeconds = 15;
export const defaultServerAliveCountMax = 3;

const repeatable = new Set([
  "identityfile",
  "certificatefile",
  "localforward",
  "remoteforward",
  "dynamicforward",
]);
const maxIncludeDepth = 16;

/** Evaluates the ssh config for a destination. Throws SshError `configInvalid` for unusable config. */
export function resolveSshConfig(
  destination: SshDestination,
  options: SshConfigOptions = {},
): ResolvedSshConfig {
  const env = options.env ?? process.env;
  const home = options.homedir ?? osHomedir();
  const localUser = options.localUser ?? safeLocalUser();
  const reading = new ConfigReading(destination, home, env, localUser, options.logger ?? silentLogger);
  const explicitFile = options.configFile !== undefined;
  const userFile =
    options.configFile !== undefined ? expandTilde(options.configFile, home) : join(home, ".ssh", "config");
  const systemFile = explicitFile
    ? null
    : options.systemConfigFile === undefined
      ? "/etc/ssh/ssh_config"
      : options.systemConfigFile;
  const userFileExists = existsSync(userFile);
  if (explicitFile && !userFileExists) {
    throw new SshError("configInvalid", `ssh config file ${userFile} does not exist.`);
  }
  if (userFileExists) reading.readFile(userFile, join(home, ".ssh"), true, 0, explicitFile);
  if (systemFile && existsSync(systemFile)) reading.readFile(systemFile, dirname(systemFile), true, 0, false);
  return interpretConfig(reading, home, env, localUser);
}

/** The keyword values that apply to one destination, gathered the way OpenSSH reads its files. */
class ConfigReading {
  readonly values = new Map<string, string[]>();
  readonly files: string[] = [];
  /** What Host and Match lines are matched against; HostName and User update it as they are read. */
  readonly match: { host: string; hostName: string; user: string | undefined; localUser: string };

  constructor(
    readonly destination: SshDestination,
    readonly home: string,
    readonly env: NodeJS.ProcessEnv,
    localUser: string,
    readonly log: Logger,
  ) {
    this.match = { host: destination.host, hostName: destination.host, user: destination.user, localUser };
    // Command-line values come first, so they win over the config.
    if (destination.user !== undefined) this.values.set("user", [destination.user]);
    if (destination.port !== undefined) this.values.set("port", [String(destination.port)]);
  }

  first(key: string): string | undefined {
    return this.values.get(key)?.[0];
  }

  yes(key: string, fallback: boolean): boolean {
    const v = this.first(key)?.toLowerCase();
    if (v === undefined) return fallback;
    return v === "yes" || v === "true";
  }

  /** A whole number (of seconds, or a count); `none` or unset gives the fallback. */
  seconds(key: string, fallback: number | undefined): number | undefined {
    const v = this.first(key);
    if (v === undefined || v.toLowerCase() === "none") return fallback;
    if (!/^\d+$/.test(v))
      throw new SshError("configInvalid", `ssh config: ${key} '${v}' is not a number of seconds.`);
    return Number(v);
  }

  readFile(path: string, includeBase: string, active: boolean, depth: number, required: boolean): void {
    if (depth > maxIncludeDepth) {
      throw new SshError(
        "configInvalid",
        `ssh config: Include nested more than ${maxIncludeDepth} deep at ${path} (a loop?).`,
      );
    }
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      if (required)
        throw new SshError(
          "configInvalid",
          `ssh config file ${path} cannot be read: ${(err as Error).message}`,
          {},
          { cause: err },
        );
      return;
    }
    let lines: Line[];
    try {
      lines = parse(text);
    } catch (err) {
      throw new SshError(
        "configInvalid",
        `ssh config file ${path} cannot be parsed: ${(err as Error).message}`,
        {},
        { cause: err },
      );
    }
    this.files.push(path);
    this.#walk(lines, path, includeBase, active, depth);
  }

  #walk(
    lines: readonly Line[],
    file: string,
    includeBase: string,
    outerActive: boolean,
    depth: number,
  ): void {
    // `active` changes at each Host/Match line of this file and is restored when the file ends:
    // that is what makes an Include inside a Host block conditional on it.
    let active = outerActive;
    for (const line of lines) {
      if (line.type !== 1) continue;
      const key = line.param.toLowerCase();
      const tokens = tokensOf(line.value);
      if (key === "host" && "config" in line) {
        active = outerActive && matchHost(tokens, this.match.host);
        this.#walk(line.config, file, includeBase, active, depth);
        active = outerActive;
      } else if (key === "match" && "config" in line) {
        active = outerActive && matchCriteria(tokens, this.match, file, this.log);
        this.#walk(line.config, file, includeBase, active, depth);
        active = outerActive;
      } else if (key === "include") {
        if (!active) continue; // an inactive block's Include contributes nothing (SSHCONF_NEVERMATCH)
        for (const pattern of tokens) {
          const matches = includedFiles(pattern, includeBase, this.home, this.env);
          if (!matches.length) this.log.debug(`ssh config: Include ${pattern} in ${file} matched no file`);
          for (const path of matches) this.readFile(path, includeBase, active, depth + 1, false);
        }
      } else if (active) {
        this.#set(key, tokens);
      }
    }
  }

  #set(key: string, tokens: string[]): void {
    if (repeatable.has(key)) {
      this.values.set(key, [...(this.values.get(key) ?? []), ...tokens]);
    } else if (!this.values.has(key)) {
      this.values.set(key, tokens);
      if (key === "hostname" && tokens[0])
        this.match.hostName = expandHostName(tokens[0], this.destination.host);
      if (key === "user" && tokens[0] && this.match.user === undefined) this.match.user = tokens[0];
    }
  }
}

/** What the gathered values mean, with OpenSSH's defaults for what is not set. */
function interpretConfig(
  reading: ConfigReading,
  home: string,
  env: NodeJS.ProcessEnv,
  localUser: string,
): ResolvedSshConfig {
  const { destination, values } = reading;
  const hostName = reading.match.hostName;
  const user = reading.first("user") ?? localUser;
  const portText = reading.first("port") ?? "22";
  if (!/^\d+$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
    throw new SshError(
      "configInvalid",
      `ssh config: Port '${portText}' for ${destination.host} is not a port number.`,
    );
  }
  const port = Number(portText);
  const hostKeyAlias = reading.first("hostkeyalias");
  const proxyJumpText = values.get("proxyjump")?.join(" ");
  const tokens = percentTokens({
    home,
    hostName,
    port,
    user,
    localUser,
    hostKeyAlias,
    proxyJumpText,
    destination,
  });
  const expandPath = (value: string, what: string): string => {
    const out = expandEnv(expandTokens(expandTilde(value, home), tokens, what), env);
    return isAbsolute(out) ? out : join(home, out);
  };
  const configuredIdentities = values.get("identityfile") ?? [];
  const connectTimeout = reading.seconds("connecttimeout", undefined);
  const aliveInterval =
    reading.seconds("serveraliveinterval", defaultServerAliveIntervalSeconds) ??
    defaultServerAliveIntervalSeconds;
  const knownHostsList = (key: string, defaults: string[]): string[] => {
    const list = values.get(key);
    if (!list?.length) return defaults;
    if (list.length === 1 && list[0]!.toLowerCase() === "none") return [];
    return list.map((f) =>
      expandPath(f, key === "userknownhostsfile" ? "UserKnownHostsFile" : "GlobalKnownHostsFile"),
    );
  };
  return {
    alias: destination.host,
    hostName,
    port,
    user,
    identityFiles: configuredIdentities.length
      ? configuredIdentities
          .filter((f) => f.toLowerCase() !== "none")
          .map((f) => expandPath(f, "IdentityFile"))
      : defaultIdentityFiles.map((f) => join(home, ".ssh", f)),
    identityFilesExplicit: configuredIdentities.length > 0,
    identitiesOnly: reading.yes("identitiesonly", false),
    identityAgent: identityAgentOf(reading.first("identityagent"), env, expandPath),
    ...proxyOf(values, proxyJumpText, destination),
    connectTimeoutMs: connectTimeout === undefined ? undefined : connectTimeout * 1000,
    serverAliveIntervalMs: aliveInterval * 1000,
    serverAliveCountMax:
      reading.seconds("serveralivecountmax", defaultServerAliveCountMax) ?? defaultServerAliveCountMax,
    userKnownHostsFiles: knownHostsList("userknownhostsfile", [
      join(home, ".ssh", "known_hosts"),
      join(home, ".ssh", "known_hosts2"),
    ]),
    globalKnownHostsFiles: knownHostsList("globalknownhostsfile", [
      "/etc/ssh/ssh_known_hosts",
      "/etc/ssh/ssh_known_hosts2",
    ]),
    strictHostKeyChecking: strictHostKeyCheckingOf(reading.first("stricthostkeychecking")),
    hashKnownHosts: reading.yes("hashknownhosts", false),
    hostKeyAlias,
    batchMode: reading.yes("batchmode", false),
    pubkeyAuthentication: reading.yes("pubkeyauthentication", true),
    passwordAuthentication: reading.yes("passwordauthentication", true),
    kbdInteractiveAuthentication: reading.yes(
      "kbdinteractiveauthentication",
      reading.yes("challengeresponseauthentication", true),
    ),
    files: reading.files,
  };
}

/** OpenSSH's identity files, tried in this order when the config names none. */
const defaultIdentityFiles = [
  "id_rsa",
  "id_ecdsa",
  "id_ecdsa_sk",
  "id_ed25519",
  "id_ed25519_sk",
  "id_xmss",
  "id_dsa",
];

/** The `%` tokens of paths in the config (ssh_config TOKENS). */
function percentTokens(c: {
  home: string;
  hostName: string;
  port: number;
  user: string;
  localUser: string;
  hostKeyAlias: string | undefined;
  proxyJumpText: string | undefined;
  destination: SshDestination;
}): Record<string, string> {
  const tokens: Record<string, string> = {
    "%": "%",
    d: c.home,
    h: c.hostName,
    i: String(safeUid()),
    k: c.hostKeyAlias ?? c.destination.host,
    L: osHostname().split(".")[0] ?? "",
    l: osHostname(),
    n: c.destination.host,
    p: String(c.port),
    r: c.user,
    u: c.localUser,
    j: c.proxyJumpText && c.proxyJumpText !== "none" ? c.proxyJumpText : "",
  };
  tokens["C"] = createHash("sha1")
    .update(`${tokens["l"]}${c.hostName}${c.port}${c.user}${tokens["j"]}`)
    .digest("hex");
  return tokens;
}

/** The agent socket IdentityAgent names (SSH_AUTH_SOCK by default, `none` for no agent). */
function identityAgentOf(
  setting: string | undefined,
  env: NodeJS.ProcessEnv,
  expandPath: (value: string, what: string) => string,
): string | undefined {
  if (setting === undefined || setting === "SSH_AUTH_SOCK") return env["SSH_AUTH_SOCK"] || undefined;
  if (setting.toLowerCase() === "none") return undefined;
  if (/^\$[A-Za-z_][A-Za-z0-9_]*$/.test(setting)) return env[setting.slice(1)] || undefined;
  return expandPath(setting, "IdentityAgent");
}

/** ProxyJump or ProxyCommand: whichever was set first wins, as in OpenSSH. */
function proxyOf(
  values: ReadonlyMap<string, string[]>,
  proxyJumpText: string | undefined,
  destination: SshDestination,
): { proxyJump: SshDestination[]; proxyCommand: string | undefined } {
  const order = [...values.keys()];
  const jumpFirst =
    order.indexOf("proxyjump") >= 0 &&
    (order.indexOf("proxycommand") < 0 || order.indexOf("proxyjump") < order.indexOf("proxycommand"));
  if (jumpFirst && proxyJumpText && proxyJumpText.toLowerCase() !== "none") {
    const proxyJump = proxyJumpText.split(",").map((hop) => {
      try {
        return parseDestination(hop.trim());
      } catch (err) {
        throw new SshError(
          "configInvalid",
          `ssh config: ProxyJump '${proxyJumpText}' for ${destination.host}: ${(err as Error).message}`,
          {},
          { cause: err },
        );
      }
    });
    return { proxyJump, proxyCommand: undefined };
  }
  const pc = jumpFirst ? undefined : values.get("proxycommand")?.join(" ");
  return { proxyJump: [], proxyCommand: pc && pc.toLowerCase() !== "none" ? pc : undefined };
}

/** StrictHostKeyChecking as written: yes/true, no/off/false, accept-new, anything else is ask. */
function strictHostKeyCheckingOf(text: string | undefined): StrictHostKeyChecking {
  const t = (text ?? "ask").toLowerCase();
  if (t === "yes" || t === "true") return "yes";
  if (t === "no" || t === "off" || t === "false") return "no";
  return t === "accept-new" ? "accept-new" : "ask";
}

/**
 * OpenSSH pattern-list matching: comma- or space-separated patterns with `*` and `?`; a matching
 * `!pattern` vetoes the whole list. Case-insensitive, as host names are.
 */
export function matchPatternList(patterns: readonly string[], text: string): boolean {
  let matched = false;
  for (const raw of patterns.flatMap((p) => p.split(","))) {
    if (!raw) continue;
    const negated = raw.startsWith("!");
    const pattern = negated ? raw.slice(1) : raw;
    if (wildcardMatch(pattern.toLowerCase(), text.toLowerCase())) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

function matchHost(patterns: readonly string[], host: string): boolean {
  return matchPatternList(patterns, host);
}

/** `*` any run, `?` exactly one character. */
export function wildcardMatch(pattern: string, text: string): boolean {
  let re = "^";
  for (const ch of pattern) {
    if (ch === "*") re += ".*";
    else if (ch === "?") re += ".";
    else re += ch.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`${re}$`, "s").test(text);
}

function matchCriteria(
  tokens: readonly string[],
  ctx: { host: string; hostName: string; user: string | undefined; localUser: string },
  file: string,
  log: Logger,
): boolean {
  for (let i = 0; i < tokens.length; i++) {
    const raw = tokens[i]!;
    const negated = raw.startsWith("!");
    const criterion = (negated ? raw.slice(1) : raw).toLowerCase();
    if (criterion === "all") continue;
    const arg = tokens[++i];
    let result: boolean;
    switch (criterion) {
      case "host":
        result = matchPatternList([arg ?? ""], ctx.hostName);
        break;
      case "originalhost":
        result = matchPatternList([arg ?? ""], ctx.host);
        break;
      case "user":
        result = matchPatternList([arg ?? ""], ctx.user ?? ctx.localUser);
        break;
      case "localuser":
        result = matchPatternList([arg ?? ""], ctx.localUser);
        break;
      case "canonical":
      case "final":
        // No hostname canonicalisation here: one pass, which OpenSSH's final pass equals then.
        i--;
        result = criterion === "final";
        break;
      default:
        // `exec` would run a shell command from the config; tagged/localnetwork need state we
        // do not have. Treat as not matching, and say so.
        log.info(`ssh config ${file}: 'Match ${criterion}' is not supported here; the block is skipped`);
        result = false;
    }
    if (result === negated) return false;
  }
  return true;
}

/**
 * Host aliases a user has written, for "Add Host…": every `Host` pattern without wildcards or
 * negation, in file order without duplicates. Every Include is followed, whichever block it
 * sits in (any alias may be picked), relative to ~/.ssh. Files that cannot be read or parsed,
 * and Includes naming unset variables, contribute nothing.
 */
export function sshConfigAliases(
  configFile?: string,
  home: string = osHomedir(),
  env: NodeJS.ProcessEnv = process.env,
): string[] {
  const seen = new Set<string>();
  const base = join(home, ".ssh");
  const visit = (path: string, depth: number): void => {
    if (depth > maxIncludeDepth) return;
    let lines: Line[];
    try {
      lines = parse(readFileSync(path, "utf8"));
    } catch {
      return;
    }
    const walk = (block: readonly Line[]): void => {
      for (const line of block) {
        if (line.type !== 1) continue;
        const key = line.param.toLowerCase();
        const tokens = tokensOf(line.value);
        if (key === "host") {
          for (const pattern of tokens) if (!/[*?!]/.test(pattern)) seen.add(pattern);
        } else if (key === "include") {
          for (const pattern of tokens) {
            let files: string[] = [];
            try {
              files = includedFiles(pattern, base, home, env);
            } catch {
              // an unset ${VAR}: this Include names nothing
            }
            for (const file of files) visit(file, depth + 1);
          }
        }
        if ("config" in line) walk(line.config);
      }
    };
    walk(lines);
  };
  visit(configFile ?? join(base, "config"), 0);
  return [...seen];
}

/** The files one Include argument names: `~` and `${VAR}` expanded, relative to `base`, globbed. */
function includedFiles(pattern: string, base: string, home: string, env: NodeJS.ProcessEnv): string[] {
  const expanded = expandEnv(expandTilde(pattern, home), env);
  return expandGlob(isAbsolute(expanded) ? expanded : join(base, expanded));
}

function tokensOf(value: string | { val: string }[]): string[] {
  if (typeof value === "string") return value === "" ? [] : [value];
  return value.map((v) => v.val);
}

function expandHostName(value: string, original: string): string {
  return value.replace(/%([%h])/g, (_m, t: string) => (t === "%" ? "%" : original));
}

function expandTilde(path: string, home: string): string {
  if (path === "~") return home;
  if (path.startsWith("~/")) return join(home, path.slice(2));
  return path;
}

function expandEnv(value: string, env: NodeJS.ProcessEnv): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => {
    const v = env[name];
    if (v === undefined)
      throw new SshError("configInvalid", `ssh config: environment variable \${${name}} is not set.`);
    return v;
  });
}

function expandTokens(value: string, tokens: Record<string, string>, what: string): string {
  return value.replace(/%(.)/g, (_m, t: string) => {
    const v = tokens[t];
    if (v === undefined)
      throw new SshError("configInvalid", `ssh config: ${what} '${value}' uses the unknown token %${t}.`);
    return v;
  });
}

/** Expands `*`, `?` and `[…]` per path component, sorted, skipping dot files for wildcards. */
export function expandGlob(path: string): string[] {
  if (!/[*?[]/.test(path)) return existsSync(path) && !isDirectory(path) ? [path] : [];
  const parts = path.split("/");
  let current = [parts[0] === "" ? "/" : parts[0]!];
  for (const part of parts.slice(1)) {
    if (!part) continue;
    const next: string[] = [];
    for (const base of current) {
      if (!/[*?[]/.test(part)) {
        const p = join(base, part);
        if (existsSync(p)) next.push(p);
        continue;
      }
      let names: string[];
      try {
        names = readdirSync(base);
      } catch {
        continue;
      }
      const re = globComponent(part);
      for (const name of names.sort()) {
        if (name.startsWith(".") && !part.startsWith(".")) continue;
        if (re.test(name)) next.push(join(base, name));
      }
    }
    current = next;
  }
  return current.filter((p) => !isDirectory(p)).sort();
}

function globComponent(part: string): RegExp {
  let re = "^";
  for (let i = 0; i < part.length; i++) {
    const ch = part[i]!;
    if (ch === "*") re += "[^/]*";
    else if (ch === "?") re += "[^/]";
    else if (ch === "[") {
      const close = part.indexOf("]", i + 2);
      if (close < 0) {
        re += "\\[";
      } else {
        let set = part.slice(i + 1, close);
        if (set.startsWith("!")) set = `^${set.slice(1)}`;
        re += `[${set.replace(/\\/g, "\\\\")}]`;
        i = close;
      }
    } else re += ch.replace(/[.+^${}()|\]\\]/g, "\\$&");
  }
  return new RegExp(`${re}$`);
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function safeLocalUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env["USER"] ?? "root";
  }
}

function safeUid(): number {
  return typeof process.getuid === "function" ? process.getuid() : 0;
}
