import { isAlias, isMap, isPair, isScalar, isSeq, parseDocument } from "yaml";
import type { Node as YamlNode } from "yaml";
import { LineIndex, diagnosticAt } from "../devcontainer/diagnostics";
import type { Diagnostic, JsonPathSegment } from "../devcontainer/diagnostics";

/**
 * A Compose file as a tree of located nodes. Compose merges several files and reports problems
 * long after parsing (an undefined volume, a cycle in depends_on), so every value keeps the file,
 * line and column it came from through merging and normalisation.
 */
export interface SourcePos {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly endLine: number;
  readonly endColumn: number;
}

/** Compose's two merge tags: `!reset` removes an inherited value, `!override` replaces it whole. */
export type MergeTag = "reset" | "override";

export type ComposeNode = MapNode | SeqNode | ScalarNode;

export interface MapNode {
  readonly kind: "map";
  readonly entries: Map<string, ComposeNode>;
  /** Where each key was written (messages about a key point there). */
  readonly keyPos: Map<string, SourcePos>;
  readonly pos: SourcePos;
  readonly tag?: MergeTag;
}

export interface SeqNode {
  readonly kind: "seq";
  readonly items: ComposeNode[];
  readonly pos: SourcePos;
  readonly tag?: MergeTag;
}

export type ScalarValue = string | number | boolean | null;

export interface ScalarNode {
  readonly kind: "scalar";
  readonly value: ScalarValue;
  readonly pos: SourcePos;
  readonly tag?: MergeTag;
}

/** More nodes than any real Compose file has: guards against alias expansion bombs. */
const maxNodes = 200_000;

/** The result of reading one file: its root (undefined when it has errors) and every problem found. */
export interface ParsedYaml {
  readonly root: ComposeNode | undefined;
  readonly diagnostics: Diagnostic[];
}

/**
 * Parses one YAML file into located nodes. Anchors and aliases are expanded, `<<` merge keys
 * applied (Compose files share blocks with `x-` fields and `<<: *anchor`), and the merge tags
 * kept. Syntax errors come back as located diagnostics, never as exceptions.
 */
export function parseYamlNodes(text: string, file: string): ParsedYaml {
  const index = new LineIndex(text);
  const diagnostics: Diagnostic[] = [];
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  const located = (
    range: readonly number[] | null | undefined,
    severity: "error" | "warning",
    code: string,
    message: string,
    path: readonly JsonPathSegment[] = [],
  ): void => {
    const start = range?.[0] ?? 0;
    const end = range?.[1] ?? start;
    diagnostics.push(diagnosticAt(index, file, start, end - start, severity, code, message, path));
  };
  for (const e of doc.errors)
    located(
      e.pos,
      "error",
      "yamlSyntax",
      e.code === "MULTIPLE_DOCS" ? "a Compose file holds one YAML document" : cleanMessage(e.message),
    );
  for (const w of doc.warnings) {
    // Compose's own tags are understood here; any other unknown tag is worth a word.
    if (w.code === "TAG_RESOLVE_FAILED" && /!(reset|override)\b/.test(w.message)) continue;
    located(w.pos, "warning", "yamlWarning", cleanMessage(w.message));
  }
  if (doc.errors.length) return { root: undefined, diagnostics };

  const posOf = (node: { range?: readonly number[] | null | undefined } | null | undefined): SourcePos => {
    const start = node?.range?.[0] ?? 0;
    const end = node?.range?.[1] ?? start;
    const a = index.positionAt(start);
    const b = index.positionAt(end);
    return { file, line: a.line, column: a.column, endLine: b.line, endColumn: b.column };
  };
  let count = 0;
  let exploded = false;
  const tagOf = (node: YamlNode): MergeTag | undefined =>
    node.tag === "!reset" ? "reset" : node.tag === "!override" ? "override" : undefined;

  const convert = (
    node: unknown,
    path: JsonPathSegment[],
    seen: ReadonlySet<unknown>,
  ): ComposeNode | undefined => {
    if (++count > maxNodes) {
      if (!exploded) located([0, 0], "error", "yamlTooLarge", `more than ${maxNodes} values after aliases`);
      exploded = true;
      return undefined;
    }
    if (isAlias(node)) {
      const target = node.resolve(doc);
      if (!target || seen.has(target)) {
        located(node.range, "error", "yamlAlias", `alias *${node.source} does not resolve`, path);
        return undefined;
      }
      return convert(target, path, new Set([...seen, target]));
    }
    if (isScalar(node)) {
      const v = node.value;
      const value: ScalarValue =
        v === null || v === undefined
          ? null
          : typeof v === "string" || typeof v === "number" || typeof v === "boolean"
            ? v
            : typeof v === "bigint"
              ? Number(v)
              : JSON.stringify(v);
      const tag = tagOf(node);
      return { kind: "scalar", value, pos: posOf(node), ...(tag ? { tag } : {}) };
    }
    if (isSeq(node)) {
      const items: ComposeNode[] = [];
      node.items.forEach((item, i) => {
        const converted = convert(item, [...path, i], seen);
        if (converted) items.push(converted);
      });
      const tag = tagOf(node);
      return { kind: "seq", items, pos: posOf(node), ...(tag ? { tag } : {}) };
    }
    if (isMap(node)) {
      const entries = new Map<string, ComposeNode>();
      const keyPos = new Map<string, SourcePos>();
      const merged: Array<MapNode> = [];
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const keyNode = pair.key;
        const rawKey = isScalar(keyNode) ? keyNode.value : undefined;
        if (isScalar(keyNode) && rawKey === "<<") {
          // YAML merge key: the referenced maps fill in keys this map does not set itself.
          const sources = isSeq(pair.value) ? pair.value.items : [pair.value];
          for (const source of sources) {
            const converted = convert(source, path, seen);
            if (converted?.kind === "map") merged.push(converted);
            else
              located(
                (pair.value as YamlNode | null)?.range,
                "error",
                "yamlMerge",
                "<< merges mappings only",
                path,
              );
          }
          continue;
        }
        if (typeof rawKey !== "string" && typeof rawKey !== "number" && typeof rawKey !== "boolean") {
          located(
            (keyNode as YamlNode | null)?.range,
            "error",
            "yamlKey",
            "keys must be plain strings or numbers",
            path,
          );
          continue;
        }
        const key = String(rawKey);
        const value =
          pair.value === null || pair.value === undefined
            ? ({ kind: "scalar", value: null, pos: posOf(keyNode as YamlNode) } satisfies ScalarNode)
            : convert(pair.value, [...path, key], seen);
        if (!value) continue;
        entries.set(key, value);
        keyPos.set(key, posOf(keyNode as YamlNode));
      }
      for (const m of merged) {
        for (const [k, v] of m.entries) {
          if (entries.has(k)) continue;
          entries.set(k, v);
          keyPos.set(k, m.keyPos.get(k) ?? v.pos);
        }
      }
      const tag = tagOf(node);
      return { kind: "map", entries, keyPos, pos: posOf(node), ...(tag ? { tag } : {}) };
    }
    if (node === null || node === undefined) return { kind: "scalar", value: null, pos: posOf(undefined) };
    located(undefined, "error", "yamlNode", "unsupported YAML value", path);
    return undefined;
  };
  const root =
    doc.contents === null || doc.contents === undefined ? undefined : convert(doc.contents, [], new Set());
  if (exploded || diagnostics.some((d) => d.severity === "error")) return { root: undefined, diagnostics };
  return { root, diagnostics };
}

/** yaml's messages end with a source excerpt after a newline; the location is ours to print. */
function cleanMessage(message: string): string {
  return (message.split("\n")[0] ?? message).replace(/ at line \d+, column \d+:?$/, "").trim();
}

/** A short human name for a node kind, for "expected a mapping, got a sequence". */
export function kindName(node: ComposeNode): string {
  if (node.kind === "map") return "a mapping";
  if (node.kind === "seq") return "a list";
  if (node.value === null) return "nothing (null)";
  return `a ${typeof node.value}`;
}
