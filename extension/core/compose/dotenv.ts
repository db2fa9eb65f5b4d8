import { LineIndex, diagnosticAt } from "../devcontainer/diagnostics";
import type { Diagnostic } from "../devcontainer/diagnostics";
import { interpolate } from "./interpolate";
import type { Lookup } from "./interpolate";

/** One file of `NAME=value` lines read the way Compose reads `.env` and `env_file`. */
export interface DotenvResult {
  /** In file order; a later line for the same name wins. */
  readonly vars: Map<string, string>;
  readonly diagnostics: Diagnostic[];
}

const keyPattern = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/**
 * Parses dotenv text: blank lines and `#` comments skipped, an optional `export ` prefix,
 * `NAME=value` where the value is single-quoted (literal, may span lines), double-quoted
 * (`\n \r \t \\ \" \$` escapes, interpolated, may span lines) or bare (trimmed, ` #…` comment
 * removed, interpolated). A bare `NAME` takes its value from `lookup` and is skipped when unset.
 * Interpolation sees the names defined above it in the file first, then `lookup`.
 */
export function parseDotenv(text: string, file: string, lookup: Lookup): DotenvResult {
  const index = new LineIndex(text);
  const vars = new Map<string, string>();
  const diagnostics: Diagnostic[] = [];
  const error = (offset: number, length: number, message: string): void => {
    diagnostics.push(diagnosticAt(index, file, offset, length, "error", "envFile", message));
  };
  const scoped: Lookup = (name) => vars.get(name) ?? lookup(name);
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  while (i < text.length) {
    const lineEnd = endOfLine(text, i);
    const line = text.slice(i, lineEnd);
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) {
      i = nextLine(text, lineEnd);
      continue;
    }
    const lead = line.length - line.trimStart().length;
    let start = i + lead;
    if (/^export\s+/.test(text.slice(start, lineEnd)))
      start += /^export\s+/.exec(text.slice(start))![0].length;
    const eq = text.indexOf("=", start);
    if (eq < 0 || eq > lineEnd) {
      const name = text.slice(start, lineEnd).trim();
      if (!keyPattern.test(name)) error(start, name.length, `"${name}" is not a NAME=value line`);
      else {
        const value = lookup(name);
        if (value !== undefined) vars.set(name, value);
      }
      i = nextLine(text, lineEnd);
      continue;
    }
    const name = text.slice(start, eq).trim();
    if (!keyPattern.test(name)) {
      error(start, eq - start, `"${name}" is not a valid variable name`);
      i = nextLine(text, lineEnd);
      continue;
    }
    let v = eq + 1;
    while (text[v] === " " || text[v] === "\t") v++;
    const quote = text[v];
    if (quote === "'" || quote === '"') {
      const close = closingQuote(text, v + 1, quote);
      if (close < 0) {
        error(v, 1, `the ${quote === "'" ? "single" : "double"} quote opened here is never closed`);
        break;
      }
      const body = text.slice(v + 1, close);
      let value = body;
      if (quote === '"') {
        const interpolated = interpolate(unescapeDouble(body), scoped);
        if (interpolated.error) error(v, close - v + 1, `${name}: ${interpolated.error}`);
        value = interpolated.value;
      }
      vars.set(name, value);
      const after = endOfLine(text, close);
      const rest = text.slice(close + 1, after).trim();
      if (rest !== "" && !rest.startsWith("#"))
        error(close + 1, after - close - 1, `unexpected text after the closing quote of ${name}`);
      i = nextLine(text, after);
      continue;
    }
    let raw = text.slice(v, lineEnd);
    const comment = /\s#/.exec(raw);
    if (comment) raw = raw.slice(0, comment.index);
    const interpolated = interpolate(raw.trim(), scoped);
    if (interpolated.error) error(v, lineEnd - v, `${name}: ${interpolated.error}`);
    vars.set(name, interpolated.value);
    i = nextLine(text, lineEnd);
  }
  return { vars, diagnostics };
}

function endOfLine(text: string, from: number): number {
  const n = text.indexOf("\n", from);
  const end = n < 0 ? text.length : n;
  return end > from && text[end - 1] === "\r" ? end - 1 : end;
}

function nextLine(text: string, lineEnd: number): number {
  if (text[lineEnd] === "\r") lineEnd++;
  return text[lineEnd] === "\n" ? lineEnd + 1 : lineEnd;
}

function closingQuote(text: string, from: number, quote: string): number {
  for (let i = from; i < text.length; i++) {
    if (quote === '"' && text[i] === "\\") {
      i++;
      continue;
    }
    if (text[i] === quote) return i;
  }
  return -1;
}

function unescapeDouble(body: string): string {
  // `\$` stays a literal dollar through interpolation, which reads `$$` as one.
  return body.replace(/\\(.)/gs, (whole, ch: string) => {
    switch (ch) {
      case "n":
        return "\n";
      case "r":
        return "\r";
      case "t":
        return "\t";
      case "\\":
        return "\\";
      case '"':
        return '"';
      case "$":
        return "$$";
      default:
        return whole;
    }
  });
}
