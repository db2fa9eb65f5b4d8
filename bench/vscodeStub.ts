/**
 * The handful of VS Code API values the tree code constructs (TreeItem, ThemeIcon, ThemeColor,
 * MarkdownString, EventEmitter), as plain data, so the bench can run the extension's real
 * model, connection owner and tree provider in Node. Only used by bench/extensionModel.ts,
 * which esbuild bundles with `vscode` resolved to this file: what is measured is our code
 * producing tree items, not VS Code drawing them.
 */

export enum TreeItemCollapsibleState {
  None = 0,
  Collapsed = 1,
  Expanded = 2,
}

export class ThemeColor {
  constructor(readonly id: string) {}
}

export class ThemeIcon {
  constructor(
    readonly id: string,
    readonly color?: ThemeColor,
  ) {}
}

export class MarkdownString {
  value: string;
  isTrusted = false;

  constructor(
    value = "",
    readonly supportThemeIcons = false,
  ) {
    this.value = value;
  }

  appendMarkdown(text: string): this {
    this.value += text;
    return this;
  }

  appendText(text: string): this {
    this.value += text.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, "\\$&");
    return this;
  }

  appendCodeblock(code: string, language = ""): this {
    this.value += `\n\`\`\`${language}\n${code}\n\`\`\`\n`;
    return this;
  }
}

export class TreeItem {
  id?: string;
  description?: string | boolean;
  tooltip?: string | MarkdownString;
  iconPath?: ThemeIcon;
  contextValue?: string;
  command?: { command: string; title: string; arguments?: unknown[] };
  accessibilityInformation?: { label: string; role?: string };

  constructor(
    public label: string,
    public collapsibleState: TreeItemCollapsibleState = TreeItemCollapsibleState.None,
  ) {}
}

type Listener<T> = (value: T) => unknown;

export class EventEmitter<T> {
  #listeners = new Set<Listener<T>>();

  readonly event = (listener: Listener<T>): { dispose(): void } => {
    this.#listeners.add(listener);
    return { dispose: () => this.#listeners.delete(listener) };
  };

  fire(value: T): void {
    for (const l of [...this.#listeners]) l(value);
  }

  dispose(): void {
    this.#listeners.clear();
  }
}
