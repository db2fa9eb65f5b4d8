import * as z from "zod";
import { workloadHookNames } from "../devcontainer/hooks";
import type { WorkloadHookName } from "../devcontainer/hooks";
import { commandSchema } from "../devcontainer/schema";
import type { DevcontainerConfig, LifecycleCommand } from "../devcontainer/schema";

/** The image label carrying what an image's features and config ask of a container. */
export const metadataLabel = "devcontainer.metadata";

/** An array of strings, with a message a feature's author can act on. */
export const stringArray = z.array(z.string(), { error: "expected an array of strings" });
const mountSchema = z.union([
  z.string(),
  z.looseObject({
    type: z.enum(["bind", "volume"]),
    source: z.string().optional(),
    target: z.string().min(1),
  }),
]);
const portAttributes = z.looseObject({
  label: z.string().optional(),
  protocol: z.enum(["http", "https"]).optional(),
  onAutoForward: z.string().optional(),
  requireLocalPort: z.boolean().optional(),
  elevateIfNeeded: z.boolean().optional(),
});

/**
 * What a feature's devcontainer-feature.json contributes to a container (see
 * featureMetadataProperties), typed the same there and in an image's metadata entries.
 */
export const contributionFields = {
  init: z.boolean().optional(),
  privileged: z.boolean().optional(),
  capAdd: stringArray.optional(),
  securityOpt: stringArray.optional(),
  entrypoint: z.string().optional(),
  mounts: z.array(mountSchema).optional(),
  customizations: z.record(z.string(), z.unknown()).optional(),
  onCreateCommand: commandSchema.optional(),
  updateContentCommand: commandSchema.optional(),
  postCreateCommand: commandSchema.optional(),
  postStartCommand: commandSchema.optional(),
  postAttachCommand: commandSchema.optional(),
};

/**
 * One entry of the `devcontainer.metadata` label: a feature's contribution (with its `id`), a
 * base image's, or a devcontainer.json's. Unknown keys are kept; known ones must have their types.
 */
export const metadataEntrySchema = z.looseObject({
  id: z.string().optional(),
  ...contributionFields,
  waitFor: z.string().optional(),
  remoteUser: z.string().optional(),
  containerUser: z.string().optional(),
  userEnvProbe: z.string().optional(),
  remoteEnv: z.record(z.string(), z.union([z.string(), z.null()])).optional(),
  containerEnv: z.record(z.string(), z.string()).optional(),
  overrideCommand: z.boolean().optional(),
  portsAttributes: z.record(z.string(), portAttributes).optional(),
  otherPortsAttributes: portAttributes.optional(),
  forwardPorts: z.array(z.union([z.number(), z.string()])).optional(),
  shutdownAction: z.string().optional(),
  updateRemoteUserUID: z.boolean().optional(),
  hostRequirements: z
    .looseObject({
      cpus: z.number().optional(),
      memory: z.string().optional(),
      storage: z.string().optional(),
      gpu: z.unknown().optional(),
    })
    .optional(),
});
export type MetadataEntry = z.infer<typeof metadataEntrySchema>;

/**
 * The entries of a `devcontainer.metadata` label value: a JSON array of entries (or, from older
 * tools, one object). Entries that do not have the known types are dropped and reported.
 */
export function parseMetadataLabel(text: string | undefined): {
  entries: MetadataEntry[];
  problems: string[];
} {
  if (text === undefined || text.trim() === "") return { entries: [], problems: [] };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { entries: [], problems: [`the ${metadataLabel} label is not JSON; ignored`] };
  }
  const list = Array.isArray(value) ? value : [value];
  const entries: MetadataEntry[] = [];
  const problems: string[] = [];
  list.forEach((item, i) => {
    const parsed = metadataEntrySchema.safeParse(item);
    if (parsed.success) entries.push(parsed.data);
    else {
      const issue = parsed.error.issues[0];
      problems.push(
        `${metadataLabel} entry ${i}${typeof (item as { id?: unknown })?.id === "string" ? ` (${(item as { id: string }).id})` : ""}: ${issue?.path.join(".") ?? ""} ${issue?.message ?? "invalid"}; ignored`,
      );
    }
  });
  return { entries, problems };
}

/** One hook command and who asked for it: a feature id, the base image, or devcontainer.json. */
export interface HookOrigin {
  readonly origin: string;
  readonly command: LifecycleCommand;
}

/**
 * devcontainer.json merged with the image's metadata entries, as the spec merges them: booleans
 * true if any entry says so, capAdd/securityOpt unions, mounts de-duplicated by target (the later
 * wins), environments layered in order, single values from the last entry that sets them, and
 * every hook and entrypoint kept, image entries first.
 */
export interface MergedMetadata {
  readonly config: DevcontainerConfig;
  readonly hooks: Readonly<Record<WorkloadHookName, readonly HookOrigin[]>>;
  /** Feature and base image entrypoints, in install order. */
  readonly entrypoints: readonly string[];
  /** Whether any entry asked for init. */
  readonly init: boolean;
  /** Per origin, the properties it contributed (for the plan's report). */
  readonly contributions: ReadonlyArray<{ readonly origin: string; readonly properties: readonly string[] }>;
}

/**
 * Merges `entries` (the image's, before devcontainer.json's own) with the config. The config is
 * the last entry; a property it sets wins where single values are concerned.
 */
export function mergeMetadata(config: DevcontainerConfig, entries: readonly MetadataEntry[]): MergedMetadata {
  const own = config as MetadataEntry;
  const all: MetadataEntry[] = [...entries, own];
  const lastOf = <K extends keyof MetadataEntry>(key: K): MetadataEntry[K] | undefined =>
    [...all].reverse().find((e) => e[key] !== undefined)?.[key];
  const merged: Record<string, unknown> = { ...config };
  if (all.some((e) => e.privileged)) merged["privileged"] = true;
  if (all.some((e) => e.init)) merged["init"] = true;
  const capAdd = unionOf(all.map((e) => e.capAdd));
  if (capAdd) merged["capAdd"] = capAdd;
  const securityOpt = unionOf(all.map((e) => e.securityOpt));
  if (securityOpt) merged["securityOpt"] = securityOpt;
  const mounts = mergeMounts(all);
  if (mounts) merged["mounts"] = mounts;
  for (const key of ["remoteUser", "containerUser", "userEnvProbe", "waitFor", "shutdownAction"] as const) {
    const value = lastOf(key);
    if (value !== undefined) merged[key] = value;
  }
  for (const key of ["overrideCommand", "updateRemoteUserUID"] as const) {
    const value = lastOf(key);
    if (value !== undefined) merged[key] = value;
  }
  for (const key of ["containerEnv", "remoteEnv", "portsAttributes"] as const) {
    const layered = Object.assign({}, ...all.map((e) => e[key] ?? {})) as Record<string, unknown>;
    if (Object.keys(layered).length) merged[key] = layered;
  }
  const otherPorts = lastOf("otherPortsAttributes");
  if (otherPorts !== undefined) merged["otherPortsAttributes"] = otherPorts;
  const forwardPorts = mergeForwardPorts(all);
  if (forwardPorts) merged["forwardPorts"] = forwardPorts;
  const hostRequirements = mergeHostRequirements(all);
  if (hostRequirements) merged["hostRequirements"] = hostRequirements;

  const hooks = Object.fromEntries(
    workloadHookNames.map((hook) => [
      hook,
      all.flatMap((e, i) =>
        e[hook] !== undefined ? [{ origin: originOf(e, i, all.length), command: e[hook] }] : [],
      ),
    ]),
  ) as Record<WorkloadHookName, HookOrigin[]>;
  for (const hook of workloadHookNames) delete merged[hook];

  const contributions = entries
    .map((e, i) => ({
      origin: originOf(e, i, all.length),
      properties: Object.keys(e).filter((k) => k !== "id" && e[k] !== undefined),
    }))
    .filter((c) => c.properties.length);
  return {
    config: merged,
    hooks,
    entrypoints: entries.flatMap((e) => (e.entrypoint ? [e.entrypoint] : [])),
    init: all.some((e) => e.init),
    contributions,
  };
}

function originOf(entry: MetadataEntry, index: number, count: number): string {
  if (index === count - 1) return "devcontainer.json";
  return entry.id ? `feature ${entry.id}` : "the base image";
}

function unionOf(lists: ReadonlyArray<readonly string[] | undefined>): string[] | undefined {
  const values = [...new Set(lists.flatMap((l) => l ?? []))];
  return values.length ? values : undefined;
}

/** Mounts of every entry; two with the same target: the later one stays, where the earlier was. */
function mergeMounts(
  entries: readonly MetadataEntry[],
): Array<NonNullable<MetadataEntry["mounts"]>[number]> | undefined {
  const all = entries.flatMap((e) => e.mounts ?? []);
  const targetOf = (m: (typeof all)[number]): string =>
    typeof m === "string" ? (/(?:^|,)\s*(?:target|dst|destination)=([^,]*)/.exec(m)?.[1] ?? m) : m.target;
  const seen = new Set<string>();
  const kept = [...all]
    .reverse()
    .filter((m) => {
      const target = targetOf(m);
      if (seen.has(target)) return false;
      seen.add(target);
      return true;
    })
    .reverse();
  return kept.length ? kept : undefined;
}

function mergeForwardPorts(entries: readonly MetadataEntry[]): Array<number | string> | undefined {
  const keys = [
    ...new Set(
      entries.flatMap((e) => e.forwardPorts ?? []).map((p) => (typeof p === "number" ? `localhost:${p}` : p)),
    ),
  ];
  const ports = keys.map((p) => (/^localhost:\d+$/.test(p) ? Number(p.slice("localhost:".length)) : p));
  return ports.length ? ports : undefined;
}

function mergeHostRequirements(entries: readonly MetadataEntry[]): Record<string, unknown> | undefined {
  const cpus = Math.max(0, ...entries.map((e) => e.hostRequirements?.cpus ?? 0));
  const biggest = (key: "memory" | "storage"): string | undefined => {
    let best: { bytes: number; text: string } | undefined;
    for (const e of entries) {
      const text = e.hostRequirements?.[key];
      if (text === undefined) continue;
      const bytes = bytesOf(text);
      if (!best || bytes > best.bytes) best = { bytes, text };
    }
    return best?.text;
  };
  const memory = biggest("memory");
  const storage = biggest("storage");
  const gpu = [...entries].reverse().find((e) => e.hostRequirements?.gpu !== undefined)
    ?.hostRequirements?.gpu;
  if (!cpus && memory === undefined && storage === undefined && gpu === undefined) return undefined;
  return {
    ...(cpus ? { cpus } : {}),
    ...(memory !== undefined ? { memory } : {}),
    ...(storage !== undefined ? { storage } : {}),
    ...(gpu !== undefined ? { gpu } : {}),
  };
}

function bytesOf(text: string): number {
  const m = /^(\d+)([tgmk]b)?$/.exec(text);
  if (!m) return 0;
  const unit = m[2]
    ? { t: 2 ** 40, g: 2 ** 30, m: 2 ** 20, k: 2 ** 10 }[m[2][0] as "t" | "g" | "m" | "k"]
    : 1;
  return Number(m[1]) * unit;
}

/**
 * The label value for an image we build: the base image's entries, then one per feature in
 * install order (its id and what it contributes), then devcontainer.json's own properties that
 * belong in image metadata.
 */
export function metadataLabelValue(entries: readonly MetadataEntry[]): string {
  return JSON.stringify(entries.filter((e) => Object.keys(e).length));
}

/** The properties of devcontainer.json that go into image metadata, as the spec lists them. */
export const configMetadataProperties = [
  "onCreateCommand",
  "updateContentCommand",
  "postCreateCommand",
  "postStartCommand",
  "postAttachCommand",
  "waitFor",
  "customizations",
  "mounts",
  "containerEnv",
  "containerUser",
  "init",
  "privileged",
  "capAdd",
  "securityOpt",
  "remoteUser",
  "userEnvProbe",
  "remoteEnv",
  "overrideCommand",
  "portsAttributes",
  "otherPortsAttributes",
  "forwardPorts",
  "shutdownAction",
  "updateRemoteUserUID",
  "hostRequirements",
] as const;

/** What a feature's devcontainer-feature.json contributes to image metadata. */
export const featureMetadataProperties = [
  ...workloadHookNames,
  "init",
  "privileged",
  "capAdd",
  "securityOpt",
  "entrypoint",
  "mounts",
  "customizations",
] as const;

/** Picks `keys` from an object that has them. */
export function pick(source: Readonly<Record<string, unknown>>, keys: readonly string[]): MetadataEntry {
  const out: Record<string, unknown> = {};
  for (const key of keys) if (source[key] !== undefined) out[key] = source[key];
  return out;
}
