import * as vscode from "vscode";
import { messageOf } from "../core/errors";
import { Ctx } from "./ctx";
import type { ZonesApi } from "./ctx";
import { protectConnector } from "./protectConnector";

/** Builds the composition root and returns its API; everything else hangs off Ctx. */
export function activate(context: vscode.ExtensionContext): ZonesApi {
  try {
    const ctx = new Ctx(context, protectConnector);
    context.subscriptions.push(ctx);
    return ctx;
  } catch (err) {
    // VS Code does not tell the user when activation throws; say it, then let it fail.
    void vscode.window.showErrorMessage(`Styrolite Zones could not start: ${messageOf(err)}`);
    throw err;
  }
}

export function deactivate(): void {}
