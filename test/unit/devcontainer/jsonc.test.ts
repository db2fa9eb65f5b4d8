import { test } from "node:test";
import assert from "node:assert/strict";
import { formatDiagnostic, LineIndex } from "../../../extension/core/devcontainer/diagnostics";
import {
  diagnosticAtPath,
  maxNestingDepth,
  parseDevcontainerText,
  positionOfPath,
} from "../../../extension/core/devcontainer/jsonc";

const file = "/p/.devcontainer/devcontainer.json";
const errorsOf = (text: string | Uint8Array) =>
  parseDevcontainerText(text, file).diagnostics.filter((d) => d.severity === "error");

test("comments and trailing commas are accepted; the trailing comma is a located warning", () => {
  const doc = parseDevcontainerText(
    '// top\n{\n  /* block */ "image": "alpine", // end\n  "runArgs": ["-e", "A=1",],\n}\n',
    file,
  );
  assert.deepEqual(JSON.parse(JSON.stringify(doc.value)), { image: "alpine", runArgs: ["-e", "A=1"] });
  const warnings = doc.diagnostics.filter((d) => d.code === "trailingComma");
  assert.deepEqual(
    warnings.map((d) => [d.severity, d.line, d.column]),
    [
      ["warning", 4, 26],
      ["warning", 4, 28],
    ],
  );
});

test("a syntax error is reported at its line and column, and no value is produced", () => {
  const text = '{\n  "name": "x",\n  "image": "debian"\n  "remoteUser": "root"\n}\n';
  const doc = parseDevcontainerText(text, file);
  assert.equal(doc.value, undefined, "a broken file is never repaired into a value");
  const [error] = errorsOf(text);
  assert.ok(error);
  assert.equal(error.message, "',' expected");
  assert.equal(error.line, 4);
  assert.equal(error.column, 3);
  assert.equal(formatDiagnostic(error), `${file}:4:3: error: ',' expected`);
});

test("every syntax error in a file is collected, not just the first", () => {
  const text = '{\n  "a": 1\n  "b": [1,, 2],\n  "c": tru,\n  "d": "unterminated\n}';
  const errors = errorsOf(text);
  assert.ok(errors.length >= 4, `expected ≥4 errors, got ${errors.map(formatDiagnostic).join("\n")}`);
  const lines = new Set(errors.map((e) => e.line));
  for (const line of [3, 4, 5]) assert.ok(lines.has(line), `an error on line ${line}`);
  assert.ok(errors.some((e) => e.message === "unterminated string" && e.line === 5 && e.column === 8));
  // No trailing-comma warning noise next to real errors.
  assert.ok(!parseDevcontainerText(text, file).diagnostics.some((d) => d.code === "trailingComma"));
});

test("lines count \\n, \\r\\n and \\r; columns are 1-based UTF-16 units like VS Code", () => {
  const index = new LineIndex("ab\r\ncd\ref\ng😀h");
  assert.deepEqual(index.positionAt(0), { line: 1, column: 1 });
  assert.deepEqual(index.positionAt(4), { line: 2, column: 1 });
  assert.deepEqual(index.positionAt(7), { line: 3, column: 1 });
  assert.deepEqual(
    index.positionAt(13),
    { line: 4, column: 4 },
    "the emoji takes two columns, as in VS Code",
  );
  const crlf = errorsOf('{\r\n  "a": 1\r\n  "b": 2\r\n}');
  assert.equal(crlf[0]?.line, 3);
  assert.equal(crlf[0]?.column, 3);
});

test("a byte-order mark is allowed and does not shift columns", () => {
  const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{ "image": 1 ')]);
  const doc = parseDevcontainerText(bytes, file);
  const [error] = doc.diagnostics;
  assert.equal(error?.message, "'}' expected");
  assert.equal(error?.column, 14);
});

test("invalid UTF-8 is located at the bad byte", () => {
  const bytes = Buffer.concat([
    Buffer.from('{\n  "name": "caf'),
    Buffer.from([0xc3, 0x28]),
    Buffer.from('",\n  "image": "x\u00e9y", "z": "'),
    Buffer.from([0xff]),
    Buffer.from('"\n}'),
  ]);
  const errors = errorsOf(bytes);
  assert.deepEqual(
    errors.map((e) => [e.code, e.line, e.column]),
    [
      ["encoding", 2, 15],
      ["encoding", 3, 25],
    ],
  );
  assert.match(errors[0]!.message, /invalid UTF-8 byte 0xc3/);
});

test("an empty file, a non-object and text after the object are errors", () => {
  assert.equal(errorsOf("  \n").at(0)?.code, "empty");
  const array = errorsOf('\n  ["image"]');
  assert.equal(array[0]?.code, "notAnObject");
  assert.deepEqual([array[0]?.line, array[0]?.column], [2, 3]);
  assert.equal(
    errorsOf('{ "image": "a" } {}').at(0)?.message,
    "end of file expected: there is text after the top-level value",
  );
});

test("nesting deeper than the limit is refused at the offending bracket without recursing", () => {
  const depth = 100_000;
  const text = `{"customizations": ${"[".repeat(depth)}${"]".repeat(depth)}}`;
  const errors = errorsOf(text);
  assert.equal(errors.length, 1);
  assert.equal(errors[0]?.code, "tooDeep");
  assert.equal(errors[0]?.column, 20 + maxNestingDepth - 1);
});

test("duplicate keys warn at the second key", () => {
  const doc = parseDevcontainerText('{\n  "image": "a",\n  "image": "b"\n}', file);
  assert.equal(doc.value?.["image"], "b");
  const [dup] = doc.diagnostics;
  assert.equal(dup?.code, "duplicateKey");
  assert.deepEqual([dup?.line, dup?.column, dup?.severity], [3, 3, "warning"]);
});

test("offsets of every property are kept: diagnostics point at a value or its key", () => {
  const doc = parseDevcontainerText('{\n  "hostRequirements": {\n    "cpus": "four"\n  }\n}', file);
  const atValue = diagnosticAtPath(doc, ["hostRequirements", "cpus"], "error", "x", "m");
  assert.deepEqual([atValue.line, atValue.column, atValue.endLine, atValue.endColumn], [3, 13, 3, 19]);
  const atKey = diagnosticAtPath(doc, ["hostRequirements", "cpus"], "error", "x", "m", "key");
  assert.deepEqual([atKey.line, atKey.column, atKey.endColumn], [3, 5, 11]);
  // A missing property falls back to its nearest existing ancestor.
  const missing = diagnosticAtPath(doc, ["hostRequirements", "memory"], "error", "x", "m");
  assert.deepEqual([missing.line, missing.column], [2, 23]);
  assert.deepEqual(positionOfPath(doc, ["hostRequirements", "cpus"]), { line: 3, column: 5 });
});
