import * as vscode from "vscode";
import { TemplateError, renderTemplate, writeTemplate } from "../../core/templates/apply";
import type { TemplateSource } from "../../core/templates/apply";
import { registryArtifactFetcher } from "../../core/templates/registryFetcher";
import { loadTemplateSource, wellKnownTemplates } from "../../core/templates/source";
import type { TemplateOption } from "../../core/templates/template";
import type { ZonesCommand } from "./command";

/**
 * "Add Dev Container Configuration from Template…": the same as `zonectl init`, from the Zones
 * view and the palette. Picks a template (a well-known one, a reference typed in, or a folder),
 * then each option in a quick pick with its default first, then writes into the workspace
 * folder; files that exist are overwritten only after a modal question.
 */
export const applyTemplateCommand: ZonesCommand = {
  id: "zones.template.apply",
  async run(ctx) {
    const folder = await pickFolder();
    if (!folder) return;
    const reference = await pickTemplate();
    if (!reference) return;
    let source: TemplateSource;
    try {
      source = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Fetching template ${reference}…` },
        () =>
          loadTemplateSource(reference, {
            cwd: folder.fsPath,
            fetcher: registryArtifactFetcher,
          }),
      );
    } catch (err) {
      void vscode.window.showErrorMessage(TemplateError.is(err) ? err.message : String(err));
      return;
    }
    const given: Record<string, string> = {};
    for (const option of source.definition.options) {
      const value = await pickOption(source.definition.name, option);
      if (value === undefined) return;
      given[option.name] = value;
    }
    try {
      const rendered = renderTemplate(source, given);
      let written: string[];
      try {
        ({ written } = await writeTemplate(rendered, folder.fsPath, { force: false }));
      } catch (err) {
        if (!TemplateError.is(err, "exists")) throw err;
        const overwrite = await vscode.window.showWarningMessage(
          `${err.details.conflicts?.length ?? 0} file(s) of the template already exist in ${folder.fsPath}.`,
          { modal: true, detail: (err.details.conflicts ?? []).join("\n") },
          "Overwrite",
        );
        if (overwrite !== "Overwrite") return;
        ({ written } = await writeTemplate(rendered, folder.fsPath, { force: true }));
      }
      ctx.logger.info(`template ${reference} applied to ${folder.fsPath}: ${written.join(", ")}`);
      const config = written.find((f) => f.endsWith("devcontainer.json"));
      if (config) await vscode.window.showTextDocument(vscode.Uri.joinPath(folder, config));
      void vscode.window.showInformationMessage(
        `${source.definition.name}: ${written.length} file(s) written to ${folder.fsPath}.`,
      );
    } catch (err) {
      void vscode.window.showErrorMessage(TemplateError.is(err) ? err.message : String(err));
    }
  },
};

async function pickFolder(): Promise<vscode.Uri | undefined> {
  const folders = (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === "file");
  if (folders.length === 1) return folders[0]!.uri;
  if (folders.length > 1)
    return (await vscode.window.showWorkspaceFolderPick({ placeHolder: "Folder to add the template to" }))
      ?.uri;
  void vscode.window.showErrorMessage("Open a folder first: the template's files go into it.");
  return undefined;
}

async function pickTemplate(): Promise<string | undefined> {
  const other = "$(edit) Enter a template reference…";
  const local = "$(folder) Template folder on this machine…";
  const picked = await vscode.window.showQuickPick(
    [...wellKnownTemplates.map((t) => ({ label: t })), { label: other }, { label: local }],
    { placeHolder: "Dev Container Template to start from", ignoreFocusOut: true },
  );
  if (!picked) return undefined;
  if (picked.label === other)
    return vscode.window.showInputBox({
      prompt: "OCI reference of a Dev Container Template",
      placeHolder: "ghcr.io/devcontainers/templates/debian:latest",
      ignoreFocusOut: true,
    });
  if (picked.label === local) {
    const uris = await vscode.window.showOpenDialog({
      canSelectFolders: true,
      canSelectFiles: false,
      openLabel: "Use Template",
    });
    return uris?.[0]?.fsPath;
  }
  return picked.label;
}

/** One option: its default first, then proposals/enum (or true/false), or a typed value. */
async function pickOption(template: string, option: TemplateOption): Promise<string | undefined> {
  const values = option.type === "boolean" ? ["true", "false"] : [...(option.enum ?? option.proposals)];
  const ordered = [option.default, ...values.filter((v) => v !== option.default)];
  const typeIn = "$(edit) Other value…";
  const items = [
    ...ordered.map((v) => ({ label: v, description: v === option.default ? "default" : "" })),
    ...(option.type === "string" && !option.enum ? [{ label: typeIn, description: "" }] : []),
  ];
  const picked = await vscode.window.showQuickPick(items, {
    title: `${template}: ${option.name}`,
    placeHolder: option.description ?? option.name,
    ignoreFocusOut: true,
  });
  if (!picked) return undefined;
  if (picked.label !== typeIn) return picked.label;
  return vscode.window.showInputBox({ prompt: option.description ?? option.name, value: option.default });
}
