/**
 * Compose turns a string `command:` or `entrypoint:` into argv with shell quoting rules — single
 * quotes literal, double quotes with `\"` `\\` `\$` escapes, backslash escapes outside quotes —
 * without running a shell and without expanding anything.
 */
export function splitShellWords(text: string): { words: string[] } | { error: string } {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === "'") {
      const close = text.indexOf("'", i + 1);
      if (close < 0) return { error: `unterminated single quote in "${text}"` };
      word += text.slice(i + 1, close);
      inWord = true;
      i = close + 1;
    } else if (ch === '"') {
      let j = i + 1;
      for (; j < text.length && text[j] !== '"'; j++) {
        if (text[j] === "\\" && j + 1 < text.length && '"\\$`\n'.includes(text[j + 1]!)) {
          j++;
          if (text[j] !== "\n") word += text[j];
        } else word += text[j];
      }
      if (j >= text.length) return { error: `unterminated double quote in "${text}"` };
      inWord = true;
      i = j + 1;
    } else if (ch === "\\") {
      if (i + 1 < text.length) {
        if (text[i + 1] !== "\n") word += text[i + 1];
        inWord = true;
      }
      i += 2;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
      i++;
    } else {
      word += ch;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(word);
  return { words };
}

const unitMs: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** A Go duration (`1m30s`, `1.5s`, `500ms`, `0`) in milliseconds, or undefined when invalid. */
export function parseDuration(text: string): number | undefined {
  const t = text.trim();
  if (t === "0") return 0;
  const part = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let at = 0;
  while (at < t.length) {
    part.lastIndex = at;
    const m = part.exec(t);
    if (!m) return undefined;
    total += Number(m[1]) * unitMs[m[2]!]!;
    at = part.lastIndex;
  }
  return at > 0 ? total : undefined;
}
