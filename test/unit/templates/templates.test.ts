import { test, after } from "node:test";
import assert from "node:assert/strict";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  TemplateError,
  readTemplateFolder,
  renderTemplate,
  templateFromFiles,
  writeTemplate,
} from "../../../extension/core/templates/apply";
import {
  parseTemplateDefinition,
  substituteTemplateOptions,
} from "../../../extension/core/templates/template";

const base = mkdtempSync(join(tmpdir(), "templates-unit-"));
after(() => rmSync(base, { recursive: true, force: true }));
const enc = (s: string) => new TextEncoder().encode(s);

const definition = JSON.stringify({
  id: "demo",
  version: "1.0.0",
  name: "Demo",
  options: {
    imageVariant: { type: "string", proposals: ["bookworm", "trixie"], default: "bookworm" },
    flavour: { type: "string", enum: ["a", "b"], default: "a" },
    installZsh: { type: "boolean", default: "true" },
  },
  optionalPaths: [".github/*"],
});

function demo() {
  return templateFromFiles("demo-folder", [
    { path: "devcontainer-template.json", bytes: enc(definition), mode: 0o644 },
    { path: "README.md", bytes: enc("# the template's readme"), mode: 0o644 },
    {
      path: ".devcontainer/devcontainer.json",
      bytes: enc(
        '{"image": "debian:${templateOption:imageVariant}", "x": "${templateOption:flavour}/${templateOption:installZsh}"}',
      ),
      mode: 0o444,
    },
    { path: ".devcontainer/setup.sh", bytes: enc("echo ${templateOption:nope}\n"), mode: 0o555 },
    { path: ".github/dependabot.yml", bytes: enc("version: 2\n"), mode: 0o644 },
    { path: "logo.bin", bytes: new Uint8Array([0, 1, 2, 0x24, 0x7b]), mode: 0o644 },
  ]);
}

test("options: defaults fill what is not given, values are checked, placeholders are filled in every text file", () => {
  const rendered = renderTemplate(demo(), { imageVariant: "trixie" });
  assert.deepEqual(rendered.options.defaulted, ["flavour", "installZsh"]);
  const text = (p: string) => new TextDecoder().decode(rendered.files.find((f) => f.path === p)!.bytes);
  assert.equal(text(".devcontainer/devcontainer.json"), '{"image": "debian:trixie", "x": "a/true"}');
  assert.deepEqual(rendered.unknownPlaceholders, [{ path: ".devcontainer/setup.sh", names: ["nope"] }]);
  assert.ok(!rendered.files.some((f) => f.path === "README.md" || f.path === "devcontainer-template.json"));
  assert.deepEqual(
    rendered.files.find((f) => f.path === "logo.bin")!.bytes,
    new Uint8Array([0, 1, 2, 0x24, 0x7b]),
  );
  assert.ok(!renderTemplate(demo(), {}, [".github/*"]).files.some((f) => f.path.startsWith(".github/")));
  assert.throws(() => renderTemplate(demo(), { flavour: "c" }), /option "flavour" is one of a, b, not "c"/);
  assert.throws(() => renderTemplate(demo(), { installZsh: "yes" }), /true or false/);
  assert.throws(() => renderTemplate(demo(), { colour: "red" }), /has no option "colour"/);
});

test("applying refuses to overwrite without force and writes nothing; force overwrites; modes keep only the x bit", async () => {
  const target = join(base, "project");
  mkdirSync(join(target, ".devcontainer"), { recursive: true });
  writeFileSync(join(target, ".devcontainer/devcontainer.json"), "mine");
  const rendered = renderTemplate(demo(), {});
  await assert.rejects(writeTemplate(rendered, target, { force: false }), (err: unknown) => {
    assert.ok(TemplateError.is(err, "exists"));
    assert.deepEqual(err.details.conflicts, [".devcontainer/devcontainer.json"]);
    return true;
  });
  assert.equal(readFileSync(join(target, ".devcontainer/devcontainer.json"), "utf8"), "mine");
  assert.ok(!existsSync(join(target, ".devcontainer/setup.sh")), "nothing else was written");
  const { written } = await writeTemplate(rendered, target, { force: true });
  assert.equal(written.length, rendered.files.length);
  assert.match(readFileSync(join(target, ".devcontainer/devcontainer.json"), "utf8"), /debian:bookworm/);
  const { statSync } = await import("node:fs");
  assert.equal(statSync(join(target, ".devcontainer/setup.sh")).mode & 0o777, 0o755);
});

test("a broken definition is a located error; entries outside the folder are refused", () => {
  const parsed = parseTemplateDefinition(
    '{\n  "id": "x",\n  "options": {"o": {"type": "number", "default": 1}}\n}',
    "/t/devcontainer-template.json",
  );
  assert.equal(parsed.definition, undefined);
  const e = parsed.diagnostics.find((d) => d.severity === "error")!;
  assert.equal(`${e.line}:${e.message}`, '3:option "o": type is "string" or "boolean"');
  assert.throws(
    () =>
      templateFromFiles("evil", [
        { path: "devcontainer-template.json", bytes: enc('{"id": "e"}'), mode: 0o644 },
        { path: "../../etc/passwd", bytes: enc("x"), mode: 0o644 },
      ]),
    (err: unknown) => TemplateError.is(err, "unsafe"),
  );
  assert.deepEqual(
    substituteTemplateOptions("${templateOption:a}-${templateOption: a }", new Map([["a", "1"]])),
    {
      text: "1-1",
      unknown: [],
    },
  );
});

test("every template of the corpus parses and renders with its defaults, leaving no placeholder", async () => {
  const root = join(import.meta.dirname, "../../fixtures/devcontainer-corpus/projects");
  assert.ok(existsSync(root), `${root} is missing`);
  let count = 0;
  for (const name of readdirSync(root).sort()) {
    const folder = join(root, name);
    if (!existsSync(join(folder, "devcontainer-template.json"))) continue;
    const source = await readTemplateFolder(folder);
    const rendered = renderTemplate(source, {});
    for (const f of rendered.files) {
      const text = new TextDecoder().decode(f.bytes);
      assert.ok(!text.includes("${templateOption:"), `${name}/${f.path} keeps a placeholder`);
    }
    count++;
  }
  assert.ok(count >= 40, `${count} templates`);
});
