import { posix } from "node:path";
import type { MountSpecSchema } from "../../../proto/gen/protect/control/v1/common_pb";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { JsonPathSegment } from "../diagnostics";
import { mapMount, parseMountString } from "../mounts";
import type { MountRequest } from "../mounts";
import type { HostVolume, PropertyStatus, WorkspaceSync } from "../plan";
import { has, unique } from "./context";
import type { Row, TranslateContext, Translation } from "./context";

/** The storage part of a plan: the workspace copy, mounts, volumes and scratch space. */
export interface StoragePart extends Translation {
  readonly sync: WorkspaceSync;
  /** The workload's mounts: the workspace first, then volumes and workspace sub-folders. */
  readonly mounts: ReadonlyArray<MessageInitShape<typeof MountSpecSchema>>;
  readonly volumes: readonly HostVolume[];
  /** Targets that get scratch space living as long as the workload (tmpfs mounts). */
  readonly scratch: readonly string[];
}

/** `workspaceMount`, `workspaceFolder`, `mounts` and runArgs `--mount` / `--volume`. */
export function translateStorage(ctx: TranslateContext): StoragePart {
  const c = ctx.config;
  const { localFolder, hostWorkspacePath, workspaceFolder } = ctx;
  const mountContext = {
    localWorkspaceFolder: localFolder,
    hostWorkspacePath,
    volumeRoot: ctx.volumeRoot,
    ...(ctx.realPath ? { realPath: ctx.realPath } : {}),
  };
  const rows: Row[] = [];

  // workspaceMount only moves the copy: its source must lie inside the project folder.
  let syncSource = localFolder;
  let syncTarget = workspaceFolder;
  let workspaceMountRow: Row | undefined;
  if (c.workspaceMount !== undefined) {
    const path = ["workspaceMount"];
    const parsed = parseMountString(c.workspaceMount);
    if ("error" in parsed) workspaceMountRow = { path, status: "refused", detail: parsed.error };
    else if (parsed.type !== "bind") {
      workspaceMountRow = {
        path,
        status: "ignored",
        detail: `a ${parsed.type} workspace mount has no zone equivalent; the project folder is synced to ${workspaceFolder} instead`,
      };
    } else {
      const mapped = mapMount(parsed, mountContext);
      if (mapped.kind === "workspace") {
        syncSource = posix.join(localFolder, posix.relative(hostWorkspacePath, mapped.hostPath));
        syncTarget = parsed.target;
        workspaceMountRow = {
          path,
          status: "translated",
          detail: `sync ${syncSource} → host ${hostWorkspacePath} → ${syncTarget}`,
        };
      } else if (mapped.kind === "refused") {
        workspaceMountRow = { path, status: "refused", detail: mapped.reason };
      } else {
        workspaceMountRow = {
          path,
          status: "ignored",
          detail: `its source is not inside the project folder; the project folder is synced to ${workspaceFolder} instead`,
        };
      }
    }
  }
  const sync: WorkspaceSync = {
    localFolder: syncSource,
    hostPath: hostWorkspacePath,
    targetPath: syncTarget,
    exclude: [".git/", ...(ctx.gitignore ?? []).map((l) => l.trim()).filter((l) => l && !l.startsWith("#"))],
    respectGitignore: true,
  };

  const mounts: Array<MessageInitShape<typeof MountSpecSchema>> = [
    { hostPath: sync.hostPath, targetPath: sync.targetPath },
  ];
  const volumes: HostVolume[] = [];
  const scratch: string[] = [];
  const mountRows: Row[] = [];
  const take = (request: MountRequest, path: JsonPathSegment[]): void => {
    const mapped = mapMount(request, mountContext);
    const row = (status: PropertyStatus, detail: string): void =>
      void mountRows.push({ path, status, detail });
    switch (mapped.kind) {
      case "workspace":
        mounts.push({ hostPath: mapped.hostPath, targetPath: mapped.target });
        row("translated", `mount ${mapped.hostPath} → ${mapped.target} (${mapped.note})`);
        break;
      case "volume":
        if (!volumes.some((v) => v.name === mapped.name && v.target === mapped.target))
          volumes.push({ name: mapped.name, hostPath: mapped.hostPath, target: mapped.target });
        mounts.push({ hostPath: mapped.hostPath, targetPath: mapped.target });
        row("translated", `volume "${mapped.name}": ${mapped.hostPath} → ${mapped.target} (${mapped.note})`);
        break;
      case "scratch":
        scratch.push(mapped.target);
        row("translated", `scratch space at ${mapped.target} (lives as long as the workload)`);
        break;
      case "ignored":
        row("ignored", mapped.reason);
        break;
      case "refused":
        row("refused", mapped.reason);
        break;
    }
  };
  (c.mounts ?? []).forEach((m, i) => {
    if (typeof m === "string") {
      const parsed = parseMountString(m);
      if ("error" in parsed) mountRows.push({ path: ["mounts", i], status: "refused", detail: parsed.error });
      else take(parsed, ["mounts", i]);
    } else {
      take({ type: m.type, source: m.source, target: m.target, readOnly: false }, ["mounts", i]);
    }
  });
  for (const m of ctx.runArgs.effects.mounts) take(m.request, ["runArgs", m.index]);
  const refusals: string[] = [];
  imageMounts(ctx, c.mounts ?? []).forEach(({ origin, request, error }, i) => {
    if (error) refusals.push(`${origin}: mount: ${error}`);
    else take(request!, ["(image)", i]);
    const row = mountRows.at(-1);
    if (!error && row?.path[0] === "(image)" && row.status === "refused")
      refusals.push(`${origin}: ${row.detail}`);
  });

  if (has(ctx, "mounts")) {
    if (!(c.mounts ?? []).length) rows.push({ path: ["mounts"], status: "ignored", detail: "empty" });
    rows.push(...mountRows.filter((r) => r.path[0] === "mounts"));
  }
  if (has(ctx, "workspaceMount") && workspaceMountRow) rows.push(workspaceMountRow);
  if (has(ctx, "workspaceFolder"))
    rows.push({
      path: ["workspaceFolder"],
      status: "translated",
      detail: `mount target of the synced workspace and working directory: ${workspaceFolder}`,
    });

  const runArgClaims = new Map<number, { status: PropertyStatus; detail: string }>();
  for (const r of mountRows) {
    if (r.path[0] !== "runArgs") continue;
    const index = r.path[1] as number;
    const verdict = ctx.runArgs.verdicts.find((v) => v.index === index);
    runArgClaims.set(index, { status: r.status, detail: `${verdict?.text ?? ""}: ${r.detail}` });
  }
  if (!workspaceFolder.startsWith("/"))
    refusals.push(`workspaceFolder: "${workspaceFolder}" is not an absolute path`);
  return { rows, refusals, runArgClaims, sync, mounts, volumes, scratch: unique(scratch) };
}

/**
 * The image metadata's mounts not overridden by devcontainer.json (a mount of the file with the
 * same target wins; among the image's, the later one), as mount requests.
 */
function imageMounts(
  ctx: TranslateContext,
  fileMounts: NonNullable<TranslateContext["config"]["mounts"]>,
): Array<{ origin: string; request?: MountRequest; error?: string }> {
  const requests = (ctx.image?.mounts ?? []).map(({ origin, mount }) => {
    if (typeof mount !== "string")
      return {
        origin,
        request: { type: mount.type, source: mount.source, target: mount.target, readOnly: false },
      };
    const parsed = parseMountString(mount);
    return "error" in parsed ? { origin, error: parsed.error } : { origin, request: parsed };
  });
  const fileTargets = new Set(
    fileMounts.map((m) => {
      if (typeof m !== "string") return m.target;
      const parsed = parseMountString(m);
      return "error" in parsed ? "" : parsed.target;
    }),
  );
  const seen = new Set<string>(fileTargets);
  return requests
    .reverse()
    .filter((r) => {
      const target = r.request?.target;
      if (target === undefined) return true;
      if (seen.has(target)) return false;
      seen.add(target);
      return true;
    })
    .reverse();
}
