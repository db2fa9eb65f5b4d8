import * as vscode from "vscode";
import { Disposable, toDisposable } from "../../core/lifecycle";
import type { Logger } from "../../core/log";
import type { Diagnostic } from "../../core/devcontainer/diagnostics";
import { messageOf } from "../../core/errors";
import type { PlanOptions } from "../../core/devcontainer/translate/context";
import { configProblems, isDevcontainerConfig } from "./configProblems";

/** Edits are checked once typing pauses this long. */
const debounceMs = 250;
/** Configs of the workspace checked from disk at start, at most. */
const maxScanned = 50;

const severities: Record<Diagnostic["severity"], vscode.DiagnosticSeverity> = {
  error: vscode.DiagnosticSeverity.Error,
  warning: vscode.DiagnosticSeverity.Warning,
  info: vscode.DiagnosticSeverity.Information,
};

/** Core diagnostics (1-based, end exclusive) as VS Code's (0-based). */
export function toVsDiagnostic(d: Diagnostic): vscode.Diagnostic {
  const range = new vscode.Range(
    d.line - 1,
    d.column - 1,
    d.endLine - 1,
    Math.max(d.endColumn - 1, d.line === d.endLine ? d.column : 0),
  );
  const out = new vscode.Diagnostic(range, d.message, severities[d.severity]);
  out.source = "Styrolite Zones";
  out.code = d.code;
  return out;
}

/**
 * devcontainer.json problems in the Problems panel: files open in an editor are checked as
 * typed; the workspace's other configs are checked from disk at start and when they change.
 */
export class DevcontainerDiagnostics extends Disposable {
  readonly #collection = this.register(vscode.languages.createDiagnosticCollection("zones-devcontainer"));
  readonly #timers = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly logger: Logger,
    private readonly planOptions: () => PlanOptions,
  ) {
    super();
    this.register(vscode.workspace.onDidOpenTextDocument((doc) => this.#check(doc)));
    this.register(vscode.workspace.onDidChangeTextDocument((e) => this.#schedule(e.document)));
    this.register(
      vscode.workspace.onDidCloseTextDocument((doc) => {
        // A closed file is checked again from disk: what is saved is what a launch would read.
        if (isDevcontainerConfig(doc.uri.path) && doc.uri.scheme === "file") void this.#checkFile(doc.uri); // reports into the collection
      }),
    );
    const watcher = this.register(
      vscode.workspace.createFileSystemWatcher(
        "**/{.devcontainer/devcontainer.json,.devcontainer.json,.devcontainer/*/devcontainer.json}",
      ),
    );
    this.register(watcher.onDidCreate((uri) => void this.#checkFile(uri)));
    this.register(watcher.onDidChange((uri) => void this.#checkFile(uri)));
    this.register(watcher.onDidDelete((uri) => this.#collection.delete(uri)));
    this.register(toDisposable(() => this.#timers.forEach((t) => clearTimeout(t))));
    for (const doc of vscode.workspace.textDocuments) this.#check(doc);
    void this.#scan(); // fills the collection when done
  }

  /** The problems currently shown for a file. */
  problems(uri: vscode.Uri): readonly vscode.Diagnostic[] {
    return this.#collection.get(uri) ?? [];
  }

  async #scan(): Promise<void> {
    const uris = await vscode.workspace.findFiles(
      "**/{.devcontainer/devcontainer.json,.devcontainer.json,.devcontainer/*/devcontainer.json}",
      "**/node_modules/**",
      maxScanned,
    );
    for (const uri of uris)
      if (!vscode.workspace.textDocuments.some((d) => d.uri.toString() === uri.toString()))
        await this.#checkFile(uri);
  }

  #schedule(doc: vscode.TextDocument): void {
    if (!isDevcontainerConfig(doc.uri.path)) return;
    const key = doc.uri.toString();
    clearTimeout(this.#timers.get(key));
    this.#timers.set(
      key,
      setTimeout(() => {
        this.#timers.delete(key);
        this.#check(doc);
      }, debounceMs),
    );
  }

  #check(doc: vscode.TextDocument): void {
    if (!isDevcontainerConfig(doc.uri.path) || doc.isClosed) return;
    this.#set(doc.uri, doc.getText());
  }

  async #checkFile(uri: vscode.Uri): Promise<void> {
    if (vscode.workspace.textDocuments.some((d) => d.uri.toString() === uri.toString())) return; // the editor's text wins
    try {
      this.#set(uri, new TextDecoder().decode(await vscode.workspace.fs.readFile(uri)));
    } catch (err) {
      this.logger.debug(`devcontainer diagnostics: cannot read ${uri.fsPath}: ${messageOf(err)}`);
      this.#collection.delete(uri);
    }
  }

  #set(uri: vscode.Uri, text: string): void {
    try {
      this.#collection.set(
        uri,
        configProblems(text, uri.fsPath, process.env, this.planOptions()).map(toVsDiagnostic),
      );
    } catch (err) {
      this.logger.warn(`devcontainer diagnostics for ${uri.fsPath} failed: ${messageOf(err)}`);
    }
  }
}
