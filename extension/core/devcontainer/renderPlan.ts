import { OciImageFormat, ZoneResourceAdjustmentPolicy } from "../../proto/gen/protect/control/v1/common_pb";
import { formatDiagnostic } from "./diagnostics";
import { displayCommand } from "./hooks";
import type { LaunchPlan } from "./plan";
import { keepAliveCommand } from "./plan";

const whenText = {
  everyLaunch: "every up",
  firstLaunch: "first launch only",
  everyStart: "every start",
  everyAttach: "every attach",
} as const;

/**
 * A readable summary of a plan, for `zonectl plan` and the extension's "show plan" view:
 * what will be created, then the hooks in order, the forwards, and the property table.
 */
export function renderPlan(plan: LaunchPlan): string {
  const out: string[] = [];
  const row = (label: string, text: string): void => {
    out.push(`  ${label.padEnd(9)} ${text}`);
  };
  const more = (text: string): void => {
    out.push(`  ${"".padEnd(9)} ${text}`);
  };

  out.push(`Plan for ${plan.configFile}${plan.displayName ? ` (${plan.displayName})` : ""}`);
  row("project", plan.localFolder);
  row("id", plan.devcontainerId);

  const zone = plan.zoneSpec;
  const r = zone.initialResources;
  row("zone", `${plan.zoneName}`);
  if (r) {
    more(
      `${r.targetCpus} vCPU (min ${r.minCpus}, max ${r.maxCpus}), ${r.targetMemory} MiB memory (min ${r.minMemory}, max ${r.maxMemory}), ${r.adjustmentPolicy === ZoneResourceAdjustmentPolicy.DYNAMIC ? "dynamic" : "static"}`,
    );
  }
  const kernel = plan.images.find((i) => i.role === "kernel");
  const initrd = plan.images.find((i) => i.role === "initrd");
  more(`kernel ${kernel?.reference ?? "host default"}, initrd ${initrd?.reference ?? "host default"}`);
  if (zone.devices.length || plan.deviceRequests.length) {
    more(
      `devices: ${[...zone.devices.map((d) => d.name), ...plan.deviceRequests.map((d) => `${d.optional ? "optional " : ""}${d.kind} (from ${d.source})`)].join(", ")}`,
    );
  }

  const w = plan.workloadSpec;
  const image = plan.images.find((i) => i.role === "workload");
  row("workload", plan.workloadName);
  const build = plan.build;
  if (build) {
    const base =
      build.base.kind === "image"
        ? `on ${build.base.reference}`
        : `from ${build.base.dockerfile}${build.base.target ? ` (stage ${build.base.target})` : ""}`;
    more(`image built on this machine ${base}, as ${build.repository}:<cache key>`);
    if (build.features.length)
      more(`features: ${build.features.map((f) => f.userId).join(", ")} (+ their dependsOn)`);
    more(
      build.push
        ? `pushed to ${build.push}, pulled by the host`
        : "sent to the host with ImportImage (cached by content)",
    );
  } else
    more(`image ${image ? `${image.reference} (${OciImageFormat[image.format].toLowerCase()})` : "(none)"}`);
  for (const c of plan.imageContributions) more(`from ${c.origin}: ${c.properties.join(", ")}`);
  const command = w.process?.command ?? [];
  more(
    `command: ${command.length === 0 ? "the image's own" : command.join(" ") === keepAliveCommand.join(" ") ? "keep-alive loop (overrideCommand)" : command.join(" ")}`,
  );
  const user = w.process?.user?.idOrName;
  const group = w.process?.group?.idOrName;
  const who = user?.case
    ? `${String(user.value)}${group?.case ? `:${String(group.value)}` : ""}`
    : "the image's";
  more(`user: ${who}; working directory ${w.process?.workingDirectory ?? ""}`);
  const env = w.process?.environment ?? [];
  if (env.length) more(`env: ${env.map((e) => e.key).join(", ")}`);
  const security = w.security;
  if (
    security &&
    (security.privileged || security.raiseCapabilities.length || security.dropCapabilities.length)
  ) {
    more(
      `security: ${[
        security.privileged ? "privileged" : "",
        security.raiseCapabilities.length ? `+${security.raiseCapabilities.join(" +")}` : "",
        security.dropCapabilities.length ? `-${security.dropCapabilities.join(" -")}` : "",
      ]
        .filter(Boolean)
        .join(" ")}`,
    );
  }
  for (const m of w.mounts) more(`mount ${m.hostPath} → ${m.targetPath}`);
  for (const s of w.scratchMount) more(`scratch ${s.path}`);

  if (plan.compose?.devPrependImageEntrypoint)
    more("(the command follows the image's entrypoint, read when it is pulled)");
  const compose = plan.compose;
  if (compose) {
    row("compose", `project ${compose.project}, dev service ${compose.devService}`);
    if (compose.devDependsOn.length)
      more(
        `${compose.devService} waits for ${compose.devDependsOn.map((d) => `${d.service} (${d.condition})`).join(", ")}`,
      );
    for (const s of compose.services) {
      const cmd = s.workloadSpec.process?.command ?? [];
      more(
        `service ${s.name}: workload ${s.workloadSpec.name}, image ${s.build ? `built from ${s.build.context}` : s.image.reference}${cmd.length ? `, command ${s.prependImageEntrypoint ? "(after the entrypoint) " : ""}${cmd.join(" ")}` : ""}`,
      );
      if (s.dependsOn.length)
        more(`  after ${s.dependsOn.map((d) => `${d.service} (${d.condition})`).join(", ")}`);
      if (s.healthcheck)
        more(
          `  healthcheck: ${s.healthcheck.display} every ${s.healthcheck.intervalMs} ms, ${s.healthcheck.retries} retries`,
        );
      for (const m of s.workloadSpec.mounts) more(`  mount ${m.hostPath} → ${m.targetPath}`);
    }
    more(
      `every workload of the zone gets ${compose.hostsFile.hostPath} as /etc/hosts (service names → 127.0.0.1)`,
    );
  }

  row("sync", `${plan.sync.localFolder} → host ${plan.sync.hostPath} → ${plan.sync.targetPath}`);
  more(
    `excluding ${plan.sync.exclude.join(", ")}${plan.sync.respectGitignore ? " and whatever .gitignore files exclude" : ""}`,
  );

  if (plan.hooks.length) {
    plan.hooks.forEach((h, i) => {
      const head = `${i + 1}. ${h.hook}${h.origin ? ` (${h.origin})` : ""} — ${h.runsOn === "local" ? "on this machine" : "in the workload"}, ${whenText[h.when]}${h.parallel ? ", in parallel" : ""}`;
      if (i === 0) row("hooks", head);
      else more(head);
      for (const c of h.commands)
        more(`     ${c.label ? `${c.label}: ` : ""}${c.shell ? "" : "(argv) "}${displayCommand(c)}`);
    });
    more(`tools connect after ${plan.waitFor}`);
  } else row("hooks", "(none)");
  if (plan.remote.user || plan.remote.env.length) {
    more(
      `hooks and terminals run as ${plan.remote.user ?? "the image's user"}${plan.remote.env.length ? ` with ${plan.remote.env.map((e) => `${e.name}${e.deferred ? " (after start)" : ""}`).join(", ")}` : ""}`,
    );
  }

  if (plan.forwards.length) {
    plan.forwards.forEach((f, i) => {
      const text = `${f.localAddress ?? "localhost"}:${f.localPort} → workload port ${f.containerPort}${f.label ? ` "${f.label}"` : ""}${f.protocol ? ` (${f.protocol})` : ""}  [${f.source}]`;
      if (i === 0) row("forwards", text);
      else more(text);
    });
  } else row("forwards", "(none)");
  row("on close", plan.shutdownAction === "none" ? "keep the zone running" : "stop the workload");
  if (plan.connection) row("host", `overrides from the file: ${JSON.stringify(plan.connection)}`);

  out.push("", "Properties");
  const width = Math.min(40, Math.max(8, ...plan.properties.map((p) => p.property.length)));
  for (const p of plan.properties)
    out.push(`  ${p.status.padEnd(10)} ${p.property.padEnd(width)}  ${p.detail}`);

  const notes = plan.diagnostics.filter((d) => d.severity !== "error");
  if (notes.length) {
    out.push("", "Notes");
    for (const d of notes) out.push(`  ${formatDiagnostic(d)}`);
  }

  out.push("");
  if (plan.launchable) out.push("Launchable: zonectl up would create the zone above.");
  else {
    out.push("NOT launchable:");
    for (const reason of plan.refusals) out.push(`  - ${reason}`);
  }
  return `${out.join("\n")}\n`;
}
