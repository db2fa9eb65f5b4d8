import { posix } from "node:path";

/** A mount as devcontainer.json or `docker run` describes it, before we decide what it becomes. */
export interface MountRequest {
  readonly type: string;
  readonly source: string | undefined;
  readonly target: string;
  readonly readOnly: boolean;
}

/** What a requested mount becomes in a zone. */
export type MountMapping =
  /** A path inside the synced workspace: mounted from the workspace copy on the host. */
  | { readonly kind: "workspace"; readonly hostPath: string; readonly target: string; readonly note: string }
  /** A named volume: a persistent folder on the host, shared by name like a Docker volume. */
  | {
      readonly kind: "volume";
      readonly name: string;
      readonly hostPath: string;
      readonly target: string;
      readonly note: string;
    }
  /** An anonymous volume or tmpfs: scratch space that lives as long as the workload. */
  | { readonly kind: "scratch"; readonly target: string }
  | { readonly kind: "ignored"; readonly reason: string }
  | { readonly kind: "refused"; readonly reason: string };

/** Where mounts may come from on the host. */
export interface MountContext {
  readonly localWorkspaceFolder: string;
  /** The host folder the workspace is synced to. */
  readonly hostWorkspacePath: string;
  /** The host folder under which named volumes live. */
  readonly volumeRoot: string;
  /**
   * Resolves symbolic links on this machine (undefined: a link leads nowhere). Without it bind
   * sources are judged by their text alone, as in the editor's diagnostics, which never launch.
   */
  readonly realPath?: (path: string) => string | undefined;
}

// Docker's own rule for volume names; it also keeps a name a single, harmless path segment.
const volumeName = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Parses Docker's `--mount` syntax: `type=bind,source=/a,target=/b,readonly`. */
export function parseMountString(text: string): MountRequest | { readonly error: string } {
  let type = "volume";
  let source: string | undefined;
  let target: string | undefined;
  let readOnly = false;
  for (const field of text.split(",")) {
    const eq = field.indexOf("=");
    const key = (eq < 0 ? field : field.slice(0, eq)).trim().toLowerCase();
    const value = eq < 0 ? undefined : field.slice(eq + 1).trim();
    switch (key) {
      case "type":
        type = value ?? "";
        break;
      case "source":
      case "src":
        source = value;
        break;
      case "target":
      case "destination":
      case "dst":
        target = value;
        break;
      case "readonly":
      case "ro":
        readOnly = value === undefined || value === "true" || value === "1";
        break;
      case "":
        break;
      default:
        // consistency, bind-propagation, volume-opt, tmpfs-size…: Docker tuning with no zone meaning.
        break;
    }
  }
  if (!target) return { error: `mount "${text}" has no target` };
  return { type, source: source || undefined, target, readOnly };
}

/** Parses Docker's `-v`/`--volume` syntax: `name:/target[:ro]`, `/host:/target`, or `/target`. */
export function parseVolumeFlag(text: string): MountRequest | { readonly error: string } {
  const parts = text.split(":");
  if (parts.length === 1) return { type: "volume", source: undefined, target: parts[0]!, readOnly: false };
  const [source = "", target = "", options = ""] = parts;
  if (!target) return { error: `volume "${text}" has no target` };
  const isPath = source.startsWith("/") || source.startsWith(".") || source.startsWith("~");
  return { type: isPath ? "bind" : "volume", source, target, readOnly: options.split(",").includes("ro") };
}

/** Decides what a requested mount becomes in a zone (no I/O; the executor creates folders). */
export function mapMount(request: MountRequest, ctx: MountContext): MountMapping {
  if (!request.target.startsWith("/"))
    return { kind: "refused", reason: `target "${request.target}" is not an absolute path` };
  const readOnlyNote = request.readOnly
    ? " (read-only cannot be expressed in a zone mount: it will be writable)"
    : "";
  switch (request.type) {
    case "bind": {
      const source = request.source ?? "";
      // Only absolute sources can be matched against the workspace; `~` and relative paths
      // name places on the developer's machine we cannot see from the host.
      const relative = source.startsWith("/")
        ? posix.relative(ctx.localWorkspaceFolder, posix.normalize(source))
        : "..";
      if (isInside(relative)) {
        const real = realRelative(ctx, posix.normalize(source));
        if ("refused" in real) return { kind: "refused", reason: real.refused };
        return {
          kind: "workspace",
          hostPath: real.relative ? posix.join(ctx.hostWorkspacePath, real.relative) : ctx.hostWorkspacePath,
          target: request.target,
          note: `from the synced workspace copy${readOnlyNote}`,
        };
      }
      return {
        kind: "ignored",
        reason: `bind mount of "${source}": that path is on your machine, and the zone runs on the host; only the workspace folder is synced`,
      };
    }
    case "volume": {
      if (!request.source) return { kind: "scratch", target: request.target };
      if (!volumeName.test(request.source)) {
        return {
          kind: "refused",
          reason: `"${request.source}" is not a valid volume name (letters, digits, _ . -; starting with a letter or digit)`,
        };
      }
      return {
        kind: "volume",
        name: request.source,
        hostPath: posix.join(ctx.volumeRoot, request.source),
        target: request.target,
        note: `persistent host folder${readOnlyNote}`,
      };
    }
    case "tmpfs":
      return { kind: "scratch", target: request.target };
    default:
      return { kind: "ignored", reason: `mount type "${request.type}" has no equivalent in a zone` };
  }
}

function isInside(relative: string): boolean {
  return relative !== ".." && !relative.startsWith("../") && !posix.isAbsolute(relative);
}

/**
 * Where a bind source really is, relative to the real project folder. A symbolic link in the
 * repository (`src -> /home`, `up -> ../..`) passes a textual check, and the sync would then
 * walk through it and upload whatever it points to; the host copy would hold the link, and a
 * bind mount of it would follow it on the host. So the real path must stay inside the real
 * project, and the host path is built from the real relative path: it has no link to follow.
 */
function realRelative(ctx: MountContext, source: string): { relative: string } | { refused: string } {
  const lexical = posix.relative(ctx.localWorkspaceFolder, source);
  if (!ctx.realPath) return { relative: lexical };
  const project = ctx.realPath(ctx.localWorkspaceFolder);
  const real = ctx.realPath(source);
  if (project === undefined || real === undefined)
    return {
      refused: `bind source "${source}" passes through a symbolic link that leads nowhere on this machine; refusing to sync or mount it`,
    };
  const relative = posix.relative(project, real);
  if (!isInside(relative))
    return {
      refused: `bind source "${source}" leads to ${real}, outside the project folder (a symbolic link on the way); refusing to sync or mount it`,
    };
  return { relative };
}
