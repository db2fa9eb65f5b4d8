// buildah storage of a test's own (never /var/lib/containers): the ZONES_BUILD_ROOT a test
// passes to zonectl, and its removal — through buildah first, since overlay storage holds mounts.
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";

/** buildah's global flags for a build root made by ImagePreparation (root/, runroot/, overlay). */
export function buildahArgs(root: string): string[] {
  return ["--root", join(root, "root"), "--runroot", join(root, "runroot"), "--storage-driver", "overlay"];
}

/** Images in a build root, as `repository:tag` lines. */
export function buildahImages(root: string): string[] {
  try {
    return execFileSync("buildah", [...buildahArgs(root), "images", "--format", "{{.Name}}:{{.Tag}}"], {
      encoding: "utf8",
    })
      .split("\n")
      .filter(Boolean);
  } catch {
    return [];
  }
}

/** Working containers in a build root (ids). */
export function buildahContainers(root: string): string[] {
  try {
    return execFileSync("buildah", [...buildahArgs(root), "containers", "-q", "--all"], { encoding: "utf8" })
      .split("\n")
      .filter(Boolean);
  } catch {
    return [];
  }
}

/** Removes everything buildah keeps under `root`, then the folder. */
export function removeBuildStorage(root: string): void {
  for (const args of [
    ["rm", "--all"],
    ["rmi", "--all", "--force"],
  ]) {
    try {
      execFileSync("buildah", [...buildahArgs(root), ...args], { stdio: "ignore" });
    } catch {
      // nothing there
    }
  }
  try {
    execFileSync("umount", ["--recursive", "--lazy", join(root, "root", "overlay")], { stdio: "ignore" });
  } catch {
    // not mounted
  }
  rmSync(root, { recursive: true, force: true });
}
