/**
 * How zones and workloads look: state icons and colours, one-line descriptions, Markdown
 * tooltips. Everything a host sent is escaped before it reaches Markdown.
 */
import * as vscode from "vscode";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { WorkloadState, ZoneState } from "../../proto/gen/protect/control/v1/common_pb";
import type { Workload, Zone } from "../../proto/gen/protect/control/v1/common_pb";
import { formatMiB } from "../../core/format";
import {
  imageLabel,
  resourcesInForce,
  shortDigest,
  workloadStateName,
  zoneIp,
  zoneStateName,
} from "../../core/protect/zoneFacts";
import { composeServiceAnnotation } from "../../core/compose/composePlan";
import { zoneIsolation } from "../../core/protect/zoneIsolation";

export function zoneIcon(zone: Zone): vscode.ThemeIcon {
  switch (zone.status?.state) {
    case ZoneState.READY:
      return new vscode.ThemeIcon("vm-running", new vscode.ThemeColor("charts.green"));
    case ZoneState.CREATING:
    case ZoneState.DESTROYING:
      return new vscode.ThemeIcon("loading~spin");
    case ZoneState.CREATED:
      return new vscode.ThemeIcon("vm-outline", new vscode.ThemeColor("charts.yellow"));
    case ZoneState.EXITED:
      return new vscode.ThemeIcon("vm-outline", new vscode.ThemeColor("disabledForeground"));
    case ZoneState.FAILED:
      return new vscode.ThemeIcon("error", new vscode.ThemeColor("errorForeground"));
    default:
      return new vscode.ThemeIcon("question");
  }
}

export function workloadIcon(workload: Workload): vscode.ThemeIcon {
  switch (workload.status?.state) {
    case WorkloadState.RUNNING:
      return new vscode.ThemeIcon("package", new vscode.ThemeColor("charts.green"));
    case WorkloadState.CREATING:
    case WorkloadState.DESTROYING:
      return new vscode.ThemeIcon("loading~spin");
    case WorkloadState.CREATED:
      return new vscode.ThemeIcon("package", new vscode.ThemeColor("charts.yellow"));
    case WorkloadState.COMPLETED:
      return (workload.status?.exitStatus?.code ?? 0) === 0
        ? new vscode.ThemeIcon("pass", new vscode.ThemeColor("disabledForeground"))
        : new vscode.ThemeIcon("error", new vscode.ThemeColor("charts.orange"));
    case WorkloadState.FAILED:
      return new vscode.ThemeIcon("error", new vscode.ThemeColor("errorForeground"));
    default:
      return new vscode.ThemeIcon("question");
  }
}

/** "10.75.0.2 · 2 vCPU · 1 GiB"; a dev host's zone adds what isolates it: "… · 1 GiB · VM · TCG". */
export function zoneDescription(zone: Zone): string {
  const parts: string[] = [];
  const ip = zoneIp(zone);
  if (ip) parts.push(ip);
  const r = resourcesInForce(zone);
  if (r?.targetCpus) parts.push(`${r.targetCpus} vCPU`);
  if (r && r.targetMemory > 0n) parts.push(formatMiB(r.targetMemory));
  const isolation = zoneIsolation(zone);
  if (isolation) parts.push(isolation.label);
  const state = zone.status?.state;
  if (state !== ZoneState.READY) parts.push(zoneStateName(zone.status?.state));
  if (state === ZoneState.EXITED && zone.status?.exitStatus)
    parts.push(`exit ${zone.status.exitStatus.code}`);
  return parts.join(" · ");
}

/** "busybox:latest · running", "… · exit 3", "service db · postgres:16 · running". */
export function workloadDescription(workload: Workload): string {
  const parts: string[] = [];
  const service = workload.spec?.annotations.find((a) => a.key === composeServiceAnnotation)?.value;
  if (service) parts.push(`service ${service}`);
  const image = imageLabel(workload);
  if (image) parts.push(image);
  parts.push(workloadStateName(workload.status?.state));
  const exit = workload.status?.exitStatus;
  if (exit && workload.status?.state === WorkloadState.COMPLETED) parts.push(`exit ${exit.code}`);
  return parts.join(" · ");
}

/** Escapes text for Markdown so host-supplied names cannot inject links or formatting. */
export function md(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>~]/g, "\\$&");
}

function when(ts: Timestamp | undefined): string | undefined {
  if (!ts) return undefined;
  const ms = Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1e6);
  return new Date(ms).toLocaleString();
}

function range(target: string, max: string): string {
  return max && max !== target ? `${target} (max ${max})` : target;
}

export function zoneTooltip(zone: Zone, hostLabel: string): vscode.MarkdownString {
  const t = new vscode.MarkdownString(undefined, true);
  const name = zone.spec?.name || zone.id;
  t.appendMarkdown(`**${md(name)}** — ${md(zoneStateName(zone.status?.state))}\n\n`);
  const rows: [string, string][] = [
    ["ID", `\`${zone.id.replace(/`/g, "")}\``],
    ["Host", md(hostLabel)],
  ];
  const since = when(zone.status?.readyAt) ?? when(zone.status?.createdAt);
  if (since) rows.push([zone.status?.readyAt ? "Ready since" : "Created", md(since)]);
  const r = resourcesInForce(zone);
  if (r) {
    rows.push(["vCPUs", md(range(String(r.targetCpus), r.maxCpus ? String(r.maxCpus) : ""))]);
    rows.push([
      "Memory",
      md(range(formatMiB(r.targetMemory), r.maxMemory > 0n ? formatMiB(r.maxMemory) : "")),
    ]);
  }
  const kernel = zone.spec?.kernel?.digest;
  if (kernel) rows.push(["Kernel", `\`${shortDigest(kernel)}\``]);
  const isolation = zoneIsolation(zone);
  if (isolation) rows.push(["Isolation", md(`${isolation.label}: ${isolation.detail}`)]);
  for (const iface of zone.status?.networkStatus?.interfaces ?? []) {
    const ips = iface.ips.map((ip) => ip.address + (ip.gateway ? ` via ${ip.gateway}` : "")).join(", ");
    rows.push([
      `Network ${md(iface.zoneInterface || iface.hostInterface || "")}`.trim(),
      md([ips, iface.zoneMac].filter(Boolean).join(" · ")),
    ]);
  }
  const devices = zone.spec?.devices.map((d) => d.name).filter(Boolean) ?? [];
  if (devices.length) rows.push(["Devices", md(devices.join(", "))]);
  if (zone.status?.exitStatus && zone.status.state === ZoneState.EXITED)
    rows.push(["Exit code", String(zone.status.exitStatus.code)]);
  if (zone.status?.errorStatus?.message) rows.push(["Error", md(zone.status.errorStatus.message)]);
  t.appendMarkdown(table(rows));
  return t;
}

export function workloadTooltip(workload: Workload): vscode.MarkdownString {
  const t = new vscode.MarkdownString(undefined, true);
  t.appendMarkdown(
    `**${md(workload.spec?.name || workload.id)}** — ${md(workloadStateName(workload.status?.state))}\n\n`,
  );
  const rows: [string, string][] = [["ID", `\`${workload.id.replace(/`/g, "")}\``]];
  const image = imageLabel(workload);
  if (image) rows.push(["Image", md(image)]);
  const args = workload.spec?.process?.command ?? [];
  if (args.length) rows.push(["Command", `\`${args.join(" ").replace(/`/g, "")}\``]);
  const created = when(workload.status?.createdAt);
  if (created) rows.push(["Created", md(created)]);
  if (workload.status?.exitStatus && workload.status.state === WorkloadState.COMPLETED)
    rows.push(["Exit code", String(workload.status.exitStatus.code)]);
  if (workload.status?.errorStatus?.message) rows.push(["Error", md(workload.status.errorStatus.message)]);
  t.appendMarkdown(table(rows));
  return t;
}

function table(rows: readonly [string, string][]): string {
  return ["| | |", "|---|---|", ...rows.map(([k, v]) => `| ${k} | ${v.replace(/\n/g, " ")} |`)].join("\n");
}
