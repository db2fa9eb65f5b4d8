import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { succeeds } from "./exec";
import type { Tools } from "./launch";

/**
 * Whether overlayfs can be mounted with upper/work directories under `runDir` (it cannot when
 * the state directory itself lives on an overlay, as inside many containers). Tried in a
 * throwaway mount namespace, so nothing is left mounted either way.
 */
export async function overlayWorks(tools: Tools, runDir: string): Promise<boolean> {
  // overlay options are comma/colon separated: such characters in our paths cannot be passed.
  if (/[,:\s]/.test(runDir)) return false;
  const dir = join(runDir, `overlay-probe-${process.pid}`);
  const parts = ["lower", "upper", "work", "merged"].map((p) => join(dir, p));
  try {
    for (const p of parts) mkdirSync(p, { recursive: true });
    const [lower, upper, work, merged] = parts as [string, string, string, string];
    return await succeeds(tools.unshare, [
      "--mount",
      "--propagation",
      "private",
      "--",
      "mount",
      "-t",
      "overlay",
      "-o",
      `lowerdir=${lower},upperdir=${upper},workdir=${work}`,
      "overlay",
      merged,
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
