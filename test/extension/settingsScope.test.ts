/**
 * A repository's .vscode/settings.json must not pick the hosts the extension connects to or the
 * commands it runs on this machine. These settings are application-scoped, so VS Code itself
 * refuses them in a workspace: a write to the workspace fails, and a value the repository ships
 * in its settings file is not even seen. (The extension also reads only the user's own value.)
 */
import * as assert from "node:assert/strict";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as vscode from "vscode";
import type { ZonesApi } from "../../extension/vscode/ctx";

const guarded = ["hosts", "ssh.configFile", "daemonSocket", "bridgeCommand", "launch.workspaceRoot"];

async function until(what: string, probe: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

suite("settings a repository cannot set", () => {
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  const dir = folder ? join(folder, ".vscode") : "";
  const file = join(dir, "settings.json");
  let before: string | undefined;

  suiteSetup(async () => {
    assert.ok(folder, "the test window has a workspace folder");
    before = await readFile(file, "utf8").catch(() => undefined);
  });

  suiteTeardown(async () => {
    // The UI specs copy this folder: leave it as it was.
    if (before === undefined) await rm(dir, { recursive: true, force: true });
    else await writeFile(file, before);
  });

  test("VS Code refuses to write them to the workspace", async () => {
    const config = vscode.workspace.getConfiguration("zones");
    for (const key of guarded) {
      await assert.rejects(
        Promise.resolve(
          config.update(key, key === "hosts" ? ["evil"] : "/evil", vscode.ConfigurationTarget.Workspace),
        ),
        key,
      );
    }
  });

  test("a value in the repository's settings file is not seen, and its host is not listed", async () => {
    const zones = await vscode.extensions.getExtension<ZonesApi>("styrolite.styrolite-zones")!.activate();
    await zones.ready;
    const repoHost = "unix:///from/the/repository.socket";
    await mkdir(dir, { recursive: true });
    await writeFile(
      file,
      JSON.stringify({
        "zones.hosts": [repoHost],
        "zones.bridgeCommand": "touch /tmp/owned",
        // A window-scoped setting in the same file: once it shows, the file has been read.
        "zones.terminal.shell": "/bin/sh-from-the-repository",
      }),
    );
    const inspect = <T>(key: string) => vscode.workspace.getConfiguration("zones").inspect<T>(key);
    await until(
      "the workspace settings file read",
      () => inspect<string>("terminal.shell")?.workspaceValue === "/bin/sh-from-the-repository",
    );
    assert.equal(inspect("hosts")?.workspaceValue, undefined);
    assert.equal(inspect("bridgeCommand")?.workspaceValue, undefined);
    assert.notEqual(vscode.workspace.getConfiguration("zones").get("bridgeCommand"), "touch /tmp/owned");
    assert.ok(!zones.model.hosts().some((h) => h.entry.id === repoHost));
  });
});
