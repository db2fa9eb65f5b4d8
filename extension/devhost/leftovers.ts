import { rmdirSync } from "node:fs";
import { basename, dirname } from "node:path";
import { removeEmptyGroupsEverywhere } from "./sandbox/cgroups";
import type { Logger } from "../core/log";
import { deleteLinkIfPresent } from "./sandbox/network";
import { isSameProcess } from "./sandbox/procfs";
import type { SandboxHost, ZoneRuntimeRecord } from "./sandbox/zoneSandbox";

/**
 * Removes what a zone of an earlier dev host run may have left (that run was killed and could
 * not clean up): its init and wrapper processes, cgroup directories, veth. Each step is
 * best-effort and checks identity first — a recycled pid is never killed.
 */
export async function cleanupLeftovers(
  host: SandboxHost,
  runtime: ZoneRuntimeRecord,
  log: Logger,
): Promise<void> {
  if (isSameProcess(runtime.wrapperPid, runtime.wrapperStartTime)) {
    log.info(`leftovers: killing zone wrapper ${runtime.wrapperPid} from an earlier run`);
    try {
      // The wrapper is unshare --kill-child (namespaces) or the init itself (process group).
      process.kill(runtime.mode === "process" ? -runtime.wrapperPid : runtime.wrapperPid, "SIGKILL");
    } catch {
      // gone meanwhile
    }
  }
  if (runtime.cgroupDirs.length > 0) {
    const node = host.cgroups.existing(runtime.cgroupDirs);
    await node.destroy().catch((err: unknown) => log.warn("leftovers: cgroup removal", err));
    // What runc made for the zone's containers in the other hierarchies, and the parents.
    const zoneDir = runtime.cgroupDirs[0]!.dir;
    const relative = `${basename(dirname(zoneDir))}/${basename(zoneDir)}`;
    await removeEmptyGroupsEverywhere([relative, dirname(relative)]);
    // The per-run parent folder goes too once its last zone is gone.
    for (const d of runtime.cgroupDirs) {
      try {
        rmdirSync(dirname(d.dir));
      } catch {
        // still holds other zones, or already gone
      }
    }
  }
  if (runtime.hostInterface) await deleteLinkIfPresent(runtime.hostInterface);
}
