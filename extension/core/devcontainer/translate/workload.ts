import type { IdOrNameValueSchema } from "../../../proto/gen/protect/control/v1/common_pb";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { keepAliveCommand } from "../plan";
import type { LaunchImage, PropertyStatus, RemoteEnvVar } from "../plan";
import { claim, has, unique } from "./context";
import type { Row, TranslateContext, Translation } from "./context";

type IdOrNameInit = MessageInitShape<typeof IdOrNameValueSchema>;

/** The workload's process as the file sets it (the working directory comes from storage). */
export interface ProcessPart {
  readonly environment: Array<{ key: string; value: string }>;
  readonly command: string[];
  readonly tty: boolean;
  readonly stdin: boolean;
  readonly stdout: boolean;
  readonly stderr: boolean;
  readonly user?: IdOrNameInit;
  readonly group?: IdOrNameInit;
}

/** The workload's privileges. */
export interface SecurityPart {
  readonly privileged: boolean;
  readonly raiseCapabilities: string[];
  readonly dropCapabilities: string[];
}

/** The workload part of a plan: its process, its privileges, and how later processes run. */
export interface WorkloadPart extends Translation {
  /** The workload spec's `process` (environment, command, user), without workingDirectory. */
  readonly process: ProcessPart;
  readonly security: SecurityPart;
  /** User of hooks and terminals: remoteUser, else containerUser, else the image's. */
  readonly remoteUser: string | undefined;
  readonly remoteEnv: readonly RemoteEnvVar[];
  readonly shutdownAction: "none" | "stopWorkload";
}

/**
 * Environment, users, the process the workload runs and its privileges: containerEnv, remoteEnv,
 * containerUser, remoteUser, overrideCommand, privileged, capAdd and what runArgs add to them.
 */
export function translateWorkload(ctx: TranslateContext): WorkloadPart {
  const c = ctx.config;
  // Values the image's metadata may add to (features' privileges, users, environments).
  const m = ctx.merged;
  const effects = ctx.runArgs.effects;
  const imageBased = c.dockerComposeFile === undefined;
  const overrideCommand = m.overrideCommand ?? imageBased;
  const env = new Map<string, string>();
  for (const [name, value] of Object.entries(m.containerEnv ?? {})) env.set(name, value);
  for (const [name, value] of effects.env) env.set(name, value);
  const containerUser = c.containerUser ?? effects.user ?? m.containerUser;
  const user = containerUser !== undefined ? userSpec(containerUser) : undefined;
  const remoteEnv: RemoteEnvVar[] = Object.entries(m.remoteEnv ?? {}).map(([name, value]) => ({
    name,
    value,
    deferred: ctx.deferred.has(JSON.stringify(["remoteEnv", name])),
  }));
  const capAdd = unique([...(m.capAdd ?? []), ...effects.capAdd].map(capabilityName));
  const command = workloadCommand(overrideCommand, ctx.image?.entrypoints ?? [], ctx.image?.launch);

  const rows: Row[] = [];
  const row = (key: string, status: Row["status"], detail: string): void => {
    if (has(ctx, key)) rows.push({ path: [key], status, detail });
  };
  row(
    "containerEnv",
    "translated",
    `workload environment: ${Object.keys(c.containerEnv ?? {}).join(", ") || "(none)"}`,
  );
  const later = remoteEnv.filter((e) => e.deferred).map((e) => e.name);
  row(
    "remoteEnv",
    "translated",
    `environment of hooks and terminals${later.length ? `; ${later.join(", ")} resolved after start (\${containerEnv:…})` : ""}`,
  );
  row("containerUser", "translated", `workload process user "${c.containerUser ?? ""}"`);
  row("remoteUser", "translated", `user of hooks and terminals "${c.remoteUser ?? ""}"`);
  row(
    "updateRemoteUserUID",
    "ignored",
    "the workspace is copied to the host, not bind-mounted from your machine, so file ownership needs no UID remapping",
  );
  row(
    "userEnvProbe",
    "ignored",
    "hooks and terminals get containerEnv and remoteEnv; the user's shell profile environment is not probed",
  );
  row(
    "overrideCommand",
    "translated",
    overrideCommand
      ? "workload process: a keep-alive loop instead of the image's command"
      : "workload process: the image's own entrypoint and command",
  );
  if (c.shutdownAction === "stopCompose")
    row("shutdownAction", "ignored", "a Compose setting (dockerComposeFile is refused)");
  else
    row(
      "shutdownAction",
      "translated",
      c.shutdownAction === "none"
        ? "closing leaves the zone running (zonectl down destroys it)"
        : "closing stops the workload (zonectl down destroys the zone)",
    );
  row("init", "ignored", "the zone's init already reaps processes");
  row(
    "privileged",
    "translated",
    c.privileged ? "privileged workload (inside the zone; the VM boundary still holds)" : "not privileged",
  );
  row(
    "capAdd",
    "translated",
    `workload capabilities raised: ${(c.capAdd ?? []).map(capabilityName).join(", ") || "(none)"}`,
  );
  row(
    "securityOpt",
    "ignored",
    "seccomp/AppArmor/SELinux options configure Docker's host; the zone's own kernel is the boundary",
  );

  const runArgClaims = new Map<number, { status: PropertyStatus; detail: string }>();
  if (c.containerUser !== undefined)
    for (const v of ctx.runArgs.verdicts)
      if (v.status === "translated" && v.flag === "--user")
        runArgClaims.set(...claim(v, "ignored", "containerUser sets the workload user"));

  return {
    rows,
    refusals: [],
    runArgClaims,
    process: {
      environment: [...env].map(([key, value]) => ({ key, value })),
      command,
      tty: false,
      stdin: false,
      stdout: true,
      stderr: true,
      ...(user ? { user: user.user, ...(user.group ? { group: user.group } : {}) } : {}),
    },
    security: {
      privileged: (m.privileged ?? false) || effects.privileged,
      raiseCapabilities: capAdd,
      dropCapabilities: unique(effects.capDrop.map(capabilityName)),
    },
    remoteUser: c.remoteUser ?? m.remoteUser ?? containerUser,
    remoteEnv,
    shutdownAction: m.shutdownAction === "none" ? "none" : "stopWorkload",
  };
}

/**
 * The workload's argv. Features' entrypoints (docker-in-docker starts dockerd in one) run first,
 * in install order, in one shell; then either the keep-alive loop (overrideCommand) or the image's
 * own entrypoint and command, exec'd. Empty: the image's own, unchanged.
 */
function workloadCommand(
  overrideCommand: boolean,
  entrypoints: readonly string[],
  image: LaunchImage | undefined,
): string[] {
  if (!entrypoints.length) return overrideCommand ? [...keepAliveCommand] : [];
  const prelude = entrypoints.join("\n");
  if (overrideCommand) return ["/bin/sh", "-c", `${prelude}\n${keepAliveCommand[2]}`];
  return ["/bin/sh", "-c", `${prelude}\nexec "$@"`, "-", ...(image?.entrypoint ?? []), ...(image?.cmd ?? [])];
}

/** "SYS_PTRACE", "cap_sys_ptrace" → "CAP_SYS_PTRACE": the kernel's own spelling. "ALL" stays. */
export function capabilityName(cap: string): string {
  const upper = cap.trim().toUpperCase();
  if (upper === "ALL") return upper;
  return upper.startsWith("CAP_") ? upper : `CAP_${upper}`;
}

/** containerUser → ProcessSpec user/group: numbers are ids, anything else names; "user:group" sets both. */
export function userSpec(text: string): { user: IdOrNameInit; group?: IdOrNameInit } {
  const [userPart = "", groupPart] = text.split(":");
  const one = (value: string): IdOrNameInit =>
    /^\d+$/.test(value)
      ? { idOrName: { case: "id", value: Number(value) } }
      : { idOrName: { case: "name", value } };
  return groupPart !== undefined && groupPart !== ""
    ? { user: one(userPart), group: one(groupPart) }
    : { user: one(userPart) };
}
