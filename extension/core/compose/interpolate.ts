/**
 * Compose's variable interpolation: `$$` is a literal dollar; `$NAME` and `${NAME}` read the
 * environment (unset → empty, with a warning); `${NAME:-default}` / `${NAME-default}` fall back
 * when unset or empty / only when unset; `${NAME:?message}` / `${NAME?message}` make the file
 * invalid under the same conditions; `${NAME:+alt}` / `${NAME+alt}` give `alt` when set (and
 * non-empty). Defaults and alternatives may themselves hold interpolations.
 */

/** What interpolating one string found. */
export interface InterpolationResult {
  readonly value: string;
  /** Variables read but not set, with no default: each becomes "" and deserves a warning. */
  readonly unset: readonly string[];
  /** Set when the string is invalid or a `?` variable is missing; `value` is then meaningless. */
  readonly error?: string;
}

export type Lookup = (name: string) => string | undefined;

const namePattern = /^[A-Za-z_][A-Za-z0-9_]*/;

/** Interpolates one string. Never throws. */
export function interpolate(text: string, lookup: Lookup): InterpolationResult {
  const unset: string[] = [];
  try {
    const value = expand(text, lookup, unset);
    return { value, unset };
  } catch (err) {
    if (err instanceof InterpolationError) return { value: text, unset, error: err.message };
    throw err;
  }
}

class InterpolationError extends Error {}

function expand(text: string, lookup: Lookup, unset: string[]): string {
  let out = "";
  let i = 0;
  while (i < text.length) {
    const dollar = text.indexOf("$", i);
    if (dollar < 0) {
      out += text.slice(i);
      break;
    }
    out += text.slice(i, dollar);
    const next = text[dollar + 1];
    if (next === "$") {
      out += "$";
      i = dollar + 2;
      continue;
    }
    if (next === "{") {
      const close = matchingBrace(text, dollar + 2);
      if (close < 0) throw new InterpolationError(`invalid interpolation format: "${text}" (no closing "}")`);
      out += braced(text.slice(dollar + 2, close), text, lookup, unset);
      i = close + 1;
      continue;
    }
    const name = namePattern.exec(text.slice(dollar + 1))?.[0];
    if (!name)
      throw new InterpolationError(
        `invalid interpolation format: "${text}" (write $$ for a literal $ not followed by a variable name)`,
      );
    out += read(name, lookup, unset);
    i = dollar + 1 + name.length;
  }
  return out;
}

/** The index of the `}` closing a `${` whose body starts at `from`, counting nested `${…}`. */
function matchingBrace(text: string, from: number): number {
  let depth = 1;
  for (let i = from; i < text.length; i++) {
    if (text[i] === "$" && text[i + 1] === "$") {
      i++;
      continue;
    }
    if (text[i] === "$" && text[i + 1] === "{") {
      depth++;
      i++;
    } else if (text[i] === "}") {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

function braced(body: string, whole: string, lookup: Lookup, unset: string[]): string {
  const name = namePattern.exec(body)?.[0];
  if (!name) throw new InterpolationError(`invalid interpolation format: "${whole}" (\${${body}})`);
  const rest = body.slice(name.length);
  if (rest === "") return read(name, lookup, unset);
  const op = /^(:-|-|:\?|\?|:\+|\+)/.exec(rest)?.[0];
  if (!op) throw new InterpolationError(`invalid interpolation format: "${whole}" (\${${body}})`);
  const arg = rest.slice(op.length);
  const value = lookup(name);
  const emptyCounts = op.startsWith(":");
  const missing = value === undefined || (emptyCounts && value === "");
  switch (op) {
    case ":-":
    case "-":
      return missing ? expand(arg, lookup, unset) : (value ?? "");
    case ":?":
    case "?":
      if (missing) {
        const message = expand(arg, lookup, unset);
        throw new InterpolationError(
          `required variable ${name} is ${value === undefined ? "missing" : "empty"}${message ? `: ${message}` : ""}`,
        );
      }
      return value ?? "";
    default:
      return missing ? "" : expand(arg, lookup, unset);
  }
}

function read(name: string, lookup: Lookup, unset: string[]): string {
  const value = lookup(name);
  if (value === undefined) {
    if (!unset.includes(name)) unset.push(name);
    return "";
  }
  return value;
}
