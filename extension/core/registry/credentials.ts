import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { parse as parseJsonc } from "jsonc-parser/lib/esm/main.js";
import type { Logger } from "../log";
import { silentLogger } from "../log";
import type { RegistryAuth } from "./registryClient";

/** Where registry credentials are looked up, in this order. */
export interface CredentialOptions {
  /** This machine's environment: DEVCONTAINERS_OCI_AUTH, DOCKER_CONFIG, GITHUB_TOKEN, HOME, PATH. */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly logger?: Logger;
}

interface DockerConfig {
  auths?: Record<string, { auth?: string; identitytoken?: string }>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

/**
 * Credentials for one registry host, as the Dev Containers tools find them: the
 * `DEVCONTAINERS_OCI_AUTH` variable (`host|user|token,…`), then Docker's config.json — the
 * registry's credential helper, the global credsStore, the inline `auths` entry (an identity
 * token when present) — then `GITHUB_TOKEN` for ghcr.io. Undefined: go anonymous. Secrets are
 * never logged.
 */
export async function registryCredentials(
  registry: string,
  options: CredentialOptions,
): Promise<RegistryAuth | undefined> {
  const log = options.logger ?? silentLogger;
  const env = options.env;
  for (const entry of (env["DEVCONTAINERS_OCI_AUTH"] ?? "").split(",")) {
    const [host, username, password] = entry.split("|");
    if (host === registry && username !== undefined && password !== undefined) {
      log.debug(`registry ${registry}: credentials from DEVCONTAINERS_OCI_AUTH`);
      return { kind: "usernamePassword", username, password };
    }
  }
  const config = await readDockerConfig(env);
  if (config) {
    const helper = config.credHelpers?.[registry] ?? config.credsStore;
    if (helper) {
      const fromHelper = await credentialHelper(helper, registry, env);
      if (fromHelper) {
        log.debug(`registry ${registry}: credentials from docker-credential-${helper}`);
        return fromHelper;
      }
    }
    const inline = config.auths?.[registry] ?? config.auths?.[`https://${registry}`];
    if (inline?.identitytoken) return { kind: "identityToken", token: inline.identitytoken };
    if (inline?.auth) return { kind: "rawBasic", value: inline.auth };
  }
  const token = env["GITHUB_TOKEN"];
  if (registry === "ghcr.io" && token && (!env["GITHUB_HOST"] || env["GITHUB_HOST"] === "github.com"))
    return { kind: "usernamePassword", username: "USERNAME", password: token };
  return undefined;
}

async function readDockerConfig(
  env: Readonly<Record<string, string | undefined>>,
): Promise<DockerConfig | undefined> {
  const dir = env["DOCKER_CONFIG"] || join(env["HOME"] || homedir(), ".docker");
  try {
    const value = parseJsonc(await readFile(join(dir, "config.json"), "utf8")) as unknown;
    return value && typeof value === "object" ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Asks `docker-credential-<helper> get` (the registry host on stdin, JSON on stdout). A helper
 * that is missing, fails or knows nothing gives undefined. Username `<token>` means the secret
 * is an identity token.
 */
function credentialHelper(
  helper: string,
  registry: string,
  env: Readonly<Record<string, string | undefined>>,
): Promise<RegistryAuth | undefined> {
  if (!/^[A-Za-z0-9._-]+$/.test(helper)) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    let out = "";
    let child;
    try {
      child = spawn(`docker-credential-${helper}`, ["get"], { env, stdio: ["pipe", "pipe", "ignore"] });
    } catch {
      resolve(undefined);
      return;
    }
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    child.on("error", () => resolve(undefined));
    child.stdout.on("data", (d: Buffer) => (out += d.toString("utf8")));
    child.on("close", (code) => {
      clearTimeout(timer);
      if (code !== 0) return resolve(undefined);
      try {
        const parsed = JSON.parse(out) as { Username?: string; Secret?: string };
        if (!parsed.Secret) return resolve(undefined);
        resolve(
          parsed.Username === "<token>"
            ? { kind: "identityToken", token: parsed.Secret }
            : { kind: "usernamePassword", username: parsed.Username ?? "", password: parsed.Secret },
        );
      } catch {
        resolve(undefined);
      }
    });
    child.stdin.end(registry);
  });
}
