import * as vscode from "vscode";
import { Disposable } from "../core/lifecycle";
import { Emitter } from "../core/events";
import type { Event } from "../core/events";
import type { Logger } from "../core/log";
import { parseSettings, reconnectKeys, settingKeys, userChosenValue } from "./settingsSchema";
import type { SettingKey, ZonesSettings } from "./settingsSchema";

/** A settings change: the new values and which keys moved. */
export interface SettingsChange {
  readonly settings: ZonesSettings;
  readonly keys: readonly SettingKey[];
}

/**
 * The `zones.*` settings, read once and re-read on change. Invalid values fall
 * back to their defaults with a warning that names the key; keys that only affect new
 * connections offer "Reconnect now".
 */
export class Settings extends Disposable {
  #current: ZonesSettings;
  readonly #onDidChange = this.register(new Emitter<SettingsChange>());
  readonly onDidChange: Event<SettingsChange> = this.#onDidChange.event;

  constructor(
    private readonly log: Logger,
    private readonly reconnectAll: () => void,
  ) {
    super();
    this.#current = this.#read();
    this.register(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (!e.affectsConfiguration("zones")) return;
        const keys = settingKeys.filter((k) => e.affectsConfiguration(`zones.${k}`));
        this.#current = this.#read();
        this.log.info(`settings changed: ${keys.join(", ") || "(none of ours)"}`);
        this.#onDidChange.fire({ settings: this.#current, keys });
        if (keys.some((k) => reconnectKeys.includes(k))) void this.#offerReconnect(keys); // a notification; nothing waits for it
      }),
    );
  }

  get current(): ZonesSettings {
    return this.#current;
  }

  #read(): ZonesSettings {
    const config = vscode.workspace.getConfiguration("zones");
    const { settings, problems } = parseSettings((key) => {
      // Only what the user wrote is validated; an unset key takes the schema default.
      return userChosenValue(key, config.inspect(key));
    });
    for (const p of problems) {
      this.log.warn(`setting zones.${p.key} is invalid (${p.message}); using its default`);
      void vscode.window.showWarningMessage(
        `Zones: setting "zones.${p.key}" is invalid: ${p.message}. Using the default.`,
      ); // informational
    }
    return settings;
  }

  async #offerReconnect(keys: readonly SettingKey[]): Promise<void> {
    const names = keys
      .filter((k) => reconnectKeys.includes(k))
      .map((k) => `zones.${k}`)
      .join(", ");
    const choice = await vscode.window.showInformationMessage(
      `Zones: ${names} applies to new connections.`,
      "Reconnect now",
    );
    if (choice === "Reconnect now") this.reconnectAll();
  }

  /** Writes `zones.hosts` in the user settings (Add Host / Remove Host). */
  async setHosts(hosts: readonly string[]): Promise<void> {
    // The user's own settings: a workspace's hosts list is never read (machineKeys).
    await vscode.workspace
      .getConfiguration("zones")
      .update("hosts", [...hosts], vscode.ConfigurationTarget.Global);
  }
}
