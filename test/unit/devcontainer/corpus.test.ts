import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { readFileSync } from "node:fs";
import { parse as strictParse } from "jsonc-parser";
import type { ParseError } from "jsonc-parser";
import { buildLaunchPlan } from "../../../extension/core/devcontainer/buildPlan";
import { checkConfigFile } from "../../../extension/core/devcontainer/load";
import { planToJson } from "../../../extension/core/devcontainer/planJson";
import { renderPlan } from "../../../extension/core/devcontainer/renderPlan";

const corpus = join(import.meta.dirname, "../../fixtures/devcontainer-corpus");
const files = ["templates", "cli"].flatMap((dir) =>
  readdirSync(join(corpus, dir))
    .filter((f) => f.endsWith(".jsonc"))
    .sort()
    .map((f) => join(corpus, dir, f)),
);

test("every corpus file gives a plan or a clear refusal: no crash, no silent repair", async () => {
  let plans = 0;
  let refusals = 0;
  let invalid = 0;
  let warnedRepairs = 0;
  const reasons = new Map<string, number>();
  for (const file of files) {
    const checked = await checkConfigFile(file);
    const errors = checked.diagnostics.filter((d) => d.severity === "error");
    // jsonc-parser in strict mode (no trailing commas): what it rejects, we must have reported.
    const strictErrors: ParseError[] = [];
    strictParse(readFileSync(file, "utf8"), strictErrors, {
      allowTrailingComma: false,
      disallowComments: false,
    });
    if (strictErrors.length) {
      // Whatever strict JSON(C) rejects is either an error we report or a warning we report.
      assert.ok(
        errors.length || checked.diagnostics.some((d) => d.code === "trailingComma"),
        `${file}: accepted without a word`,
      );
      if (!errors.length) warnedRepairs++;
    }
    if (errors.length || !checked.config) {
      invalid++;
      for (const e of errors)
        assert.ok(e.line >= 1 && e.column >= 1 && e.file === file, `${file}: located error`);
      continue;
    }
    const name = file.slice(file.lastIndexOf("/") + 1, -".jsonc".length);
    const plan = buildLaunchPlan({
      doc: checked.doc,
      config: checked.config,
      diagnostics: checked.diagnostics,
      localFolder: `/home/dev/${name}`,
      configFile: `/home/dev/${name}/.devcontainer/devcontainer.json`,
      env: { HOME: "/home/dev" },
    });
    // Both renderings must work for every plan, launchable or not.
    assert.doesNotThrow(() => JSON.stringify(planToJson(plan)));
    assert.ok(renderPlan(plan).includes(plan.zoneName));
    assert.ok(plan.properties.length > 0, `${file}: a property table`);
    for (const key of Object.keys(checked.doc.value ?? {})) {
      assert.ok(
        plan.properties.some((p) => p.path[0] === key),
        `${file}: no row for ${key}`,
      );
    }
    if (plan.launchable) plans++;
    else {
      refusals++;
      assert.ok(
        plan.refusals.length > 0 && plan.refusals.every((r) => r.length > 20),
        `${file}: refusals say why`,
      );
      for (const r of plan.refusals) {
        const kind =
          r.startsWith("image:") && r.includes("${") ? "image placeholder" : r.slice(0, r.indexOf(":"));
        reasons.set(kind, (reasons.get(kind) ?? 0) + 1);
      }
    }
  }
  console.log(
    `corpus: ${files.length} files → ${plans} plans, ${refusals} refusals, ${invalid} with located errors; ${warnedRepairs} accepted with a trailing-comma warning`,
  );
  console.log(
    `refusal reasons: ${[...reasons]
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k} ${n}`)
      .join(", ")}`,
  );
  assert.equal(files.length, 136);
  assert.equal(plans + refusals + invalid, files.length);
  assert.equal(plans, 86);
  assert.equal(refusals, 50);
  assert.equal(invalid, 0);
  assert.equal(warnedRepairs, 4);
});
