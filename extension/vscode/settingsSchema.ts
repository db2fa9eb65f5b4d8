/**
 * The extension's settings, validated: whatever a user wrote is checked before use, and a bad
 * value falls back to its default with a message. Pure (no `vscode` import), so the schema is
 * unit-tested and the VS Code glue (settings.ts) only reads raw values. package.json
 * `contributes.configuration` describes the same keys to the user.
 */
import * as z from "zod";
import { defaultBridgeCommand, defaultSocketPath } from "../core/protect/transport";

const schemas = {
  hosts: z.array(z.string().trim().min(1)).default([]),
  "ssh.configFile": z.string().default(""),
  daemonSocket: z.string().trim().startsWith("/", "must be an absolute path").default(defaultSocketPath),
  bridgeCommand: z.string().trim().min(1).default(defaultBridgeCommand),
  connectTimeoutSeconds: z.number().int().min(1).max(300).default(15),
  "reconnect.maxAttempts": z.number().int().min(0).max(1000).default(8),
  "reconnect.maxDelaySeconds": z.number().min(1).max(600).default(30),
  "defaultResources.cpus": z.number().int().min(1).max(256).default(1),
  "defaultResources.memoryMiB": z
    .number()
    .int()
    .min(64)
    .max(1024 * 1024)
    .default(1024),
  "terminal.shell": z.string().default(""),
  "launch.workspaceRoot": z
    .union([z.literal(""), z.string().trim().startsWith("/", "must be an absolute path on the host")])
    .default(""),
  "build.builder": z.enum(["auto", "buildah", "podman", "docker"]).default("auto"),
  "metrics.intervalSeconds": z.number().min(0.2).max(60).default(1),
  "metrics.prometheusPort": z.number().int().min(0).max(65535).default(3035),
  "sync.onSave": z.boolean().default(true),
} as const;

/** Every setting key under `zones.`. */
export type SettingKey = keyof typeof schemas;
export const settingKeys = Object.keys(schemas) as SettingKey[];

/** Validated settings. */
export interface ZonesSettings {
  /** Entries of `zones.hosts` as written (ssh destinations, aliases, `unix://` sockets). */
  readonly hosts: readonly string[];
  /** ssh config file; empty means ~/.ssh/config. */
  readonly sshConfigFile: string;
  readonly daemonSocket: string;
  readonly bridgeCommand: string;
  readonly connectTimeoutSeconds: number;
  readonly reconnect: { readonly maxAttempts: number; readonly maxDelaySeconds: number };
  readonly defaultResources: { readonly cpus: number; readonly memoryMiB: number };
  /** Shell for zone terminals; empty means bash when the image has it, else sh. */
  readonly terminalShell: string;
  /** Host folder for launched workspaces; empty means the plan's default. */
  readonly launchWorkspaceRoot: string;
  /** Image builder for features and Dockerfiles; "auto" lets devcontainer.json or detection decide. */
  readonly buildBuilder: "auto" | "buildah" | "podman" | "docker";
  /** Seconds between metric samples of a graphed zone. */
  readonly metricsIntervalSeconds: number;
  /** Host loopback port of Protect's Prometheus text (/metrics/resource); 0: not used. */
  readonly metricsPrometheusPort: number;
  /** Push each saved, created, renamed or deleted file of a launched workspace to its zone. */
  readonly syncOnSave: boolean;
}

/**
 * Keys whose new value only applies to new connections: changing one offers "Reconnect now".
 * `hosts` is not among them — added and removed hosts connect and disconnect by themselves.
 */
export const reconnectKeys: readonly SettingKey[] = [
  "ssh.configFile",
  "daemonSocket",
  "bridgeCommand",
  "connectTimeoutSeconds",
];

/**
 * Keys that pick hosts or run commands on this machine (a ProxyCommand in the SSH config, the
 * bridge command, where files go): a repository's .vscode/settings.json must not set them, so
 * only the user's own value is read. (They are not declared "machine"-scoped: a remote window —
 * code-server is one — ignores machine-scoped values in the user settings, and the hosts would
 * vanish.)
 */
export const machineKeys: readonly SettingKey[] = [
  "hosts",
  "ssh.configFile",
  "bridgeCommand",
  "daemonSocket",
  "launch.workspaceRoot",
];

/** The value a key takes from VS Code's layers: workspace values only for keys that allow them. */
export function userChosenValue(
  key: SettingKey,
  inspected: { globalValue?: unknown; workspaceValue?: unknown; workspaceFolderValue?: unknown } | undefined,
): unknown {
  if (machineKeys.includes(key)) return inspected?.globalValue;
  return inspected?.workspaceFolderValue ?? inspected?.workspaceValue ?? inspected?.globalValue;
}

/** A setting that failed validation; its default is used instead. */
export interface SettingProblem {
  readonly key: SettingKey;
  readonly message: string;
}

/**
 * Validates raw values key by key, so one bad value falls back to its default alone.
 * `read(key)` returns the value as configured, or undefined when not set.
 */
export function parseSettings(read: (key: SettingKey) => unknown): {
  settings: ZonesSettings;
  problems: SettingProblem[];
} {
  const problems: SettingProblem[] = [];
  const get = <K extends SettingKey>(key: K): z.output<(typeof schemas)[K]> => {
    const schema = schemas[key];
    const result = schema.safeParse(read(key));
    if (result.success) return result.data as z.output<(typeof schemas)[K]>;
    problems.push({
      key,
      message: result.error.issues
        .map((i) => `${i.path.length ? `[${i.path.join(".")}] ` : ""}${i.message}`)
        .join("; "),
    });
    return schema.parse(undefined) as z.output<(typeof schemas)[K]>;
  };
  const hosts = [...new Set(get("hosts"))];
  return {
    settings: {
      hosts,
      sshConfigFile: get("ssh.configFile"),
      daemonSocket: get("daemonSocket"),
      bridgeCommand: get("bridgeCommand"),
      connectTimeoutSeconds: get("connectTimeoutSeconds"),
      reconnect: {
        maxAttempts: get("reconnect.maxAttempts"),
        maxDelaySeconds: get("reconnect.maxDelaySeconds"),
      },
      defaultResources: { cpus: get("defaultResources.cpus"), memoryMiB: get("defaultResources.memoryMiB") },
      terminalShell: get("terminal.shell"),
      launchWorkspaceRoot: get("launch.workspaceRoot"),
      buildBuilder: get("build.builder"),
      metricsIntervalSeconds: get("metrics.intervalSeconds"),
      metricsPrometheusPort: get("metrics.prometheusPort"),
      syncOnSave: get("sync.onSave"),
    },
    problems,
  };
}
