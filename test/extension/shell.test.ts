/**
 * The packaged extension in a real extension host: it activates, registers every command its
 * manifest declares, shows configured hosts from settings, and reports unusable entries and
 * unreachable hosts on the host's node instead of failing silently.
 */
import * as assert from "node:assert/strict";
import * as vscode from "vscode";
import type { ZonesApi } from "../../extension/vscode/ctx";

const extensionId = "styrolite.styrolite-zones";

async function api(): Promise<ZonesApi> {
  const extension = vscode.extensions.getExtension<ZonesApi>(extensionId);
  assert.ok(extension, `${extensionId} is not installed`);
  const zones = await extension.activate();
  await zones.ready; // the services (terminals, launches, panels) load just after activation
  return zones;
}

async function until(what: string, probe: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

suite("shell", () => {
  let original: string[] | undefined;

  suiteSetup(async () => {
    original = vscode.workspace.getConfiguration("zones").inspect<string[]>("hosts")?.globalValue;
  });

  suiteTeardown(async () => {
    await vscode.workspace
      .getConfiguration("zones")
      .update("hosts", original, vscode.ConfigurationTarget.Global);
  });

  test("the packaged extension activates and returns its API", async () => {
    const zones = await api();
    assert.equal(vscode.extensions.getExtension(extensionId)?.isActive, true);
    assert.ok(zones.model);
  });

  test("every command in the manifest is registered", async () => {
    await api();
    const manifest = vscode.extensions.getExtension(extensionId)!.packageJSON as {
      contributes: { commands: { command: string }[] };
    };
    const registered = new Set(await vscode.commands.getCommands(true));
    const missing = manifest.contributes.commands.map((c) => c.command).filter((c) => !registered.has(c));
    assert.deepEqual(missing, []);
  });

  test("hosts come from zones.hosts; an unusable entry fails with its reason and is not retried", async () => {
    const zones = await api();
    const socket = process.env.ZONES_TEST_MISSING_SOCKET ?? "/nonexistent/zones.socket";
    await vscode.workspace
      .getConfiguration("zones")
      .update("hosts", [`unix://${socket}`, "bad host;name"], vscode.ConfigurationTarget.Global);
    await until("both hosts listed", () => zones.model.hosts().length === 2);
    assert.deepEqual(
      zones.model.hosts().map((h) => h.entry.id),
      [`unix://${socket}`, "bad host;name"],
    );
    await until(
      "the bad entry failed",
      () => zones.model.host("bad host;name")?.connection.kind === "failed",
    );
    const bad = zones.model.host("bad host;name")!.connection;
    assert.equal(bad.kind === "failed" && bad.retryAt, undefined);
    assert.match(bad.kind === "failed" ? bad.message : "", /not a valid ssh destination/);
    await until(
      "the missing socket failed",
      () => zones.model.host(`unix://${socket}`)?.connection.kind === "failed",
    );
  });

  test("removing a host from settings removes it from the tree", async () => {
    const zones = await api();
    await vscode.workspace
      .getConfiguration("zones")
      .update("hosts", ["unix:///only/this.socket"], vscode.ConfigurationTarget.Global);
    await until("one host", () => zones.model.hosts().length === 1);
    const roots = await Promise.resolve(zones.tree.getChildren());
    assert.equal(roots?.length, 1);
  });

  test("Show Log and Refresh run from the palette", async () => {
    await vscode.commands.executeCommand("zones.log.show");
    await vscode.commands.executeCommand("zones.tree.refresh");
  });
});
