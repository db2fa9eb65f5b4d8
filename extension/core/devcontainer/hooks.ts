import type { LifecycleCommand } from "./schema";

/** The six lifecycle hooks, in the order the spec runs them. */
export const hookNames = [
  "initializeCommand",
  "onCreateCommand",
  "updateContentCommand",
  "postCreateCommand",
  "postStartCommand",
  "postAttachCommand",
] as const;

/** One lifecycle hook's name. */
export type HookName = (typeof hookNames)[number];

/** A hook that runs in the workload: all but initializeCommand (the only one images and features may carry). */
export type WorkloadHookName = Exclude<HookName, "initializeCommand">;

/** The hooks that run in the workload, in the order the spec runs them. */
export const workloadHookNames = hookNames.filter((h): h is WorkloadHookName => h !== "initializeCommand");

/**
 * When a hook runs:
 * - `everyLaunch`: each time `up` runs, before anything is created (initializeCommand);
 * - `firstLaunch`: once, right after the zone and workload are first created;
 * - `everyStart`: each time the workload starts (including the first);
 * - `everyAttach`: each time a tool attaches (the extension opening the zone, `zonectl shell`).
 */
export type HookWhen = "everyLaunch" | "firstLaunch" | "everyStart" | "everyAttach";

/** One process a hook starts. */
export interface HookCommand {
  /** The name in the object form (parallel commands), else undefined. */
  readonly label: string | undefined;
  /** The exact argv to execute: `/bin/sh -c <string>` for the string form, as written for the array form. */
  readonly argv: readonly string[];
  /** True when `argv` runs a shell over the command string (string form). */
  readonly shell: boolean;
}

/** One hook, ready for an executor: where, when, and which processes (in parallel if several). */
export interface HookStep {
  readonly hook: HookName;
  /** `local`: on the developer's machine, in the project folder. `workload`: inside the workload, in workspaceFolder. */
  readonly runsOn: "local" | "workload";
  readonly when: HookWhen;
  /** Object form: every command starts at once and all must succeed. */
  readonly parallel: boolean;
  readonly commands: readonly HookCommand[];
  readonly workingDirectory: string;
  /** Who asked for it when it comes from image metadata: `feature <id>`, `the base image`; undefined for devcontainer.json. */
  readonly origin?: string;
}

const whenOf: Record<HookName, HookWhen> = {
  initializeCommand: "everyLaunch",
  onCreateCommand: "firstLaunch",
  updateContentCommand: "firstLaunch",
  postCreateCommand: "firstLaunch",
  postStartCommand: "everyStart",
  postAttachCommand: "everyAttach",
};

/** The shell the string form runs through, as the spec says (`/bin/sh`, not the user's shell). */
export const hookShell = ["/bin/sh", "-c"] as const;

/**
 * Normalises one hook as written into the commands to execute. Empty strings, arrays and
 * objects give no commands (the hook is a no-op, as in the reference tools).
 */
export function hookCommands(command: LifecycleCommand): { commands: HookCommand[]; parallel: boolean } {
  const one = (value: string | readonly string[], label: string | undefined): HookCommand | undefined => {
    if (typeof value === "string")
      return value.trim() ? { label, argv: [...hookShell, value], shell: true } : undefined;
    return value.length ? { label, argv: [...value], shell: false } : undefined;
  };
  if (typeof command === "string" || Array.isArray(command)) {
    const c = one(command, undefined);
    return { commands: c ? [c] : [], parallel: false };
  }
  const commands = Object.entries(command)
    .map(([label, value]) => one(value, label))
    .filter((c): c is HookCommand => c !== undefined);
  return { commands, parallel: true };
}

/** The hook sequence of a config, in spec order, skipping hooks with nothing to run. */
export function hookSteps(
  config: { readonly [K in HookName]?: LifecycleCommand | undefined },
  localFolder: string,
  workspaceFolder: string,
): HookStep[] {
  const steps: HookStep[] = [];
  for (const hook of hookNames) {
    const command = config[hook];
    if (command === undefined) continue;
    const { commands, parallel } = hookCommands(command);
    if (!commands.length) continue;
    const runsOn = hook === "initializeCommand" ? "local" : "workload";
    steps.push({
      hook,
      runsOn,
      when: whenOf[hook],
      parallel,
      commands,
      workingDirectory: runsOn === "local" ? localFolder : workspaceFolder,
    });
  }
  return steps;
}

/** A command for display: the shell string as written, or the argv quoted where needed. */
export function displayCommand(command: HookCommand): string {
  if (command.shell) return command.argv[command.argv.length - 1] ?? "";
  return command.argv.map(shellQuoteForDisplay).join(" ");
}

function shellQuoteForDisplay(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
