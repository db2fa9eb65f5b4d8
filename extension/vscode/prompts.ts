/**
 * The questions a connection asks, in VS Code's UI: unknown host keys (modal, with the SHA256
 * fingerprint), changed host keys (a blocking error naming the known_hosts line and both
 * fingerprints; the connection is never made), passphrases and passwords (input boxes; kept in
 * SecretStorage only when the user ticks "remember", dropped again when they stop working).
 */
import * as vscode from "vscode";
import { SshError } from "../core/ssh/errors";
import type { ConnectPrompts, PresentedHostKey } from "./model/hostSession";
import type { HostEntry } from "./model/hostEntry";

const secretKey = (kind: "passphrase" | "password", subject: string): string => `zones.${kind}:${subject}`;

export class VsCodePrompts implements ConnectPrompts {
  constructor(private readonly secrets: vscode.SecretStorage) {}

  async confirmUnknownHostKey(key: PresentedHostKey): Promise<boolean> {
    const where = key.port === 22 ? key.host : `${key.host} port ${key.port}`;
    const trust = "Trust and Connect";
    const choice = await vscode.window.showWarningMessage(
      `Zones: the authenticity of host ${where} can't be established.`,
      {
        modal: true,
        detail: `${key.keyType} key fingerprint:\n${key.fingerprint}\n\nContinue only if this matches the fingerprint the host's administrator gave you. The key will be added to known_hosts.`,
      },
      trust,
    );
    return choice === trust;
  }

  askPassphrase(keyPath: string, retry: boolean): Promise<string | undefined> {
    return this.#askSecret(
      "passphrase",
      keyPath,
      retry,
      `Passphrase for ${keyPath}`,
      retry ? "That passphrase did not unlock the key. Try again." : "Enter the passphrase of your SSH key.",
    );
  }

  askPassword(account: string, retry: boolean): Promise<string | undefined> {
    return this.#askSecret(
      "password",
      account,
      retry,
      `Password for ${account}`,
      retry ? "Permission denied. Try again." : `Enter the SSH password of ${account}.`,
    );
  }

  async #askSecret(
    kind: "passphrase" | "password",
    subject: string,
    retry: boolean,
    title: string,
    prompt: string,
  ): Promise<string | undefined> {
    const key = secretKey(kind, subject);
    if (retry)
      await this.secrets.delete(key); // a remembered secret that failed must not be offered again
    else {
      const stored = await this.secrets.get(key);
      if (stored !== undefined) return stored;
    }
    const entered = await inputWithRemember(title, prompt);
    if (entered === undefined) return undefined;
    if (entered.remember) await this.secrets.store(key, entered.value);
    return entered.value;
  }
}

/** A password input box with a "remember" toggle button (unticked by default). */
function inputWithRemember(
  title: string,
  prompt: string,
): Promise<{ value: string; remember: boolean } | undefined> {
  return new Promise((resolve) => {
    const box = vscode.window.createInputBox();
    let remember = false;
    const button = (): vscode.QuickInputButton => ({
      iconPath: new vscode.ThemeIcon(remember ? "pass-filled" : "circle-large-outline"),
      tooltip: remember
        ? "Will be remembered in VS Code's Secret Storage (click to forget)"
        : "Remember in VS Code's Secret Storage",
    });
    box.title = title;
    box.prompt = prompt;
    box.password = true;
    box.ignoreFocusOut = true;
    box.buttons = [button()];
    let done = false;
    const finish = (result: { value: string; remember: boolean } | undefined): void => {
      if (done) return;
      done = true;
      resolve(result);
      box.dispose();
    };
    box.onDidTriggerButton(() => {
      remember = !remember;
      box.buttons = [button()];
    });
    box.onDidAccept(() => finish({ value: box.value, remember }));
    box.onDidHide(() => finish(undefined));
    box.show();
  });
}

/**
 * Shows a failure that needs the user now. A changed host key is a blocking modal that names
 * the known_hosts line and both fingerprints; other final failures stay in the tree and log.
 */
export async function showFatalConnectionError(entry: HostEntry, err: unknown): Promise<void> {
  if (!SshError.is(err, "hostKeyChanged")) return;
  const d = err.details;
  const where = d.knownHostsFile
    ? `${d.knownHostsFile}${d.knownHostsLine ? `:${d.knownHostsLine}` : ""}`
    : "known_hosts";
  const open = "Open known_hosts";
  const choice = await vscode.window.showErrorMessage(
    `Zones: the host key of ${entry.label} has changed. Not connecting.`,
    {
      modal: true,
      detail: [
        `Recorded in ${where}:`,
        `  ${d.oldFingerprint ?? "(unknown)"}`,
        `Presented by the host${d.keyType ? ` (${d.keyType})` : ""}:`,
        `  ${d.fingerprint ?? "(unknown)"}`,
        "",
        "Someone could be intercepting this connection (a man-in-the-middle attack), or the host was reinstalled. If you know the key changed legitimately, remove the old line from known_hosts and connect again.",
      ].join("\n"),
    },
    ...(d.knownHostsFile ? [open] : []),
  );
  if (choice === open && d.knownHostsFile) {
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(d.knownHostsFile));
    const line = Math.max(0, (d.knownHostsLine ?? 1) - 1);
    await vscode.window.showTextDocument(doc, { selection: new vscode.Range(line, 0, line, 0) });
  }
}
