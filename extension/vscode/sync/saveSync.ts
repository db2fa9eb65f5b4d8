/**
 * Saves follow: while a launched project is open, every file saved, created, renamed or deleted
 * in it is pushed to its zone's workspace copy (core's WorkspacePushQueue, fed by VS Code's own
 * file watcher), when `zones.sync.onSave` is on. One status bar item shows the last push or the
 * last error; clicking it shows the log.
 */
import * as vscode from "vscode";
import { annotationKeys } from "../../core/devcontainer/plan";
import type { WorkspaceSync } from "../../core/devcontainer/plan";
import { planFromPath } from "../../core/devcontainer/load";
import { messageOf } from "../../core/errors";
import { annotationOf, launchAnnotationKeys } from "../../core/launch/existing";
import { WorkspacePushQueue } from "../../core/launch/pushQueue";
import type { PushEvent } from "../../core/launch/pushQueue";
import { Emitter } from "../../core/events";
import type { Event } from "../../core/events";
import { Disposable } from "../../core/lifecycle";
import type { Logger } from "../../core/log";
import { ZoneState } from "../../proto/gen/protect/control/v1/common_pb";
import type { HostAccess } from "../hostAccess";
import type { ZonesModel } from "../model/zonesModel";
import type { ZonesSettings } from "../settingsSchema";

/** The launch a workspace folder belongs to, as the model knows it. */
interface LaunchedFolder {
  readonly key: string;
  readonly hostId: string;
  readonly zoneName: string;
  readonly localFolder: string;
  readonly configFile: string | undefined;
  readonly hostWorkspace: string | undefined;
}

/** One folder being followed. */
class FollowedFolder extends Disposable {
  constructor(
    readonly launch: LaunchedFolder,
    readonly queue: WorkspacePushQueue,
  ) {
    super();
    this.register(queue);
  }
}

/** The status a push left, for the status bar (and tests). */
export interface SaveSyncStatus {
  readonly zoneName: string;
  readonly last?: PushEvent & { readonly at: number };
  readonly error?: { readonly path: string; readonly message: string; readonly at: number };
}

export class SaveSync extends Disposable {
  readonly #followed = new Map<string, FollowedFolder>();
  readonly #item = this.register(
    vscode.window.createStatusBarItem("zones.sync", vscode.StatusBarAlignment.Left, 9),
  );
  #status: SaveSyncStatus | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #onDidPush = this.register(new Emitter<PushEvent & { readonly zoneName: string }>());
  /** Each path pushed, in order (unchanged ones included). */
  readonly onDidPush: Event<PushEvent & { readonly zoneName: string }> = this.#onDidPush.event;

  constructor(
    private readonly deps: {
      readonly model: ZonesModel;
      readonly hosts: HostAccess;
      readonly settings: () => ZonesSettings;
      readonly log: Logger;
    },
  ) {
    super();
    this.#item.name = "Zones: Saves Follow";
    this.#item.command = "zones.log.show";
    this.register(deps.model.onDidChange(() => this.#schedule()));
    this.register(vscode.workspace.onDidChangeWorkspaceFolders(() => this.#schedule()));
    this.register({
      dispose: () => {
        clearTimeout(this.#timer);
        for (const f of this.#followed.values()) f.dispose();
        this.#followed.clear();
      },
    });
    this.#schedule();
  }

  /** The last push or error (undefined before the first). */
  get status(): SaveSyncStatus | undefined {
    return this.#status;
  }

  /** What the status bar item shows (hidden: undefined), as the user reads it. */
  get statusBar(): { readonly text: string; readonly tooltip: string } | undefined {
    if (!this.#followed.size) return undefined;
    const tooltip = this.#item.tooltip;
    return { text: this.#item.text, tooltip: typeof tooltip === "string" ? tooltip : (tooltip?.value ?? "") };
  }

  /** Folders being followed: local folder → zone name. */
  followed(): { localFolder: string; zoneName: string; hostPath: string | undefined }[] {
    return [...this.#followed.values()].map((f) => ({
      localFolder: f.launch.localFolder,
      zoneName: f.launch.zoneName,
      hostPath: f.launch.hostWorkspace,
    }));
  }

  /** Resolves once every change noticed so far was pushed. */
  async idle(): Promise<void> {
    await Promise.all([...this.#followed.values()].map((f) => f.queue.idle()));
  }

  /** Re-reads which folders to follow (setting, workspace folders and the model changed). */
  refresh(): void {
    this.#schedule();
  }

  #schedule(): void {
    // Model events come in bursts (a resync is one per zone): look once they settle.
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#reconcile(), 200);
  }

  async #reconcile(): Promise<void> {
    const wanted = new Map<string, LaunchedFolder>();
    if (this.deps.settings().syncOnSave)
      for (const folder of vscode.workspace.workspaceFolders ?? []) {
        if (folder.uri.scheme !== "file") continue;
        const launch = this.#launchOf(folder.uri.fsPath);
        if (launch) wanted.set(launch.key, launch);
      }
    for (const [key, f] of this.#followed)
      if (!wanted.has(key)) {
        f.dispose();
        this.#followed.delete(key);
        this.deps.log.info(`saves no longer follow ${f.launch.localFolder}`);
      }
    for (const [key, launch] of wanted)
      if (!this.#followed.has(key)) {
        try {
          this.#followed.set(key, await this.#follow(launch));
        } catch (err) {
          this.deps.log.warn(`saves cannot follow ${launch.localFolder}: ${messageOf(err)}`);
        }
      }
    this.#render();
  }

  /** The zone launched from this folder, on any connected host. */
  #launchOf(folder: string): LaunchedFolder | undefined {
    for (const h of this.deps.model.hosts()) {
      if (h.connection.kind !== "connected") continue;
      for (const z of this.deps.model.zones(h.entry.id)) {
        const state = z.status?.state;
        if (state === ZoneState.DESTROYING || state === ZoneState.DESTROYED) continue;
        if (annotationOf(z.spec, annotationKeys.localFolder) !== folder) continue;
        return {
          key: `${h.entry.id}\n${z.id}`,
          hostId: h.entry.id,
          zoneName: z.spec?.name || z.id,
          localFolder: folder,
          configFile: annotationOf(z.spec, annotationKeys.configFile),
          hostWorkspace: annotationOf(z.spec, launchAnnotationKeys.hostWorkspace),
        };
      }
    }
    return undefined;
  }

  async #follow(launch: LaunchedFolder): Promise<FollowedFolder> {
    const sync = await this.#syncOf(launch);
    const queue = new WorkspacePushQueue({
      files: async () => (await this.deps.hosts.wait(launch.hostId)).openFiles(),
      sync,
    });
    const followed = new FollowedFolder(launch, queue);
    followed.register(
      queue.onDidPush((e) => {
        this.#onDidPush.fire({ ...e, zoneName: launch.zoneName });
        if (e.action === "unchanged") return;
        this.deps.log.info(`pushed ${e.path} to ${launch.zoneName} (${e.action}, ${e.ms} ms)`);
        this.#status = { zoneName: launch.zoneName, last: { ...e, at: Date.now() } };
        this.#render();
      }),
    );
    followed.register(
      queue.onDidFail((f) => {
        this.deps.log.warn(`could not push ${f.path} to ${launch.zoneName}: ${f.error.message}`);
        this.#status = {
          zoneName: launch.zoneName,
          ...(this.#status?.last ? { last: this.#status.last } : {}),
          error: { path: f.path, message: f.error.message, at: Date.now() },
        };
        this.#render();
      }),
    );
    const watcher = followed.register(
      vscode.workspace.createFileSystemWatcher(
        new vscode.RelativePattern(vscode.Uri.file(sync.localFolder), "**"),
      ),
    );
    const notify = (uri: vscode.Uri): void => queue.notify(uri.fsPath);
    followed.register(watcher.onDidCreate(notify));
    followed.register(watcher.onDidChange(notify));
    followed.register(watcher.onDidDelete(notify));
    this.deps.log.info(`saves follow ${sync.localFolder} → ${launch.zoneName}:${sync.hostPath}`);
    return followed;
  }

  /** What the launch synced, and how: the plan of the config it was launched from. */
  async #syncOf(
    launch: LaunchedFolder,
  ): Promise<Pick<WorkspaceSync, "localFolder" | "hostPath" | "exclude" | "respectGitignore">> {
    const { plan } = await planFromPath(launch.localFolder, {
      ...(launch.configFile ? { config: launch.configFile } : {}),
      cwd: launch.localFolder,
      env: process.env,
      ...(this.deps.settings().launchWorkspaceRoot
        ? { planOptions: { workspaceRoot: this.deps.settings().launchWorkspaceRoot } }
        : {}),
    });
    // The host folder the launch recorded wins: it is where the copy really is.
    return { ...plan.sync, hostPath: launch.hostWorkspace ?? plan.sync.hostPath };
  }

  #render(): void {
    if (!this.#followed.size) {
      this.#item.hide();
      return;
    }
    const s = this.#status;
    const time = (at: number): string => new Date(at).toLocaleTimeString();
    if (s?.error && (!s.last || s.error.at >= s.last.at)) {
      this.#item.text = `$(warning) ${s.zoneName}: push failed`;
      this.#item.tooltip = `Saves follow: ${s.error.path} could not be pushed at ${time(s.error.at)}: ${s.error.message}`;
      this.#item.backgroundColor = new vscode.ThemeColor("statusBarItem.warningBackground");
    } else if (s?.last) {
      this.#item.text = `$(cloud-upload) ${s.zoneName} ${time(s.last.at)}`;
      this.#item.tooltip = `Saves follow: ${s.last.path} ${s.last.action} at ${time(s.last.at)} (${s.last.ms} ms)`;
      this.#item.backgroundColor = undefined;
    } else {
      const names = [...this.#followed.values()].map((f) => f.launch.zoneName).join(", ");
      this.#item.text = `$(cloud-upload) ${names}`;
      this.#item.tooltip = `Saves follow: files saved here are pushed to ${names}`;
      this.#item.backgroundColor = undefined;
    }
    this.#item.show();
  }
}
