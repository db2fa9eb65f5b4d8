import * as vscode from "vscode";
import { Disposable } from "../../core/lifecycle";
import type { LaunchPlan } from "../../core/devcontainer/plan";
import { planMarkdown } from "./planMarkdown";

/**
 * Read-only documents (`zones-plan:` URIs) holding launch plans as Markdown, shown in VS Code's
 * Markdown preview beside the editor before anything is created. Content is kept per project
 * and replaced when the plan is shown again.
 */
export class PlanDocuments extends Disposable implements vscode.TextDocumentContentProvider {
  static readonly scheme = "zones-plan";
  readonly #content = new Map<string, string>();
  readonly #onDidChange = this.register(new vscode.EventEmitter<vscode.Uri>());
  readonly onDidChange = this.#onDidChange.event;

  constructor() {
    super();
    this.register(vscode.workspace.registerTextDocumentContentProvider(PlanDocuments.scheme, this));
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return (
      this.#content.get(uri.toString()) ??
      "# Launch plan\n\nThis plan is no longer available: launch again to see it.\n"
    );
  }

  /** The URI of a plan's document (stable per project, so showing it again updates the same tab). */
  uriOf(plan: LaunchPlan): vscode.Uri {
    return vscode.Uri.from({
      scheme: PlanDocuments.scheme,
      path: `/Launch plan ${plan.zoneName}.md`,
      query: plan.devcontainerId,
    });
  }

  /** Shows the plan beside the active editor, rendered; returns its URI. */
  async show(plan: LaunchPlan, hostLabel?: string): Promise<vscode.Uri> {
    const uri = this.uriOf(plan);
    this.#content.set(uri.toString(), planMarkdown(plan, hostLabel));
    this.#onDidChange.fire(uri);
    try {
      await vscode.commands.executeCommand("markdown.showPreviewToSide", uri);
    } catch {
      // Without the built-in Markdown extension the source is still readable.
      await vscode.window.showTextDocument(uri, {
        viewColumn: vscode.ViewColumn.Beside,
        preview: true,
        preserveFocus: true,
      });
    }
    return uri;
  }
}
