import { posix } from "node:path";
import type { JsonPathSegment } from "./diagnostics";

/**
 * What `${…}` variables resolve to before anything runs. `containerEnv` is not here: it only
 * exists once the workload runs, so `${containerEnv:…}` in remoteEnv is deferred.
 */
export interface VariableContext {
  /** Absolute path of the project folder on the developer's machine. */
  readonly localWorkspaceFolder: string;
  /** workspaceFolder inside the workload (after its own substitution). */
  readonly containerWorkspaceFolder: string;
  readonly devcontainerId: string;
  /** The developer machine's environment (`${localEnv:…}`, `${env:…}`). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /**
   * When the project folder is a template source (it holds devcontainer-template.json): the
   * options' defaults, which fill `${templateOption:…}` with a warning saying so.
   */
  readonly templateOptions?: ReadonlyMap<string, string>;
}

/** A problem met while substituting one string. */
export interface VariableProblem {
  readonly severity: "error" | "warning";
  readonly message: string;
}

/** The result of substituting one string. */
export interface Substituted {
  readonly value: string;
  /** True when a `${containerEnv:…}` reference remains, to be resolved after the workload starts. */
  readonly deferred: boolean;
  readonly problems: readonly VariableProblem[];
}

// The spec's syntax: `${name}` or `${name:arg[:default]}`, non-greedy up to the first `}`.
const variablePattern = /\$\{([^}]*)\}/g;

/**
 * Substitutes the local variables in one string. Unknown variables (e.g. a template's
 * `${templateOption:…}`) stay exactly as written. `allowContainerEnv` is true for remoteEnv
 * values, where `${containerEnv:…}` is legal and left for after start.
 */
export function substituteString(
  input: string,
  ctx: VariableContext,
  allowContainerEnv = false,
): Substituted {
  const problems: VariableProblem[] = [];
  let deferred = false;
  const value = input.replace(variablePattern, (whole, body: string) => {
    const [name = "", ...args] = body.split(":");
    switch (name) {
      case "localWorkspaceFolder":
        return ctx.localWorkspaceFolder;
      case "localWorkspaceFolderBasename":
        return posix.basename(ctx.localWorkspaceFolder);
      case "containerWorkspaceFolder":
        return ctx.containerWorkspaceFolder;
      case "containerWorkspaceFolderBasename":
        return posix.basename(ctx.containerWorkspaceFolder);
      case "devcontainerId":
        return ctx.devcontainerId;
      case "localEnv":
      case "env": {
        const variable = args[0] ?? "";
        if (!variable) {
          problems.push({
            severity: "error",
            message: `${whole} can not be resolved: no environment variable name is given`,
          });
          return whole;
        }
        const fallback = args.length > 1 ? args.slice(1).join(":") : undefined;
        const found = ctx.env[variable];
        if (found !== undefined) return found;
        if (fallback !== undefined) return fallback;
        problems.push({
          severity: "warning",
          message: `${whole}: ${variable} is not set on this machine; substituted an empty string`,
        });
        return "";
      }
      case "containerEnv":
        if (!args[0]) {
          problems.push({
            severity: "error",
            message: `${whole} can not be resolved: no environment variable name is given`,
          });
          return whole;
        }
        if (allowContainerEnv) {
          deferred = true;
        } else {
          problems.push({
            severity: "warning",
            message: `${whole} is only resolved in remoteEnv; left as written`,
          });
        }
        return whole;
      case "templateOption": {
        const option = ctx.templateOptions?.get((args[0] ?? "").trim());
        if (option === undefined) return whole;
        problems.push({
          severity: "warning",
          message: `${whole} is filled with the template's default "${option}": this folder is a template source (zonectl init applies it with options of your choice)`,
        });
        return option;
      }
      default:
        return whole;
    }
  });
  return { value, deferred, problems };
}

/**
 * Resolves the `${containerEnv:VAR[:default]}` references left in a deferred remoteEnv value,
 * given the running workload's environment. Unset without a default → empty string.
 */
export function resolveContainerEnv(
  template: string,
  containerEnv: Readonly<Record<string, string | undefined>>,
): string {
  return template.replace(variablePattern, (whole, body: string) => {
    const [name, variable, ...rest] = body.split(":");
    if (name !== "containerEnv" || !variable) return whole;
    return containerEnv[variable] ?? (rest.length ? rest.join(":") : "");
  });
}

/** One substituted string somewhere in the config, for diagnostics. */
export interface SubstitutionProblem extends VariableProblem {
  readonly path: readonly JsonPathSegment[];
}

/**
 * Substitutes every string value in a config (object keys are names, not values, and stay).
 * Returns a new value, the JSON paths whose value still waits for `${containerEnv:…}`, and the
 * problems met, each with its path.
 */
export function substituteDeep<T>(
  value: T,
  ctx: VariableContext,
): { value: T; deferredPaths: JsonPathSegment[][]; problems: SubstitutionProblem[] } {
  const deferredPaths: JsonPathSegment[][] = [];
  const problems: SubstitutionProblem[] = [];
  const walk = (v: unknown, path: JsonPathSegment[]): unknown => {
    if (typeof v === "string") {
      const inRemoteEnv = path.length === 2 && path[0] === "remoteEnv";
      const result = substituteString(v, ctx, inRemoteEnv);
      if (result.deferred) deferredPaths.push(path);
      for (const p of result.problems) problems.push({ ...p, path });
      return result.value;
    }
    if (Array.isArray(v)) return v.map((item, i) => walk(item, [...path, i]));
    if (v !== null && typeof v === "object") {
      // fromEntries defines properties, so a key named "__proto__" stays a plain key.
      return Object.fromEntries(Object.entries(v).map(([k, item]) => [k, walk(item, [...path, k])]));
    }
    return v;
  };
  return { value: walk(value, []) as T, deferredPaths, problems };
}
