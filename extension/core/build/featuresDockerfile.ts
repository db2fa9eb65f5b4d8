import type { ResolvedFeature } from "../features/resolve";
import { optionsEnvFile, shellQuote } from "../features/options";

/** Where feature files sit inside the image while they install (as the reference tools place them). */
export const featuresFolder = "/tmp/dev-container-features";

/** The marker a feature's wrapper prints first, so a failed build can name the feature. */
export const featureMarker = "==> styrolite-zones feature";

/** One file of the generated build context, relative to its root. */
export interface ContextFile {
  readonly path: string;
  readonly content: string;
  readonly mode?: number;
}

/** The feature-install stage: a Dockerfile and the generated files beside the features' own. */
export interface FeaturesStage {
  readonly dockerfile: string;
  /** Generated files (wrappers, env files); the features' folders are copied in by the caller. */
  readonly files: readonly ContextFile[];
  /** Context folder name of each feature, in install order. */
  readonly folders: readonly string[];
}

/**
 * The Dockerfile that installs `features` on `base`, as the spec lays it out: as root, per
 * feature its containerEnv as ENV (so later features and the image see it), its folder, and a
 * wrapper that sources the built-in variables (_CONTAINER_USER, _REMOTE_USER and their homes)
 * and its options, then runs install.sh; finally the image's own user again.
 */
export function featuresStage(
  base: string,
  features: readonly ResolvedFeature[],
  users: { containerUser: string; remoteUser: string; imageUser: string },
): FeaturesStage {
  const files: ContextFile[] = [
    {
      path: "builtin.env",
      content: `_CONTAINER_USER=${shellQuote(users.containerUser)}\n_REMOTE_USER=${shellQuote(users.remoteUser)}\n`,
    },
  ];
  const lines = [
    `FROM ${base} AS dev_containers_target_stage`,
    "USER root",
    `COPY builtin.env ${featuresFolder}/devcontainer-features.builtin.env`,
    `RUN ${homeLine("_CONTAINER_USER_HOME", users.containerUser)} && \\`,
    `    ${homeLine("_REMOTE_USER_HOME", users.remoteUser)}`,
  ];
  const folders: string[] = [];
  features.forEach((f, i) => {
    const folder = `${i}-${f.json.id}`;
    folders.push(folder);
    files.push({ path: `${folder}/devcontainer-features.env`, content: optionsEnvFile(f.options) });
    files.push({ path: `${folder}/devcontainer-features-install.sh`, content: wrapper(f, i), mode: 0o755 });
    lines.push("");
    for (const [name, value] of Object.entries(f.json.containerEnv ?? {}))
      lines.push(`ENV ${name}=${envValue(value)}`);
    lines.push(`COPY ${folder} ${featuresFolder}/${folder}`);
    lines.push(
      `RUN chmod -R 0755 ${featuresFolder}/${folder} && cd ${featuresFolder}/${folder} && ./devcontainer-features-install.sh`,
    );
  });
  lines.push("", `USER ${users.imageUser || "root"}`, "");
  return { dockerfile: lines.join("\n"), files, folders };
}

/** Problems that would make the generated Dockerfile wrong: env names, the user's name. */
export function stageProblems(features: readonly ResolvedFeature[], imageUser: string): string[] {
  const problems: string[] = [];
  for (const f of features)
    for (const name of Object.keys(f.json.containerEnv ?? {}))
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
        problems.push(`feature "${f.userId}": containerEnv "${name}" is not an environment variable name`);
  if (imageUser && !/^[A-Za-z0-9_.][A-Za-z0-9_.:-]*$/.test(imageUser))
    problems.push(`the image's user "${imageUser}" cannot be written in a USER instruction`);
  return problems;
}

/** ENV values in double quotes: `"` and `\` escaped; `$VAR` still expands, as features expect (PATH=…:$PATH). */
function envValue(value: string): string {
  return `"${value.replace(/(["\\])/g, "\\$1")}"`;
}

function homeLine(variable: string, user: string): string {
  // busybox images have no getent: read /etc/passwd by name or uid.
  return `echo "${variable}=$(awk -F: -v u=${shellQuote(user)} '$1==u || $3==u {print $6; exit}' /etc/passwd)" >> ${featuresFolder}/devcontainer-features.builtin.env`;
}

/** The wrapper run as root for one feature: marker, environment, install.sh. */
function wrapper(f: ResolvedFeature, index: number): string {
  return [
    "#!/bin/sh",
    "set -e",
    `_ZONES_FEATURE=${shellQuote(f.userId)}`,
    `echo "${featureMarker} ${index}: $_ZONES_FEATURE"`,
    `trap '_zones_exit=$?; [ $_zones_exit -eq 0 ] || echo "ERROR: feature $_ZONES_FEATURE failed to install (exit $_zones_exit)"' EXIT`,
    "set -a",
    ". ../devcontainer-features.builtin.env",
    ". ./devcontainer-features.env",
    "set +a",
    "chmod +x ./install.sh",
    "./install.sh",
    "",
  ].join("\n");
}
