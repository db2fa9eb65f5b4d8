/**
 * Launches devcontainer.json projects into zones for the extension: builds the LaunchPlan with
 * the user's settings, runs core's LaunchExecutor on a connected host (reuse by devcontainer id,
 * rollback on failure or cancel), then opens the plan's port forwards in the extension's
 * forward list — like VS Code's Dev Containers, which forward while the window is attached.
 * No vscode import: the command in ../commands/launchDevcontainer.ts is the UI around it.
 */
import { messageOf, ReasonedError } from "../../core/errors";
import type { Event } from "../../core/events";
import type { Logger } from "../../core/log";
import { buildLaunchPlan } from "../../core/devcontainer/buildPlan";
import type { PlanInput } from "../../core/devcontainer/buildPlan";
import { planFromPath } from "../../core/devcontainer/load";
import type { LaunchImage, LaunchPlan } from "../../core/devcontainer/plan";
import type { LaunchEvent } from "../../core/launch/events";
import { LaunchExecutor } from "../../core/launch/executor";
import type { LaunchResult } from "../../core/launch/executor";
import type { ZoneForward, ZoneForwards } from "../forwards";
import type { HostAccess } from "../hostAccess";
import type { ZonesSettings } from "../settingsSchema";

/** A launch of the same project is already under way. */
export class LaunchBusyError extends ReasonedError<"busy"> {
  override readonly name = "LaunchBusyError";
}

/** What a finished launch made, plus the forwards the extension opened for it. */
export interface LaunchOutcome {
  readonly hostId: string;
  readonly result: LaunchResult;
  readonly forwards: readonly ZoneForward[];
  /** Forwards that could not be opened, as messages. */
  readonly warnings: readonly string[];
}

export interface LaunchRun {
  readonly signal?: AbortSignal;
  /** Progress events, as core emits them. */
  readonly onEvent?: (event: LaunchEvent) => void;
  /** Destroy the project's zone and create a new one. */
  readonly recreate?: boolean;
}

export interface LauncherDependencies {
  readonly hosts: HostAccess;
  readonly forwards: ZoneForwards;
  readonly settings: () => ZonesSettings;
  readonly logger: Logger;
  /** This machine's environment for `${localEnv:…}` and initializeCommand. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export class Launcher {
  readonly #running = new Set<string>();
  // What each plan was made from, to make it again once its image (and metadata) is known.
  readonly #inputs = new WeakMap<LaunchPlan, PlanInput>();

  constructor(private readonly deps: LauncherDependencies) {}

  /** The plan for a devcontainer.json (or a project folder holding one). Throws DevcontainerError. */
  async plan(path: string): Promise<LaunchPlan> {
    const settings = this.deps.settings();
    const { plan, input } = await planFromPath(path, {
      cwd: "/",
      env: this.deps.env ?? process.env,
      planOptions: {
        defaultCpus: settings.defaultResources.cpus,
        defaultMemoryMiB: settings.defaultResources.memoryMiB,
        ...(settings.launchWorkspaceRoot ? { workspaceRoot: settings.launchWorkspaceRoot } : {}),
      },
    });
    this.#inputs.set(plan, input);
    return plan;
  }

  /** Whether a launch of this project runs now. */
  isRunning(plan: LaunchPlan): boolean {
    return this.#running.has(plan.devcontainerId);
  }

  /**
   * Runs a launchable plan on a host. Rejects with LaunchError (the executor rolled back what
   * it made), LaunchBusyError, or the ProtectError/SshError that stopped it.
   */
  async launch(plan: LaunchPlan, hostId: string, run: LaunchRun = {}): Promise<LaunchOutcome> {
    if (this.#running.has(plan.devcontainerId))
      throw new LaunchBusyError("busy", `${plan.displayName ?? plan.zoneName} is already being launched`);
    this.#running.add(plan.devcontainerId);
    const log = this.deps.logger;
    try {
      const host = await this.deps.hosts.wait(hostId, run.signal);
      const input = this.#inputs.get(plan);
      const executor = new LaunchExecutor(plan, host, {
        ...(run.signal ? { signal: run.signal } : {}),
        ...(run.recreate ? { recreate: true } : {}),
        // The window attaches once the zone is up, as VS Code's Dev Containers do: postAttachCommand runs.
        attach: true,
        forwardPorts: false,
        localEnv: this.deps.env ?? process.env,
        logger: log,
        build: {
          env: this.deps.env ?? process.env,
          ...(this.deps.settings().buildBuilder !== "auto"
            ? { builder: this.deps.settings().buildBuilder }
            : {}),
        },
        ...(input ? { replan: (image: LaunchImage) => buildLaunchPlan({ ...input, image }) } : {}),
      });
      const listening: Event<LaunchEvent> = executor.onEvent;
      if (run.onEvent) listening(run.onEvent);
      log.info(`[${hostId}] launching ${plan.configFile} as zone ${plan.zoneName}`);
      const result = await executor.run();
      log.info(
        `[${hostId}] launched ${result.zoneName} (${result.zoneId}) in ${result.totalMs} ms${result.reusedZone ? ", reusing the zone" : ""}`,
      );
      const forwards: ZoneForward[] = [];
      const warnings: string[] = [];
      for (const f of plan.forwards) {
        try {
          forwards.push(
            await this.deps.forwards.open({
              hostId,
              zoneId: result.zoneId,
              zonePort: f.containerPort,
              localPort: f.localPort,
              ...(f.localAddress ? { localAddress: f.localAddress } : {}),
              ...(f.label !== undefined ? { label: f.label } : {}),
              ...(f.requireLocalPort ? { requireLocalPort: true } : {}),
            }),
          );
        } catch (err) {
          warnings.push(`port ${f.containerPort}: ${messageOf(err)}`);
        }
      }
      return { hostId, result, forwards, warnings };
    } finally {
      this.#running.delete(plan.devcontainerId);
    }
  }
}
