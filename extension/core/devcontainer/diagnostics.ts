/**
 * Located diagnostics for devcontainer.json: every problem we report points at a range of the
 * file, 1-based as editors show it, so the CLI can print `file:line:col` and the extension can
 * put the same value in the Problems panel without re-parsing.
 */

/** How bad a diagnostic is. `error` stops the plan; `warning`/`info` are shown and kept. */
export type DiagnosticSeverity = "error" | "warning" | "info";

/** A segment of a JSON path: a property name or an array index. */
export type JsonPathSegment = string | number;

/**
 * One problem in a devcontainer.json. Lines and columns are 1-based; columns count UTF-16
 * code units like VS Code does. `endLine`/`endColumn` are exclusive (the position just after
 * the range). `path` is the JSON path of the value concerned (empty for the whole file or for
 * syntax errors outside any known value).
 */
export interface Diagnostic {
  readonly severity: DiagnosticSeverity;
  /** Stable identifier of the kind of problem, for tests and quick fixes (e.g. "syntax", "unknownProperty"). */
  readonly code: string;
  readonly message: string;
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly endLine: number;
  readonly endColumn: number;
  readonly path: readonly JsonPathSegment[];
}

/** A 1-based position. */
export interface Position {
  readonly line: number;
  readonly column: number;
}

/**
 * Maps string offsets to 1-based line/column. Line breaks are \n, \r\n and \r, the three
 * sequences JSON editors treat as line ends.
 */
export class LineIndex {
  private readonly starts: number[] = [0];

  constructor(readonly text: string) {
    for (let i = 0; i < text.length; i++) {
      const ch = text.charCodeAt(i);
      if (ch === 13 /* \r */) {
        if (text.charCodeAt(i + 1) === 10) i++;
        this.starts.push(i + 1);
      } else if (ch === 10 /* \n */) {
        this.starts.push(i + 1);
      }
    }
  }

  /** The position of a string offset, clamped into the text. */
  positionAt(offset: number): Position {
    const at = Math.max(0, Math.min(offset, this.text.length));
    let low = 0;
    let high = this.starts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if ((this.starts[mid] ?? 0) <= at) low = mid;
      else high = mid - 1;
    }
    return { line: low + 1, column: at - (this.starts[low] ?? 0) + 1 };
  }
}

/** Builds a diagnostic covering `[offset, offset + length)` of a file. */
export function diagnosticAt(
  index: LineIndex,
  file: string,
  offset: number,
  length: number,
  severity: DiagnosticSeverity,
  code: string,
  message: string,
  path: readonly JsonPathSegment[] = [],
): Diagnostic {
  const start = index.positionAt(offset);
  const end = index.positionAt(offset + Math.max(length, 0));
  return {
    severity,
    code,
    message,
    file,
    line: start.line,
    column: start.column,
    endLine: end.line,
    endColumn: end.column,
    path: [...path],
  };
}

/** `file:line:col: severity: message`, the form compilers print and editors link. */
export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.column}: ${d.severity}: ${d.message}`;
}

/** `hostRequirements.cpus`, `runArgs[2]`, `portsAttributes["3000"]`: how we name a value in messages. */
export function formatJsonPath(path: readonly JsonPathSegment[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(segment)) out += out ? `.${segment}` : segment;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** True when any diagnostic is an error. */
export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === "error");
}

/** By file and position (errors before warnings at the same spot): the order the CLI prints them in. */
export function sortDiagnostics(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  const rank: Record<DiagnosticSeverity, number> = { error: 0, warning: 1, info: 2 };
  return [...diagnostics].sort(
    (a, b) =>
      a.file.localeCompare(b.file) ||
      a.line - b.line ||
      a.column - b.column ||
      rank[a.severity] - rank[b.severity],
  );
}
