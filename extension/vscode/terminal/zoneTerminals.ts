import * as vscode from "vscode";
import { Disposable, toDisposable } from "../../core/lifecycle";
import type { Logger } from "../../core/log";
import type { HostAccess } from "../hostAccess";
import { ZonePty } from "./zonePty";
import type { TerminalTarget } from "./zonePty";

/** An open zone terminal. */
export interface ZoneTerminal {
  readonly terminal: vscode.Terminal;
  readonly pty: ZonePty;
}

/**
 * Opens native VS Code terminals on zones and workloads (any number at once) and closes them
 * with the extension. Each terminal finds its host through HostAccess on every (re)start, so a
 * reconnected host serves the next shell.
 */
export class ZoneTerminals extends Disposable {
  readonly #open = new Set<ZoneTerminal>();

  constructor(
    private readonly hosts: HostAccess,
    private readonly logger: Logger,
  ) {
    super();
    this.register(
      vscode.window.onDidCloseTerminal((closed) => {
        for (const t of this.#open) if (t.terminal === closed) this.#open.delete(t);
      }),
    );
    this.register(toDisposable(() => [...this.#open].forEach((t) => t.terminal.dispose())));
  }

  /** Terminals open right now. */
  get terminals(): readonly ZoneTerminal[] {
    return [...this.#open];
  }

  open(target: TerminalTarget, options: { show?: boolean } = {}): ZoneTerminal {
    const pty = new ZonePty(target, {
      host: (signal) => this.hosts.wait(target.hostId, signal),
      logger: this.logger,
    });
    const name = target.workloadId
      ? `${target.workloadName ?? target.workloadId} (${target.zoneName})`
      : target.zoneName;
    const terminal = vscode.window.createTerminal({
      name,
      pty,
      iconPath: new vscode.ThemeIcon(target.workloadId ? "package" : "vm"),
      isTransient: true, // a reload cannot restore a remote shell; do not pretend to
    });
    const entry = { terminal, pty };
    this.#open.add(entry);
    if (options.show ?? true) terminal.show();
    return entry;
  }
}
