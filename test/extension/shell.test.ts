/**
 * The extension's shell inside a real extension host: it activates from the packaged bits,
 * registers its commands, and its log channel can be shown.
 */
import * as assert from "node:assert/strict";
import * as vscode from "vscode";

const extensionId = "styrolite.styrolite-zones";

suite("shell", () => {
  test("the packaged extension is present and activates", async () => {
    const extension = vscode.extensions.getExtension(extensionId);
    assert.ok(extension, `${extensionId} is not installed`);
    await extension.activate();
    assert.equal(extension.isActive, true);
  });

  test("its commands are registered", async () => {
    const all = await vscode.commands.getCommands(true);
    const ours = all.filter((c) => c.startsWith("zones."));
    assert.ok(ours.includes("zones.log.show"), `registered: ${ours.join(", ")}`);
  });

  test("Show Log runs", async () => {
    await vscode.commands.executeCommand("zones.log.show");
  });
});
