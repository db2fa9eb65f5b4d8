import * as vscode from "vscode";

// TODO(#5): the composition root (Ctx) replaces this: hosts model, tree, commands, terminals.
export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel("Styrolite Zones", { log: true });
  context.subscriptions.push(log);
  context.subscriptions.push(vscode.commands.registerCommand("zones.log.show", () => log.show(true)));
  log.info("Styrolite Zones activated");
}

export function deactivate(): void {}
