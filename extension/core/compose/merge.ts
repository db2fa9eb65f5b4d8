import type { ComposeNode, MapNode, ScalarNode, SeqNode, SourcePos } from "./yamlNodes";

/**
 * Merging several Compose files, in order, as the Compose specification says: mappings merge
 * key by key; `command`, `entrypoint` and `healthcheck.test` are replaced whole; `volumes`,
 * `secrets` and `configs` of a service are unique by target path and `ports` by their written
 * form, a later entry replacing an earlier one; other lists are appended (identical scalars
 * once). `!reset` removes what the earlier files set, `!override` replaces it without merging.
 * Mapping-or-list fields (`environment`, `labels`, `depends_on`, …) are brought to their
 * mapping form first (see `canonicalize`), so a list in one file merges with a map in another.
 */
export function mergeNodes(
  base: ComposeNode | undefined,
  over: ComposeNode,
  path: string[],
): ComposeNode | undefined {
  if (over.tag === "reset") return undefined;
  if (!base || over.tag === "override") return untagged(over);
  if (base.kind === "map" && over.kind === "map") {
    const entries = new Map(base.entries);
    const keyPos = new Map(base.keyPos);
    for (const [key, value] of over.entries) {
      const merged = mergeNodes(entries.get(key), value, [...path, key]);
      if (merged === undefined) {
        entries.delete(key);
        keyPos.delete(key);
      } else {
        entries.set(key, merged);
        keyPos.set(key, over.keyPos.get(key) ?? value.pos);
      }
    }
    return { kind: "map", entries, keyPos, pos: base.pos };
  }
  if (base.kind === "seq" && over.kind === "seq") {
    const rule = sequenceRule(path);
    if (rule === "replace") return over;
    if (rule === "append") {
      const items = [...base.items];
      for (const item of over.items) {
        if (item.kind === "scalar" && items.some((b) => b.kind === "scalar" && b.value === item.value))
          continue;
        items.push(item);
      }
      return { kind: "seq", items, pos: base.pos };
    }
    const items = [...base.items];
    for (const item of over.items) {
      const key = rule(item);
      const at = key === undefined ? -1 : items.findIndex((b) => rule(b) === key);
      if (at >= 0) items[at] = item;
      else items.push(item);
    }
    return { kind: "seq", items, pos: base.pos };
  }
  return over;
}

type SequenceRule = "replace" | "append" | ((item: ComposeNode) => string | undefined);

function sequenceRule(path: string[]): SequenceRule {
  if (path.length === 3 && path[0] === "services") {
    switch (path[2]) {
      case "command":
      case "entrypoint":
        return "replace";
      case "volumes":
        return (item) => volumeTarget(item);
      case "secrets":
      case "configs":
        return (item) => secretTarget(item);
      case "ports":
        return (item) => (item.kind === "scalar" ? String(item.value) : portKey(item));
    }
  }
  if (path.length === 4 && path[0] === "services" && path[2] === "healthcheck" && path[3] === "test")
    return "replace";
  return "append";
}

function field(node: ComposeNode, key: string): ScalarNode["value"] | undefined {
  if (node.kind !== "map") return undefined;
  const value = node.entries.get(key);
  return value?.kind === "scalar" ? value.value : undefined;
}

function volumeTarget(item: ComposeNode): string | undefined {
  if (item.kind === "map") return String(field(item, "target") ?? "");
  if (item.kind !== "scalar" || typeof item.value !== "string") return undefined;
  const parts = item.value.split(":");
  return parts.length === 1 ? parts[0] : parts[1];
}

function secretTarget(item: ComposeNode): string | undefined {
  if (item.kind === "map") return String(field(item, "target") ?? field(item, "source") ?? "");
  return item.kind === "scalar" ? String(item.value) : undefined;
}

function portKey(item: ComposeNode): string {
  return ["host_ip", "published", "target", "protocol"].map((k) => String(field(item, k) ?? "")).join("|");
}

function untagged(node: ComposeNode): ComposeNode {
  if (!node.tag) return node;
  const { tag: _tag, ...rest } = node;
  return rest;
}

/** Service fields that may be written as a list of `KEY=value` or as a mapping. */
const keyValueFields = ["environment", "labels", "annotations", "sysctls"] as const;

/**
 * Brings one file's services to the forms that merge: list-or-map fields become maps
 * (`environment`, `labels`, `annotations`, `sysctls`, `build.args`, `extra_hosts`,
 * `depends_on`, `networks`), a `build` string becomes `{context}`, an `env_file` string a list.
 * Nodes of the wrong type are left alone for normalisation to report.
 */
export function canonicalize(root: ComposeNode): ComposeNode {
  if (root.kind !== "map") return root;
  const services = root.entries.get("services");
  if (services?.kind !== "map") return root;
  const newServices = new Map<string, ComposeNode>();
  for (const [name, service] of services.entries) {
    newServices.set(name, service.kind === "map" ? canonicalService(service) : service);
  }
  return withEntry(root, "services", { ...services, entries: newServices });
}

function canonicalService(service: MapNode): MapNode {
  let out = service;
  for (const key of keyValueFields) {
    const node = out.entries.get(key);
    if (node?.kind === "seq") out = withEntry(out, key, listToMap(node, "="));
  }
  const hosts = out.entries.get("extra_hosts");
  if (hosts?.kind === "seq") out = withEntry(out, "extra_hosts", listToMap(hosts, /[=:]/));
  const build = out.entries.get("build");
  if (build?.kind === "scalar" && typeof build.value === "string") {
    const context: ScalarNode = { kind: "scalar", value: build.value, pos: build.pos };
    out = withEntry(out, "build", mapOf([["context", context]], build.pos));
  }
  const built = out.entries.get("build");
  if (built?.kind === "map") {
    const args = built.entries.get("args");
    if (args?.kind === "seq") out = withEntry(out, "build", withEntry(built, "args", listToMap(args, "=")));
  }
  const envFile = out.entries.get("env_file");
  if (envFile?.kind === "scalar" || envFile?.kind === "map")
    out = withEntry(out, "env_file", { kind: "seq", items: [envFile], pos: envFile.pos });
  const deps = out.entries.get("depends_on");
  if (deps?.kind === "seq") {
    out = withEntry(
      out,
      "depends_on",
      mapOf(
        deps.items.map((item) => [
          String(item.kind === "scalar" ? item.value : ""),
          mapOf([["condition", { kind: "scalar", value: "service_started", pos: item.pos }]], item.pos),
        ]),
        deps.pos,
        deps.items.map((i) => i.pos),
      ),
    );
  }
  const networks = out.entries.get("networks");
  if (networks?.kind === "seq") {
    out = withEntry(
      out,
      "networks",
      mapOf(
        networks.items.map((item) => [
          String(item.kind === "scalar" ? item.value : ""),
          { kind: "scalar", value: null, pos: item.pos },
        ]),
        networks.pos,
        networks.items.map((i) => i.pos),
      ),
    );
  }
  return out;
}

function listToMap(list: SeqNode, separator: string | RegExp): MapNode {
  const entries: Array<[string, ComposeNode]> = [];
  const positions: SourcePos[] = [];
  for (const item of list.items) {
    const text = item.kind === "scalar" && item.value !== null ? String(item.value) : "";
    const match = typeof separator === "string" ? text.indexOf(separator) : text.search(separator);
    const key = match < 0 ? text : text.slice(0, match);
    const value = match < 0 ? null : text.slice(match + 1);
    entries.push([key.trim(), { kind: "scalar", value, pos: item.pos }]);
    positions.push(item.pos);
  }
  const map = mapOf(entries, list.pos, positions);
  return list.tag ? { ...map, tag: list.tag } : map;
}

function mapOf(entries: Array<[string, ComposeNode]>, pos: SourcePos, keyPositions?: SourcePos[]): MapNode {
  const map = new Map<string, ComposeNode>();
  const keyPos = new Map<string, SourcePos>();
  entries.forEach(([k, v], i) => {
    map.set(k, v);
    keyPos.set(k, keyPositions?.[i] ?? v.pos);
  });
  return { kind: "map", entries: map, keyPos, pos };
}

function withEntry(map: MapNode, key: string, value: ComposeNode): MapNode {
  const entries = new Map(map.entries);
  entries.set(key, value);
  return { ...map, entries };
}
