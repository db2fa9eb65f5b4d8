import { parseMountString, parseVolumeFlag } from "./mounts";
import type { MountRequest } from "./mounts";
import { parsePublish } from "./ports";
import type { PortPublish } from "./ports";
import { dockerSizeToMiB } from "./units";

/** What one `runArgs` flag became. */
export interface RunArgVerdict {
  /** Index in runArgs of the flag (its value may be the next entry). */
  readonly index: number;
  /** The flag as written, with its value. */
  readonly text: string;
  /** The flag's long name (`-m` → `--memory`), for callers that refine a verdict. */
  readonly flag: string;
  readonly status: "translated" | "ignored" | "refused";
  readonly detail: string;
}

/** The effect of the translated flags, for the planner to merge with the properties. */
export interface RunArgEffects {
  readonly env: Array<[string, string]>;
  readonly capAdd: string[];
  readonly capDrop: string[];
  privileged: boolean;
  workloadName: string | undefined;
  hostname: string | undefined;
  cpus: number | undefined;
  memoryMiB: number | undefined;
  user: string | undefined;
  readonly mounts: Array<{ readonly index: number; readonly request: MountRequest }>;
  readonly publish: Array<{ readonly index: number; readonly ports: PortPublish[] }>;
  gpu: boolean;
}

// Flags that take a value, by every spelling, mapped to the long name we handle them by.
const valueFlags: Record<string, string> = {
  "-e": "--env",
  "--env": "--env",
  "--cpus": "--cpus",
  "-m": "--memory",
  "--memory": "--memory",
  "--name": "--name",
  "-h": "--hostname",
  "--hostname": "--hostname",
  "--cap-add": "--cap-add",
  "--cap-drop": "--cap-drop",
  "-v": "--volume",
  "--volume": "--volume",
  "--mount": "--mount",
  "-u": "--user",
  "--user": "--user",
  "-p": "--publish",
  "--publish": "--publish",
  "--gpus": "--gpus",
  "-w": "--workdir",
  "--workdir": "--workdir",
  "-l": "--label",
  "--label": "--label",
  "-c": "--cpu-shares",
};

// Flags known to take no value, so the next entry is not mistaken for theirs.
const booleanFlags = new Set([
  "--privileged",
  "--init",
  "--rm",
  "-t",
  "--tty",
  "-i",
  "--interactive",
  "-d",
  "--detach",
  "--read-only",
  "--no-healthcheck",
  "--oom-kill-disable",
  "-P",
  "--publish-all",
  "--disable-content-trust",
  "-q",
  "--quiet",
  "--sig-proxy",
  "--help",
]);
const combinableShort = new Set(["i", "t", "d", "P", "q"]);

const ignoredReasons: Record<string, string> = {
  "--network": "a zone has its own network stack (see customizations.styrolite.network)",
  "--net": "a zone has its own network stack (see customizations.styrolite.network)",
  "--security-opt":
    "seccomp/AppArmor/SELinux options configure Docker's host; the zone's own kernel is the boundary",
  "--device": "host devices are passed to a zone with customizations.styrolite.devices",
  "--init": "the zone's init already reaps processes",
  "--rm": "zonectl down removes the zone and its workload",
  "--workdir": "workspaceFolder sets the working directory",
  "--env-file": "reads a file on your machine; put the variables in containerEnv instead",
  "--label": "workloads carry annotations, set with customizations.styrolite.annotations",
  "--platform": "the host runs its own architecture",
  "--add-host": "the zone's /etc/hosts is not configurable through the control API",
  "--shm-size": "/dev/shm in a zone is sized by its kernel",
  "--ulimit": "resource limits come from the zone's CPUs and memory",
  "--pid": "a zone has its own process namespace",
  "--ipc": "a zone has its own IPC namespace",
  "--userns": "the zone's kernel provides the user namespace",
  "--cpu-shares": "zones are sized in whole vCPUs (use --cpus or hostRequirements.cpus)",
};

/** Splits `runArgs` into flags and reads each one, translating what a zone can honour. */
export function interpretRunArgs(
  args: readonly string[],
  localEnv: Readonly<Record<string, string | undefined>>,
): { effects: RunArgEffects; verdicts: RunArgVerdict[] } {
  const effects: RunArgEffects = {
    env: [],
    capAdd: [],
    capDrop: [],
    privileged: false,
    workloadName: undefined,
    hostname: undefined,
    cpus: undefined,
    memoryMiB: undefined,
    user: undefined,
    mounts: [],
    publish: [],
    gpu: false,
  };
  const verdicts: RunArgVerdict[] = [];

  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const index = i;
    let canonicalFlag = arg;
    const say = (status: RunArgVerdict["status"], detail: string, text: string): void => {
      verdicts.push({ index, text, flag: canonicalFlag, status, detail });
    };

    if (!arg.startsWith("-") || arg === "-" || arg === "--") {
      say("ignored", `"${arg}" is not a flag; runArgs holds docker run options only`, arg);
      continue;
    }

    // Split the flag from its value: --flag=value, -eVALUE, or the next entry.
    let flag = arg;
    let value: string | undefined;
    const eq = arg.indexOf("=");
    if (arg.startsWith("--") && eq > 0) {
      flag = arg.slice(0, eq);
      value = arg.slice(eq + 1);
    } else if (!arg.startsWith("--") && arg.length > 2) {
      const letters = arg.slice(1).split("");
      if (letters.every((l) => combinableShort.has(l))) {
        say("ignored", "terminals are attached on demand (zonectl shell), not at creation", arg);
        continue;
      }
      if (valueFlags[arg.slice(0, 2)]) {
        flag = arg.slice(0, 2);
        value = arg.slice(2).replace(/^=/, "");
      }
    }
    const canonical = valueFlags[flag] ?? flag;
    canonicalFlag = canonical;
    const takesValue = valueFlags[flag] !== undefined || (!booleanFlags.has(flag) && flag.startsWith("--"));
    let text = arg;
    if (takesValue && value === undefined) {
      const next = args[i + 1];
      if (next !== undefined && !next.startsWith("-")) {
        value = next;
        text = `${arg} ${next}`;
        i++;
      } else if (valueFlags[flag] !== undefined) {
        say("refused", `${flag} needs a value`, arg);
        continue;
      }
    }

    switch (canonical) {
      case "--env": {
        const v = value ?? "";
        const at = v.indexOf("=");
        if (at === 0 || v === "") {
          say("refused", `${flag} "${v}" is not NAME=value`, text);
        } else if (at < 0) {
          const fromHere = localEnv[v];
          if (fromHere === undefined)
            say("ignored", `${v} is not set on this machine, so Docker would not pass it either`, text);
          else {
            effects.env.push([v, fromHere]);
            say("translated", `workload environment ${v} (value taken from this machine)`, text);
          }
        } else {
          effects.env.push([v.slice(0, at), v.slice(at + 1)]);
          say("translated", `workload environment ${v.slice(0, at)}`, text);
        }
        break;
      }
      case "--cpus": {
        const cpus = Number(value);
        if (!Number.isFinite(cpus) || cpus <= 0)
          say("refused", `--cpus "${value ?? ""}" is not a positive number`, text);
        else {
          effects.cpus = Math.ceil(cpus);
          say(
            "translated",
            `zone vCPUs: ${effects.cpus}${Number.isInteger(cpus) ? "" : ` (${cpus} rounded up: zones have whole vCPUs)`}`,
            text,
          );
        }
        break;
      }
      case "--memory": {
        const mib = dockerSizeToMiB(value ?? "");
        if (mib === undefined)
          say("refused", `--memory "${value ?? ""}" is not a size (e.g. 512m, 4g)`, text);
        else {
          effects.memoryMiB = mib;
          say("translated", `zone memory: ${mib} MiB`, text);
        }
        break;
      }
      case "--name":
        effects.workloadName = value;
        say("translated", `workload name "${value ?? ""}"`, text);
        break;
      case "--hostname":
        effects.hostname = value;
        say("translated", `zone name (a zone's guest is known by its zone name)`, text);
        break;
      case "--cap-add":
        for (const cap of (value ?? "").split(",").filter(Boolean)) effects.capAdd.push(cap);
        say("translated", `workload capabilities raised: ${value ?? ""}`, text);
        break;
      case "--cap-drop":
        for (const cap of (value ?? "").split(",").filter(Boolean)) effects.capDrop.push(cap);
        say("translated", `workload capabilities dropped: ${value ?? ""}`, text);
        break;
      case "--privileged":
        if (value === undefined || value === "true") {
          effects.privileged = true;
          say("translated", "privileged workload (inside the zone; the VM boundary still holds)", text);
        } else say("translated", "not privileged", text);
        break;
      case "--volume":
      case "--mount": {
        const request =
          canonical === "--mount" ? parseMountString(value ?? "") : parseVolumeFlag(value ?? "");
        if ("error" in request) say("refused", request.error, text);
        else {
          effects.mounts.push({ index, request });
          // The planner replaces this verdict with what the mount became.
          say("translated", "mount", text);
        }
        break;
      }
      case "--user":
        effects.user = value;
        say("translated", `workload user "${value ?? ""}"`, text);
        break;
      case "--publish": {
        const parsed = parsePublish(value ?? "");
        if ("reason" in parsed) say("ignored", parsed.reason, text);
        else {
          effects.publish.push({ index, ports: parsed.ports });
          say(
            "translated",
            `port forward ${parsed.ports.map((p) => `${p.localPort}→${p.containerPort}`).join(", ")}`,
            text,
          );
        }
        break;
      }
      case "--gpus":
        effects.gpu = true;
        say("translated", "GPU device request", text);
        break;
      default:
        say(
          "ignored",
          ignoredReasons[canonical] ?? `${flag} is a docker run option with no meaning for a zone workload`,
          text,
        );
    }
  }
  return { effects, verdicts };
}
