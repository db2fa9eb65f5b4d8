// `zonectl plan` over whole project folders (the corpus's projects/: devcontainer.json with its
// Dockerfiles, local features, lockfiles and Compose files): every config plans without a crash,
// and the ones refused are exactly those listed here, each for a reason the reference CLI also
// rejects. A change in either list is a change in what users can launch: update it on purpose.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { DevcontainerError } from "../../../extension/core/devcontainer/errors";
import { planFromPath } from "../../../extension/core/devcontainer/load";
import { planToJson } from "../../../extension/core/devcontainer/planJson";
import { renderPlan } from "../../../extension/core/devcontainer/renderPlan";

const root = join(import.meta.dirname, "../../fixtures/devcontainer-corpus/projects");

function configs(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name === "devcontainer.json" || name === ".devcontainer.json") out.push(path);
    }
  };
  walk(root);
  return out;
}

/**
 * Every config that is not launchable, and why. Most are cases the reference CLI rejects too:
 * the deprecated GitHub-release feature form (`owner/repo/id`), short ids that never were
 * features, local features outside `.devcontainer/`, a tarball not named
 * `devcontainer-feature-<id>.tgz`, a lockfile whose integrity contradicts its pin, a template that
 * expects the user's own Dockerfile or Compose file, a test config with no image at all.
 */
const githubForm = /deprecated GitHub-release form/;
const expectedRefusals: Record<string, RegExp> = {
  "cli__src__test__configs__dockerfile-with-syntax/.devcontainer.json": githubForm,
  "cli__src__test__configs__dockerfile-with-target/.devcontainer.json": githubForm,
  "cli__src__test__configs__compose-image-with-features/.devcontainer/devcontainer.json": githubForm,
  "cli__src__test__container-features__configs__invalid-configs__invalid-v1-features/.devcontainer.json":
    githubForm,
  "cli__src__test__container-features__configs__feature-dependencies__overrideFeatureInstallOrder__image-with-v1-features-with-overrideFeatureInstallOrder/.devcontainer/devcontainer.json":
    githubForm,
  "cli__src__test__configs__image-with-local-feature/.devcontainer.json": /legacy feature id/,
  "cli__src__test__container-features__configs__invalid-configs__dockerfile-with-v2-local-features-no-dev-container-folder/.devcontainer.json":
    /inside \.devcontainer\//,
  "cli__src__test__container-features__configs__lockfile-outdated-command/.devcontainer.json":
    /inside \.devcontainer\/[^]*devcontainer-feature-<id>\.tgz/,
  "cli__src__test__container-features__configs__lockfile-oci-integrity/.devcontainer.json": /integrity says/,
  "templates__src__docker-existing-dockerfile/.devcontainer/devcontainer.json": /Dockerfile does not exist/,
  "cli__src__test__configs__set-up-with-config/devcontainer.json": /no image/,
  // Compose projects whose dev service has a feature in the deprecated form.
  "cli__src__test__configs__compose-Dockerfile-with-features/.devcontainer/devcontainer.json": githubForm,
  "cli__src__test__configs__compose-Dockerfile-with-target/.devcontainer/devcontainer.json": githubForm,
};
/** Configs whose plan stops at a located error: the template names a Compose file the user must bring. */
const expectedLocatedErrors = [
  "templates__src__docker-existing-docker-compose/.devcontainer/devcontainer.json",
];

test("every project config plans without a crash; the ones not launchable are exactly those listed, for their reason", async () => {
  const files = configs();
  assert.equal(files.length, 134);
  let launchable = 0;
  const locatedErrors: string[] = [];
  const unexpected: string[] = [];
  const stillRefused = new Set<string>();
  const refusalReasons: Array<[string, string]> = [];
  for (const file of files) {
    let plan;
    try {
      ({ plan } = await planFromPath(file, { cwd: root, env: { HOME: "/home/dev" } }));
    } catch (err) {
      // A broken or missing Compose file is a located error, like a broken devcontainer.json.
      assert.ok(DevcontainerError.is(err, "invalid"), `${file}: ${String(err)}`);
      assert.ok(err.diagnostics.every((d) => d.line >= 1 && d.column >= 1));
      locatedErrors.push(relative(root, file));
      continue;
    }
    assert.doesNotThrow(() => JSON.stringify(planToJson(plan)));
    assert.ok(renderPlan(plan).includes(plan.zoneName));
    const name = relative(root, file);
    if (plan.launchable) {
      launchable++;
      continue;
    }
    const expected = expectedRefusals[name];
    const text = plan.refusals.join("\n");
    if (!expected) unexpected.push(`${name}:\n  ${plan.refusals.join("\n  ")}`);
    else {
      assert.match(text, expected, `${name}: refused for another reason:\n${text}`);
      stillRefused.add(name);
      refusalReasons.push([name, plan.refusals.join("\n    ")]);
    }
  }
  assert.deepEqual(unexpected, [], "refused, and not listed here");
  assert.deepEqual(
    [...stillRefused].sort(),
    Object.keys(expectedRefusals).sort(),
    "listed, but launchable now",
  );
  assert.deepEqual(locatedErrors.sort(), expectedLocatedErrors);
  console.log(
    `projects: ${files.length} configs → ${launchable} launchable, ${stillRefused.size} refused, ${locatedErrors.length} with located errors`,
  );
  for (const [name, reason] of refusalReasons) console.log(`  refused ${name}\n    ${reason}`);
  for (const name of locatedErrors) console.log(`  located error ${name}`);
  assert.equal(launchable, files.length - stillRefused.size - locatedErrors.length);
  // The figure users see: what `zonectl plan` launches out of the 134 real configs. The floor
  // (115) is the goal this work was measured against; the exact count catches a regression.
  assert.ok(launchable >= 115, `only ${launchable} of ${files.length} launchable`);
  assert.equal(launchable, 120);
});
