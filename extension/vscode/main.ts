import * as vscode from "vscode";
import { messageOf } from "../core/errors";
import { Ctx } from "./ctx";
import type { ZonesApi } from "./ctx";
import { protectConnector } from "./protectConnector";

/** When this module (and what it imports statically) finished evaluating, for the activation log line. */
const evaluatedAt = Date.now();

/** Builds the composition root and returns its API; everything else hangs off Ctx. */
export function activate(context: vscode.ExtensionContext): ZonesApi {
  try {
    const ctx = new Ctx(context, protectConnector, { evaluatedAt });
    context.subscriptions.push(ctx);
    return ctx;
  } catch (err) {
    // VS Code does not tell the user when activation throws; say it, then let it fail.
    void vscode.window.showErrorMessage(`Styrolite Zones could not start: ${messageOf(err)}`);
    throw err;
  }
}

export function deactivate(): void {}
