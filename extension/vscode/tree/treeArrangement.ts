import * as vscode from "vscode";
import { Disposable } from "../../core/lifecycle";
import { defaultTreeOptions, parseTreeOptions } from "./treeOptions";
import type { TreeOptions } from "./treeOptions";
import type { ZonesNode } from "./nodes";
import type { ZonesTreeProvider } from "./zonesTree";

const stateKey = "zones.tree.options";

/**
 * The Zones view's filter, sort and grouping: applied to the tree, kept in workspaceState (so
 * each workspace remembers its own), reflected in context keys for the view's title actions
 * (`zones.tree.filtered`, `zones.tree.grouped`) and in the view's message line.
 */
export class TreeArrangement extends Disposable {
  constructor(
    private readonly state: vscode.Memento,
    private readonly tree: ZonesTreeProvider,
    private readonly view: vscode.TreeView<ZonesNode>,
  ) {
    super();
    this.#apply(parseTreeOptions(state.get(stateKey)));
  }

  get options(): TreeOptions {
    return this.tree.options;
  }

  async update(change: Partial<TreeOptions>): Promise<void> {
    const next = { ...this.tree.options, ...change };
    this.#apply(next);
    await this.state.update(stateKey, next);
  }

  async reset(): Promise<void> {
    await this.update(defaultTreeOptions);
  }

  #apply(options: TreeOptions): void {
    this.tree.setOptions(options);
    const parts: string[] = [];
    if (options.filter) parts.push(`Filter: “${options.filter}”`);
    if (options.sort !== "name") parts.push(`sorted by ${options.sort}`);
    this.view.message = parts.join(" · ");
    this.view.description = options.groupByState ? "by state" : "";
    void vscode.commands.executeCommand("setContext", "zones.tree.filtered", options.filter !== ""); // context keys settle on their own
    void vscode.commands.executeCommand("setContext", "zones.tree.grouped", options.groupByState);
  }
}
