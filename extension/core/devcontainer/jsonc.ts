// The ESM build, named explicitly: the package's "main" is a UMD file whose dynamic requires
// esbuild cannot follow (microsoft/node-jsonc-parser#57), which breaks the bundles at run time.
import { createScanner, findNodeAtLocation, getNodeValue, parseTree } from "jsonc-parser/lib/esm/main.js";
import type { Node, ParseError } from "jsonc-parser/lib/esm/main.js";
import { LineIndex, diagnosticAt } from "./diagnostics";
import type { Diagnostic, DiagnosticSeverity, JsonPathSegment } from "./diagnostics";

/**
 * A devcontainer.json as read: its text, the syntax tree with every node's offset (so any later
 * diagnostic can point at the property it concerns), the plain value, and what went wrong.
 * `value` and `root` are undefined when the file has syntax errors: a broken file is reported,
 * never repaired.
 */
export interface ParsedDocument {
  readonly file: string;
  readonly text: string;
  readonly index: LineIndex;
  readonly root: Node | undefined;
  readonly value: Record<string, unknown> | undefined;
  readonly diagnostics: readonly Diagnostic[];
}

/** Files above this size are refused before parsing: no real devcontainer.json comes close. */
export const maxFileBytes = 1024 * 1024;
/** Nesting deeper than this is refused before the (recursive) parser sees it. */
export const maxNestingDepth = 64;

// jsonc-parser declares these as ambient const enums, which isolatedModules cannot read.
const token = { openBrace: 1, closeBrace: 2, openBracket: 3, closeBracket: 4, comma: 5, eof: 17 } as const;
const trivia = new Set([12, 13, 14, 15]); // line comment, block comment, line break, whitespace

const parseErrorMessages: Record<number, string> = {
  1: "unexpected character",
  2: "invalid number",
  3: "property name expected (a double-quoted string)",
  4: "value expected",
  5: "':' expected",
  6: "',' expected",
  7: "'}' expected",
  8: "']' expected",
  9: "end of file expected: there is text after the top-level value",
  10: "invalid comment",
  11: "unterminated block comment",
  12: "unterminated string",
  13: "incomplete number",
  14: "invalid \\u escape in string",
  15: "invalid escape character in string",
  16: "invalid character in string (control characters must be escaped)",
};

/**
 * Parses devcontainer.json bytes (or already-decoded text): UTF-8 validity, size, nesting depth,
 * JSONC syntax (comments and trailing commas allowed), a top-level object, duplicate keys.
 * Never throws for bad input; every problem becomes a located diagnostic.
 */
export function parseDevcontainerText(input: Uint8Array | string, file: string): ParsedDocument {
  const diagnostics: Diagnostic[] = [];
  const size = typeof input === "string" ? Buffer.byteLength(input, "utf8") : input.byteLength;
  if (size > maxFileBytes) {
    const index = new LineIndex("");
    diagnostics.push(
      diagnosticAt(
        index,
        file,
        0,
        0,
        "error",
        "tooLarge",
        `file is ${size} bytes; devcontainer.json files over ${maxFileBytes} bytes are refused`,
      ),
    );
    return { file, text: "", index, root: undefined, value: undefined, diagnostics };
  }

  let text: string;
  if (typeof input === "string") {
    text = input;
  } else {
    const decoded = decodeUtf8(input, file);
    if (decoded.diagnostics.length) {
      return {
        file,
        text: decoded.text,
        index: new LineIndex(decoded.text),
        root: undefined,
        value: undefined,
        diagnostics: decoded.diagnostics,
      };
    }
    text = decoded.text;
  }
  // A byte-order mark is legal at the start; blank it rather than strip it so offsets still match the file.
  if (text.charCodeAt(0) === 0xfeff) text = ` ${text.slice(1)}`;
  const index = new LineIndex(text);
  const at = (
    offset: number,
    length: number,
    severity: DiagnosticSeverity,
    code: string,
    message: string,
    path: JsonPathSegment[] = [],
  ): void => {
    diagnostics.push(diagnosticAt(index, file, offset, length, severity, code, message, path));
  };

  if (text.trim() === "") {
    at(0, 0, "error", "empty", "file is empty: expected a JSON object");
    return { file, text, index, root: undefined, value: undefined, diagnostics };
  }

  // One iterative pass with the scanner before the recursive parser: deep nesting would
  // overflow its stack, and trailing commas are accepted but worth a warning.
  let depth = 0;
  let lastSignificant = 0;
  let lastCommaOffset = -1;
  const scanner = createScanner(text, false);
  for (let kind = scanner.scan(); kind !== token.eof; kind = scanner.scan()) {
    if (trivia.has(kind)) continue;
    if (kind === token.openBrace || kind === token.openBracket) {
      depth++;
      if (depth > maxNestingDepth) {
        at(
          scanner.getTokenOffset(),
          1,
          "error",
          "tooDeep",
          `nesting deeper than ${maxNestingDepth} levels is refused`,
        );
        return { file, text, index, root: undefined, value: undefined, diagnostics };
      }
    } else if (kind === token.closeBrace || kind === token.closeBracket) {
      depth--;
      if (lastSignificant === token.comma && lastCommaOffset >= 0) {
        at(
          lastCommaOffset,
          1,
          "warning",
          "trailingComma",
          "trailing comma (accepted, but strict JSON parsers reject it)",
        );
      }
    }
    if (kind === token.comma) lastCommaOffset = scanner.getTokenOffset();
    lastSignificant = kind;
  }

  const errors: ParseError[] = [];
  const root = parseTree(text, errors, {
    allowTrailingComma: true,
    disallowComments: false,
    allowEmptyContent: false,
  });
  for (const error of errors) {
    const snippet = text.slice(error.offset, error.offset + Math.min(error.length, 24)).replace(/\s+/g, " ");
    const base = parseErrorMessages[error.error] ?? "syntax error";
    const message = error.error === 1 && snippet ? `${base} '${snippet}'` : base;
    at(error.offset, error.length, "error", "syntax", message);
  }
  if (errors.length || !root) {
    if (!errors.length) at(0, 0, "error", "syntax", "no JSON value found");
    return {
      file,
      text,
      index,
      root: undefined,
      value: undefined,
      diagnostics: withoutTrailingCommaNoise(diagnostics),
    };
  }
  if (root.type !== "object") {
    at(
      root.offset,
      root.length,
      "error",
      "notAnObject",
      `devcontainer.json must contain a JSON object, not ${describeNodeType(root)}`,
    );
    return { file, text, index, root: undefined, value: undefined, diagnostics };
  }

  reportDuplicateKeys(root, (node, name, path) =>
    at(
      node.offset,
      node.length,
      "warning",
      "duplicateKey",
      `duplicate property "${name}": the last one wins`,
      path,
    ),
  );
  return { file, text, index, root, value: getNodeValue(root) as Record<string, unknown>, diagnostics };
}

/** The node at a JSON path, or its nearest existing ancestor (for a property that is missing). */
export function nodeAt(doc: ParsedDocument, path: readonly JsonPathSegment[]): Node | undefined {
  if (!doc.root) return undefined;
  for (let n = path.length; n >= 0; n--) {
    const node = findNodeAtLocation(doc.root, path.slice(0, n));
    if (node) return node;
  }
  return doc.root;
}

/**
 * A diagnostic at a JSON path: on the value (default) or on the property name (`key`), falling
 * back to the nearest ancestor that exists, and to 1:1 when the file has no tree.
 */
export function diagnosticAtPath(
  doc: ParsedDocument,
  path: readonly JsonPathSegment[],
  severity: DiagnosticSeverity,
  code: string,
  message: string,
  part: "value" | "key" = "value",
): Diagnostic {
  let node = nodeAt(doc, path);
  if (node && part === "key" && node.parent?.type === "property") node = node.parent.children?.[0] ?? node;
  return diagnosticAt(
    doc.index,
    doc.file,
    node?.offset ?? 0,
    node?.length ?? 0,
    severity,
    code,
    message,
    path,
  );
}

/** 1-based line and column of the value at a path, for the property table. */
export function positionOfPath(
  doc: ParsedDocument,
  path: readonly JsonPathSegment[],
): { line: number; column: number } {
  const node = nodeAt(doc, path);
  const keyed = node?.parent?.type === "property" ? node.parent : node;
  return doc.index.positionAt(keyed?.offset ?? 0);
}

function reportDuplicateKeys(
  node: Node,
  report: (key: Node, name: string, path: JsonPathSegment[]) => void,
  path: JsonPathSegment[] = [],
): void {
  if (node.type === "object") {
    const seen = new Set<string>();
    for (const property of node.children ?? []) {
      const keyNode = property.children?.[0];
      const valueNode = property.children?.[1];
      if (!keyNode) continue;
      const name = String(keyNode.value);
      if (seen.has(name)) report(keyNode, name, [...path, name]);
      seen.add(name);
      if (valueNode) reportDuplicateKeys(valueNode, report, [...path, name]);
    }
  } else if (node.type === "array") {
    (node.children ?? []).forEach((child, i) => reportDuplicateKeys(child, report, [...path, i]));
  }
}

// A trailing-comma warning next to a real syntax error is noise: the error is what matters.
function withoutTrailingCommaNoise(diagnostics: Diagnostic[]): Diagnostic[] {
  return diagnostics.filter((d) => d.code !== "trailingComma");
}

function describeNodeType(node: Node): string {
  switch (node.type) {
    case "array":
      return "an array";
    case "string":
      return "a string";
    case "number":
      return "a number";
    case "boolean":
      return "a boolean";
    case "null":
      return "null";
    default:
      return node.type;
  }
}

/**
 * Strict UTF-8 decoding that says where each invalid sequence is. TextDecoder's fatal mode only
 * says "somewhere"; users need the line and column.
 */
function decodeUtf8(bytes: Uint8Array, file: string): { text: string; diagnostics: Diagnostic[] } {
  try {
    return { text: new TextDecoder("utf-8", { fatal: true }).decode(bytes), diagnostics: [] };
  } catch {
    // fall through to locate the bad sequences
  }
  const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
  const index = new LineIndex(text);
  const diagnostics: Diagnostic[] = [];
  // The replacement decoder turns each maximal invalid subpart into one U+FFFD, so walking the
  // bytes in step with the decoded text gives each bad sequence's string offset.
  let byte = 0;
  let offset = 0;
  while (byte < bytes.length && diagnostics.length < 20) {
    const length = validSequenceLength(bytes, byte);
    if (length > 0) {
      offset += length === 4 ? 2 : 1; // astral characters are two UTF-16 units
      byte += length;
      continue;
    }
    const bad = invalidSubpartLength(bytes, byte);
    diagnostics.push(
      diagnosticAt(
        index,
        file,
        offset,
        1,
        "error",
        "encoding",
        `invalid UTF-8 byte 0x${bytes[byte]!.toString(16).padStart(2, "0")} (the file must be UTF-8)`,
      ),
    );
    byte += bad;
    offset += 1;
  }
  return { text, diagnostics };
}

// Length of a well-formed UTF-8 sequence at i, or 0 (Unicode 15 table 3-7).
function validSequenceLength(b: Uint8Array, i: number): number {
  const b0 = b[i]!;
  if (b0 < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf): boolean => {
    const v = b[i + k];
    return v !== undefined && v >= lo && v <= hi;
  };
  if (b0 >= 0xc2 && b0 <= 0xdf) return cont(1) ? 2 : 0;
  if (b0 === 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if ((b0 >= 0xe1 && b0 <= 0xec) || b0 === 0xee || b0 === 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (b0 === 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (b0 === 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (b0 >= 0xf1 && b0 <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (b0 === 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

// How many bytes the WHATWG decoder folds into one U+FFFD at an invalid position: the lead
// byte plus the continuation bytes that were valid so far.
function invalidSubpartLength(b: Uint8Array, i: number): number {
  const b0 = b[i]!;
  let need: number;
  let lo = 0x80;
  let hi = 0xbf;
  if (b0 >= 0xc2 && b0 <= 0xdf) need = 1;
  else if (b0 >= 0xe0 && b0 <= 0xef) {
    need = 2;
    if (b0 === 0xe0) lo = 0xa0;
    if (b0 === 0xed) hi = 0x9f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    need = 3;
    if (b0 === 0xf0) lo = 0x90;
    if (b0 === 0xf4) hi = 0x8f;
  } else return 1;
  let n = 1;
  while (n <= need) {
    const v = b[i + n];
    if (v === undefined || v < lo || v > hi) break;
    lo = 0x80;
    hi = 0xbf;
    n++;
  }
  return n;
}
