import { lstatSync, realpathSync } from "node:fs";
import { join, posix } from "node:path";
import { DevHostError } from "./errors";

/**
 * The real path of a bind mount's source, or a refusal. The source must lie under one of the
 * folders this dev host mounts from, and no component below that folder may be a symbolic
 * link: a zone can write into the workspace copies it mounts, and a link it planted there
 * (or one a repository carried in) would otherwise be followed on the host — `hostroot -> /`
 * would mount the host's root into the zone, writable. The folder itself may be reached
 * through links the administrator made (its real path is used).
 */
export function resolveBindSource(hostPath: string, roots: readonly string[]): string {
  if (!hostPath.startsWith("/"))
    throw new DevHostError(
      "invalidArgument",
      `mount host_path must be absolute: ${JSON.stringify(hostPath)}`,
    );
  const path = posix.normalize(hostPath).replace(/(.)\/+$/, "$1");
  const root = roots
    .map((r) => posix.normalize(r).replace(/(.)\/+$/, "$1"))
    .filter((r) => path === r || path.startsWith(r === "/" ? r : `${r}/`))
    .sort((a, b) => b.length - a.length)[0];
  if (root === undefined)
    throw new DevHostError(
      "permissionDenied",
      `mount host_path ${hostPath} is outside the folders this dev host mounts from (${roots.join(", ")}); start it with --mount-root to allow another`,
    );
  let current: string;
  try {
    current = realpathSync(root);
  } catch {
    throw new DevHostError("invalidArgument", `mount host_path ${hostPath} does not exist on the dev host`);
  }
  for (const part of posix.relative(root, path).split("/").filter(Boolean)) {
    current = join(current, part);
    let link: boolean;
    try {
      link = lstatSync(current).isSymbolicLink();
    } catch {
      throw new DevHostError("invalidArgument", `mount host_path ${hostPath} does not exist on the dev host`);
    }
    if (link)
      throw new DevHostError(
        "invalidArgument",
        `mount host_path ${hostPath}: ${current} is a symbolic link; the dev host never follows a link in a bind source`,
      );
  }
  return current;
}
