import type { z } from "zod";
import { formatJsonPath } from "./diagnostics";
import type { Diagnostic, JsonPathSegment } from "./diagnostics";
import { diagnosticAtPath } from "./jsonc";
import type { ParsedDocument } from "./jsonc";
import { devcontainerSchema, knownProperties, legacyProperties } from "./schema";
import type { DevcontainerConfig } from "./schema";

type Issue = z.core.$ZodIssue;

/** A validated config, or the reasons it is not one. */
export interface ValidationResult {
  /** Undefined when any error was found. */
  readonly config: DevcontainerConfig | undefined;
  /** Schema errors (located at the offending value) and unknown-property warnings (at the key). */
  readonly diagnostics: readonly Diagnostic[];
}

interface Finding {
  readonly path: JsonPathSegment[];
  readonly severity: "error" | "warning";
  readonly code: string;
  readonly message: string;
  readonly part: "value" | "key";
}

/**
 * Validates a parsed devcontainer.json against the spec's property set. Unknown properties are
 * warnings (the spec grows, and other tools add their own); everything else zod rejects is an
 * error located at the value that caused it.
 */
export function validateDevcontainer(doc: ParsedDocument): ValidationResult {
  if (!doc.value) return { config: undefined, diagnostics: [] };
  const result = devcontainerSchema.safeParse(doc.value);
  if (result.success) return { config: result.data, diagnostics: [] };

  const findings: Finding[] = [];
  for (const issue of result.error.issues) collect(issue, [], false, doc.value, findings);
  const diagnostics = dedupe(findings).map((f) =>
    diagnosticAtPath(doc, f.path, f.severity, f.code, f.message, f.part),
  );
  if (findings.some((f) => f.severity === "error")) return { config: undefined, diagnostics };

  // Only unknown keys: drop them from a copy and validate again, so the config the planner sees
  // is exactly the file minus what was reported.
  const pruned = structuredClone(doc.value);
  for (const f of findings) deleteAt(pruned, f.path);
  const again = devcontainerSchema.safeParse(pruned);
  if (!again.success) {
    // Cannot happen unless the schema rejects what it just reported as merely unknown; say so
    // rather than plan from a value we did not validate.
    const first = again.error.issues[0];
    return {
      config: undefined,
      diagnostics: [
        ...diagnostics,
        diagnosticAtPath(
          doc,
          (first?.path ?? []) as JsonPathSegment[],
          "error",
          "schema",
          first?.message ?? "invalid configuration",
        ),
      ],
    };
  }
  return { config: again.data, diagnostics };
}

function collect(
  issue: Issue,
  prefix: JsonPathSegment[],
  inUnion: boolean,
  root: unknown,
  out: Finding[],
): void {
  const path = [...prefix, ...(issue.path as JsonPathSegment[])];
  switch (issue.code) {
    case "unrecognized_keys":
      for (const key of issue.keys) {
        const keyPath = [...path, key];
        out.push({
          path: keyPath,
          severity: inUnion ? "error" : "warning",
          code: "unknownProperty",
          message: unknownKeyMessage(keyPath, key, inUnion),
          part: "key",
        });
      }
      return;
    case "invalid_union": {
      const branches = issue.errors.filter(
        (branch) =>
          !branch.some(
            (i) => i.path.length === 0 && (i.code === "invalid_type" || i.code === "invalid_value"),
          ),
      );
      const chosen = branches[0];
      if (chosen && chosen.length) {
        for (const inner of chosen) collect(inner, path, true, root, out);
        return;
      }
      out.push({
        path,
        severity: "error",
        code: "schema",
        message: `${label(path)}: ${plainMessage(issue, path, root)}`,
        part: "value",
      });
      return;
    }
    case "invalid_key":
      for (const inner of issue.issues) {
        const key = path[path.length - 1];
        out.push({
          path,
          severity: "error",
          code: "schema",
          message: `${label(path)}: invalid key ${JSON.stringify(key)}: ${inner.message}`,
          part: "key",
        });
      }
      return;
    case "invalid_element":
      for (const inner of issue.issues) collect(inner, path, inUnion, root, out);
      return;
    default:
      out.push({
        path,
        severity: "error",
        code: "schema",
        message: `${label(path)}: ${plainMessage(issue, path, root)}`,
        part: "value",
      });
  }
}

function label(path: readonly JsonPathSegment[]): string {
  return path.length ? formatJsonPath(path) : "devcontainer.json";
}

function unknownKeyMessage(path: readonly JsonPathSegment[], key: string, inUnion: boolean): string {
  const where = path.length > 1 ? formatJsonPath(path) : `"${key}"`;
  if (inUnion) return `${where}: property not allowed here`;
  const legacy = path.length === 1 ? legacyProperties[key] : undefined;
  if (legacy) return `${where} is ${legacy}; ignored`;
  const suggestion = path.length === 1 ? closest(key, knownProperties) : undefined;
  return `unknown property ${where}${suggestion ? ` (did you mean "${suggestion}"?)` : ""}; ignored`;
}

// zod's default messages name zod's view ("Invalid input: expected int"); ours say what the file
// should hold and what it holds instead. Custom messages from the schema are used as written.
function plainMessage(issue: Issue, path: readonly JsonPathSegment[], root: unknown): string {
  const actual = describeValue(valueAt(root, path));
  switch (issue.code) {
    case "invalid_type":
      if (!issue.message.startsWith("Invalid input")) return `${issue.message}, got ${actual}`;
      if (issue.expected === "nonoptional" || actual === "nothing") return "required property is missing";
      return `expected ${article(issue.expected)}, got ${actual}`;
    case "invalid_value":
      if (!issue.message.startsWith("Invalid")) return `${issue.message}, got ${actual}`;
      return `expected ${issue.values.map((v) => JSON.stringify(v)).join(", ")}; got ${actual}`;
    case "too_small":
      if (!issue.message.startsWith("Too small")) return issue.message;
      if (issue.origin === "string") return `must not be shorter than ${String(issue.minimum)} character(s)`;
      if (issue.origin === "array") return `needs at least ${String(issue.minimum)} item(s)`;
      return `must be ≥ ${String(issue.minimum)}, got ${actual}`;
    case "too_big":
      if (!issue.message.startsWith("Too big")) return issue.message;
      if (issue.origin === "string") return `is too long (over ${String(issue.maximum)} characters)`;
      return `must be ≤ ${String(issue.maximum)}, got ${actual}`;
    case "invalid_format":
      return issue.message.startsWith("Invalid")
        ? `${actual} does not have the expected format`
        : `${issue.message}, got ${actual}`;
    case "invalid_union":
      return `${issue.message}, got ${actual}`;
    default:
      return issue.message;
  }
}

function article(expected: string): string {
  const names: Record<string, string> = {
    int: "an integer",
    number: "a number",
    string: "a string",
    boolean: "a boolean (true or false)",
    array: "an array",
    object: "an object",
    record: "an object",
    null: "null",
  };
  return names[expected] ?? expected;
}

function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  switch (typeof value) {
    case "string":
      return value.length > 40
        ? `a string of ${value.length} characters`
        : `the string ${JSON.stringify(value)}`;
    case "number":
      return `the number ${value}`;
    case "boolean":
      return String(value);
    case "object":
      return "an object";
    default:
      return typeof value;
  }
}

function valueAt(root: unknown, path: readonly JsonPathSegment[]): unknown {
  let at: unknown = root;
  for (const segment of path) {
    if (at === null || typeof at !== "object") return undefined;
    at = (at as Record<string | number, unknown>)[segment];
  }
  return at;
}

function deleteAt(root: unknown, path: readonly JsonPathSegment[]): void {
  const parent = valueAt(root, path.slice(0, -1));
  const last = path[path.length - 1];
  if (parent && typeof parent === "object" && !Array.isArray(parent) && typeof last === "string") {
    delete (parent as Record<string, unknown>)[last];
  }
}

function dedupe(findings: Finding[]): Finding[] {
  const seen = new Set<string>();
  return findings.filter((f) => {
    const key = `${JSON.stringify(f.path)}\u0000${f.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

// Suggest a known property for a likely typo (edit distance ≤ 2, or same letters ignoring case).
function closest(key: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of candidates) {
    if (candidate.toLowerCase() === key.toLowerCase()) return candidate;
    const d = editDistance(key, candidate);
    if (d < bestDistance) {
      bestDistance = d;
      best = candidate;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 99;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current.push(
        Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost),
      );
    }
    previous = current;
  }
  return previous[b.length] ?? 99;
}
