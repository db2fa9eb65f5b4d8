/**
 * A LaunchPlan as Markdown for the read-only preview shown before a launch: what will be
 * created, then every property of devcontainer.json with what becomes of it (translated,
 * ignored or refused, and why), then core's plain-text rendering for the details.
 * Pure (no vscode import); values from the file are escaped so they cannot add links.
 */
import { formatDiagnostic } from "../../core/devcontainer/diagnostics";
import type { LaunchPlan, PropertyStatus } from "../../core/devcontainer/plan";
import { renderPlan } from "../../core/devcontainer/renderPlan";

const statusText: Record<PropertyStatus, string> = {
  translated: "✓ translated",
  ignored: "– ignored",
  refused: "✗ refused",
};

/** Escapes text for a Markdown table cell. */
function cell(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>~]/g, "\\$&").replace(/\r?\n/g, " ");
}

/** Counts of the property table, for summaries. */
export function propertyCounts(plan: LaunchPlan): Record<PropertyStatus, number> {
  const counts: Record<PropertyStatus, number> = { translated: 0, ignored: 0, refused: 0 };
  for (const p of plan.properties) counts[p.status]++;
  return counts;
}

export function planMarkdown(plan: LaunchPlan, hostLabel?: string): string {
  const counts = propertyCounts(plan);
  const r = plan.zoneSpec.initialResources;
  const image = plan.images.find((i) => i.role === "workload");
  const out: string[] = [];
  out.push(`# Launch plan: ${cell(plan.displayName ?? plan.zoneName)}`, "");
  out.push(
    plan.launchable
      ? `**Launchable**${hostLabel ? ` on ${cell(hostLabel)}` : ""}.`
      : "**Not launchable** — nothing will be created:",
    "",
  );
  for (const reason of plan.refusals) out.push(`- ${cell(reason)}`);
  if (plan.refusals.length) out.push("");
  out.push("| | |", "|---|---|");
  out.push(`| Config | ${cell(plan.configFile)} |`);
  out.push(
    `| Zone | ${cell(plan.zoneName)}${r ? ` — ${r.targetCpus} vCPU, ${r.targetMemory} MiB (max ${r.maxCpus} vCPU, ${r.maxMemory} MiB)` : ""} |`,
  );
  const build = plan.build;
  const built = build
    ? ` — image built on this machine ${build.base.kind === "image" ? `on ${cell(build.base.reference)}` : `from ${cell(build.base.dockerfile)}`}${build.features.length ? ` with ${build.features.map((f) => cell(f.userId)).join(", ")}` : ""}`
    : "";
  out.push(`| Workload | ${cell(plan.workloadName)}${image ? ` — image ${cell(image.reference)}` : built} |`);
  out.push(
    `| Workspace | ${cell(plan.sync.localFolder)} → host ${cell(plan.sync.hostPath)} → ${cell(plan.sync.targetPath)} |`,
  );
  out.push(`| Hooks | ${plan.hooks.length ? plan.hooks.map((h) => cell(h.hook)).join(", ") : "none"} |`);
  out.push(
    `| Forwards | ${plan.forwards.length ? plan.forwards.map((f) => `${f.containerPort}${f.localPort !== f.containerPort ? ` → local ${f.localPort}` : ""}`).join(", ") : "none"} |`,
  );
  out.push("");
  out.push(
    `## Properties (${counts.translated} translated, ${counts.ignored} ignored, ${counts.refused} refused)`,
    "",
  );
  out.push("| Property | Status | What becomes of it | Line |", "|---|---|---|---|");
  for (const p of plan.properties)
    out.push(
      `| \`${p.property.replace(/`/g, "")}\` | ${statusText[p.status]} | ${cell(p.detail)} | ${p.line} |`,
    );
  const notes = plan.diagnostics.filter((d) => d.severity !== "error");
  if (notes.length) {
    out.push("", "## Notes", "");
    for (const d of notes) out.push(`- ${cell(formatDiagnostic(d))}`);
  }
  out.push("", "## Details", "", "```text", renderPlan(plan).replace(/```/g, "'''").trimEnd(), "```", "");
  return out.join("\n");
}
