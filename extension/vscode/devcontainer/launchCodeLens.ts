import * as vscode from "vscode";
import { isDevcontainerConfig } from "./configProblems";

/** "Launch in Zone" and "Show Launch Plan" above the first line of every devcontainer.json. */
export class LaunchCodeLens implements vscode.CodeLensProvider {
  provideCodeLenses(document: vscode.TextDocument): vscode.CodeLens[] {
    if (!isDevcontainerConfig(document.uri.path) || document.uri.scheme !== "file") return [];
    const top = new vscode.Range(0, 0, 0, 0);
    return [
      new vscode.CodeLens(top, {
        title: "$(vm) Launch in Zone",
        command: "zones.devcontainer.launch",
        arguments: [document.uri],
        tooltip: "Create (or reuse) this project's zone and workload on a Styrolite host",
      }),
      new vscode.CodeLens(top, {
        title: "Show Launch Plan",
        command: "zones.devcontainer.showPlan",
        arguments: [document.uri],
        tooltip: "What each property of this file becomes in a zone",
      }),
    ];
  }
}
