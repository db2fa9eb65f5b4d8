import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { LineIndex } from "../../../extension/core/devcontainer/diagnostics";
import type { Diagnostic } from "../../../extension/core/devcontainer/diagnostics";
import { parseDevcontainerText } from "../../../extension/core/devcontainer/jsonc";
import { validateDevcontainer } from "../../../extension/core/devcontainer/validate";

// Deterministic: the same 100 files on every run, so a failure can be reproduced.
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = prng(20240611);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const between = (low: number, high: number): number => low + Math.floor(random() * (high - low + 1));

const corpusDir = join(import.meta.dirname, "../../fixtures/devcontainer-corpus");
const corpus = ["templates", "cli"].flatMap((d) =>
  readdirSync(join(corpusDir, d))
    .filter((f) => f.endsWith(".jsonc"))
    .map((f) => readFileSync(join(corpusDir, d, f), "utf8")),
);

interface Case {
  readonly kind: string;
  readonly input: string | Uint8Array;
  /** Where the first error must be, when the generator knows. */
  readonly at?: { line: number; column: number };
  /** The JSON path the error must concern, when the generator knows. */
  readonly path?: readonly (string | number)[];
}

function truncation(): Case {
  const text = pick(corpus);
  const start = text.indexOf("{") + 1;
  const end = text.lastIndexOf("}");
  // Cut strictly inside the top-level object: never a complete value.
  const cut = between(start, end - 1);
  return { kind: "truncation", input: text.slice(0, cut) };
}

const wrongTypes: Array<[readonly (string | number)[], unknown]> = [
  [["image"], 42],
  [["name"], { a: 1 }],
  [["hostRequirements", "cpus"], "four"],
  [["hostRequirements", "cpus"], 0],
  [["hostRequirements", "memory"], "8 gigs"],
  [["hostRequirements", "gpu"], "yes"],
  [["forwardPorts"], "3000"],
  [["forwardPorts", 0], 70000],
  [["runArgs", 0], 1],
  [["containerEnv", "A"], 1],
  [["mounts", 0], 5],
  [["mounts", 0, "type"], "tmpfs"],
  [["postCreateCommand"], 7],
  [["postStartCommand", "x"], { y: 1 }],
  [["privileged"], "yes"],
  [["waitFor"], "later"],
  [["shutdownAction"], 1],
  [["capAdd"], "SYS_PTRACE"],
  [["features"], ["node"]],
  [["remoteEnv"], ["A=1"]],
  [["appPort"], { p: 1 }],
  [["portsAttributes", "3000", "label"], 3],
  [["secrets", "TOKEN"], "x"],
  [["userEnvProbe"], "bash"],
  [["workspaceFolder"], false],
  [["overrideCommand"], "true"],
  [["build"], "Dockerfile"],
  [["customizations", "styrolite", "resources", "maxCpus"], -1],
  [["customizations", "styrolite", "scratchDisk"], {}],
  [["customizations", "styrolite", "virtualization"], "hvm"],
  [["customizations", "styrolite", "devices"], "gpu0"],
];

function setAt(root: Record<string, unknown>, path: readonly (string | number)[], value: unknown): void {
  let at: Record<string | number, unknown> = root;
  path.forEach((segment, i) => {
    if (i === path.length - 1) {
      at[segment] = value;
      return;
    }
    const nextIsIndex = typeof path[i + 1] === "number";
    at[segment] ??= nextIsIndex ? [] : {};
    at = at[segment] as Record<string | number, unknown>;
  });
}

function wrongType(i: number): Case {
  const [path, value] = wrongTypes[i % wrongTypes.length]!;
  const config: Record<string, unknown> = { name: "fuzz", image: "alpine:3.20", remoteUser: "root" };
  setAt(config, path, value);
  return { kind: "wrong type", input: JSON.stringify(config, null, 2), path };
}

function hugeString(i: number): Case {
  const size = between(100_000, 400_000);
  const body = "x".repeat(size);
  switch (i % 4) {
    case 0:
      return { kind: "huge unterminated string", input: `{\n  "name": "${body}\n}` };
    case 1:
      return {
        kind: "huge image",
        input: `{\n  "image": "${body}"\n}`,
        at: { line: 2, column: 12 },
        path: ["image"],
      };
    case 2:
      return {
        kind: "huge string for a number",
        input: `{\n  "image": "a",\n  "hostRequirements": { "cpus": "${body}" }\n}`,
        path: ["hostRequirements", "cpus"],
      };
    default:
      return {
        kind: "file over 1 MiB",
        input: `{ "name": "${"y".repeat(1024 * 1024 + size)}" }`,
        at: { line: 1, column: 1 },
      };
  }
}

function deepNesting(): Case {
  const depth = between(65, 20_000);
  let open = "";
  let close = "";
  for (let d = 0; d < depth; d++) {
    if (random() < 0.5) {
      open += "[";
      close = `]${close}`;
    } else {
      open += '{"k":';
      close = `}${close}`;
    }
  }
  const key = pick(["customizations", "features", "containerEnv", "mounts"]);
  return { kind: "deep nesting", input: `{\n  "image": "a",\n  "${key}": ${open}1${close}\n}` };
}

const badSequences = [
  [0xff],
  [0xc0, 0x80],
  [0xed, 0xa0, 0x80],
  [0x80],
  [0xe2, 0x82],
  [0xf5, 0x80, 0x80, 0x80],
  [0xc3],
];

function invalidUtf8(): Case {
  const text = pick(corpus.filter((t) => Buffer.byteLength(t) === t.length));
  // Insert at an ASCII position, so the expected line:col is computable from the text.
  const offset = between(0, text.length - 1);
  const bad = Buffer.from(pick(badSequences));
  const bytes = Buffer.concat([Buffer.from(text.slice(0, offset)), bad, Buffer.from(text.slice(offset))]);
  return { kind: "invalid UTF-8", input: bytes, at: new LineIndex(text).positionAt(offset) };
}

const cases: Case[] = [
  ...Array.from({ length: 25 }, truncation),
  ...Array.from({ length: 25 }, (_, i) => wrongType(i)),
  ...Array.from({ length: 15 }, (_, i) => hugeString(i)),
  ...Array.from({ length: 15 }, deepNesting),
  ...Array.from({ length: 20 }, invalidUtf8),
];

test("100 generated malformed files → 100 located errors, 0 crashes", () => {
  assert.equal(cases.length, 100);
  let located = 0;
  const kinds = new Map<string, number>();
  for (const [n, c] of cases.entries()) {
    let errors: Diagnostic[];
    let lines: number;
    try {
      const doc = parseDevcontainerText(c.input, `fuzz-${n}.json`);
      const validation = validateDevcontainer(doc);
      errors = [...doc.diagnostics, ...validation.diagnostics].filter((d) => d.severity === "error");
      lines = Math.max(new LineIndex(doc.text).positionAt(doc.text.length).line, 1);
    } catch (err) {
      assert.fail(`case ${n} (${c.kind}) crashed: ${String(err)}`);
    }
    assert.ok(errors.length > 0, `case ${n} (${c.kind}): no error reported`);
    for (const e of errors) {
      assert.ok(
        e.line >= 1 && e.line <= lines && e.column >= 1,
        `case ${n} (${c.kind}): ${e.line}:${e.column} outside the file`,
      );
      assert.ok(e.message.length > 5);
    }
    if (c.at)
      assert.deepEqual(
        { line: errors[0]!.line, column: errors[0]!.column },
        c.at,
        `case ${n} (${c.kind}): ${errors[0]!.message}`,
      );
    if (c.path) {
      const want = JSON.stringify(c.path);
      assert.ok(
        errors.some((e) => want.startsWith(JSON.stringify(e.path).slice(0, -1))),
        `case ${n} (${c.kind}): an error about ${want}, got ${errors.map((e) => JSON.stringify(e.path)).join(" ")}`,
      );
    }
    located++;
    kinds.set(c.kind, (kinds.get(c.kind) ?? 0) + 1);
  }
  console.log(
    `fuzz: ${located} of ${cases.length} malformed files gave located errors (${[...kinds].map(([k, v]) => `${k} ${v}`).join(", ")}), 0 crashes`,
  );
  assert.equal(located, 100);
});
