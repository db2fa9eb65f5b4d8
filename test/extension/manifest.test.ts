/**
 * The packaged manifest against the packaged files: walkthrough media and the devcontainer.json
 * schema ship in the .vsix, every command a walkthrough step or menu names is registered, and
 * every menu entry names a command the manifest declares.
 */
import * as assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as vscode from "vscode";

interface Manifest {
  contributes: {
    commands: { command: string }[];
    menus: Record<string, { command: string }[]>;
    walkthroughs: { steps: { description: string; media: { markdown?: string } }[] }[];
    jsonValidation: { fileMatch: string[]; url: string }[];
  };
}

suite("manifest", () => {
  const extension = vscode.extensions.getExtension("styrolite.styrolite-zones")!;
  const manifest = extension.packageJSON as Manifest;

  test("walkthrough steps have their media and name registered commands", async () => {
    await extension.activate();
    const registered = new Set(await vscode.commands.getCommands(true));
    const steps = manifest.contributes.walkthroughs.flatMap((w) => w.steps);
    assert.ok(steps.length >= 4, "add a host, launch, terminal, dashboard");
    for (const step of steps) {
      if (step.media.markdown)
        assert.ok(
          existsSync(join(extension.extensionPath, step.media.markdown)),
          `${step.media.markdown} is in the .vsix`,
        );
      for (const [, command] of step.description.matchAll(/\(command:([\w.]+)/g))
        assert.ok(registered.has(command!), `${command} is registered`);
    }
  });

  test("the devcontainer.json schema ships where jsonValidation points", () => {
    const [entry] = manifest.contributes.jsonValidation;
    assert.ok(entry);
    const schema = JSON.parse(readFileSync(join(extension.extensionPath, entry.url), "utf8")) as {
      properties: { customizations: { properties: Record<string, unknown> } };
    };
    assert.ok(
      schema.properties.customizations.properties["styrolite"],
      "the schema describes customizations.styrolite",
    );
  });

  test("every menu entry names a declared command", () => {
    const declared = new Set(manifest.contributes.commands.map((c) => c.command));
    const missing = Object.values(manifest.contributes.menus)
      .flat()
      .map((m) => m.command)
      .filter((c) => !declared.has(c));
    assert.deepEqual(missing, []);
  });
});
