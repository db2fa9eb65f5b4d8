import { mkdir, open } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import * as vscode from "vscode";
import type { ZonesCommand } from "./command";

/** Opens the ssh config file Zones reads (zones.ssh.configFile, else ~/.ssh/config), creating it if missing. */
export const editSshConfigCommand: ZonesCommand = {
  id: "zones.sshConfig.edit",
  async run(ctx) {
    const file = ctx.settings.current.sshConfigFile || join(homedir(), ".ssh", "config");
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    // "a" creates the file when missing and never truncates one that exists.
    await (await open(file, "a", 0o600)).close();
    await vscode.window.showTextDocument(vscode.Uri.file(file));
  },
};
