import { createHash } from "node:crypto";
import { homedir } from "node:os";
import { join } from "node:path";
import type { ProtectTarget } from "../protect/target";
import { defaultSocketPath } from "../protect/transport";

/** Where the gateway keeps its files: our own folder under ~/.ssh. */
export function gatewayDirectory(home: string = homedir()): string {
  return join(home, ".ssh", "styrolite-zones");
}

/** A name part safe in an ssh_config `Host` pattern and a file name. */
function safePart(text: string): string {
  return text.replace(/[^A-Za-z0-9_-]+/g, "-").replace(/^-+|-+$/g, "") || "x";
}

/**
 * The host's part of an alias: the SSH host as written (`styro-1`), nothing for the local
 * daemon's default socket, `local-<hash>` for another local socket (a dev host's).
 */
export function hostLabel(target: ProtectTarget): string | undefined {
  if (target.kind === "ssh") return safePart(target.destination.host);
  if (target.socketPath === defaultSocketPath) return undefined;
  return `local-${createHash("sha256").update(target.socketPath).digest("hex").slice(0, 8)}`;
}

/**
 * The ssh alias of a zone (or one workload in it) on a host: `myzone.zones` on the local
 * daemon, `myzone.styro-1.zones` on host styro-1, `web.myzone.styro-1.zones` for a workload.
 */
export function gatewayAlias(target: ProtectTarget, zone: string, workload?: string): string {
  const label = hostLabel(target);
  return [workload, zone, label, "zones"]
    .filter((p): p is string => p !== undefined)
    .map((p, i, all) => (i === all.length - 1 ? p : safePart(p)))
    .join(".");
}

/** `ZONE[/WORKLOAD]` split. */
export function splitZoneArgument(text: string): { zone: string; workload: string | undefined } {
  const slash = text.indexOf("/");
  return slash < 0
    ? { zone: text, workload: undefined }
    : { zone: text.slice(0, slash), workload: text.slice(slash + 1) || undefined };
}
