import { formatJsonPath } from "../diagnostics";
import type { JsonPathSegment } from "../diagnostics";
import type { PortForward } from "../plan";
import { attributesFor, parsePublish } from "../ports";
import type { PortPublish } from "../ports";
import type { PortAttributes } from "../schema";
import { has } from "./context";
import type { Row, TranslateContext, Translation } from "./context";

/** The ports part of a plan: forwards from the workload to the developer's machine. */
export interface PortsPart extends Translation {
  readonly forwards: readonly PortForward[];
}

/** `forwardPorts`, `appPort`, runArgs `--publish`, and the attributes that label them. */
export function translatePorts(ctx: TranslateContext): PortsPart {
  const c = ctx.config;
  const forwards: PortForward[] = [];
  const usedAttributeKeys = new Set<string>();
  const portRows: Row[] = [];
  const add = (publish: PortPublish, source: string): void => {
    if (forwards.some((f) => f.containerPort === publish.containerPort && f.localPort === publish.localPort))
      return;
    const { attributes, key } = attributesFor(
      publish.containerPort,
      ctx.merged.portsAttributes,
      ctx.merged.otherPortsAttributes,
    );
    if (key) usedAttributeKeys.add(key);
    forwards.push({ ...publish, ...attributeFields(attributes), source });
  };
  (c.forwardPorts ?? []).forEach((entry, i) => {
    const path: JsonPathSegment[] = ["forwardPorts", i];
    if (typeof entry === "number") {
      if (entry === 0) portRows.push({ path, status: "ignored", detail: "port 0 is not a port to forward" });
      else add({ containerPort: entry, localPort: entry }, formatJsonPath(path));
      return;
    }
    const [host = "", port = ""] = entry.split(":");
    if (host === "localhost")
      add({ containerPort: Number(port), localPort: Number(port) }, formatJsonPath(path));
    else
      portRows.push({
        path,
        status: "ignored",
        detail: `"${entry}" forwards from another Compose service ("${host}"); a zone runs a single workload`,
      });
  });
  const appPorts = c.appPort === undefined ? [] : Array.isArray(c.appPort) ? c.appPort : [c.appPort];
  appPorts.forEach((entry, i) => {
    const path: JsonPathSegment[] = Array.isArray(c.appPort) ? ["appPort", i] : ["appPort"];
    if (typeof entry === "number") {
      if (entry === 0) portRows.push({ path, status: "ignored", detail: "port 0 is not a port to forward" });
      else add({ containerPort: entry, localPort: entry }, formatJsonPath(path));
      return;
    }
    const parsed = parsePublish(entry);
    if ("reason" in parsed) portRows.push({ path, status: "ignored", detail: parsed.reason });
    else for (const p of parsed.ports) add(p, formatJsonPath(path));
  });
  for (const p of ctx.runArgs.effects.publish)
    for (const port of p.ports) add(port, formatJsonPath(["runArgs", p.index]));
  // Ports the image's metadata asks for (numbers or localhost:N) beyond the file's own.
  for (const entry of ctx.image ? (ctx.merged.forwardPorts ?? []) : []) {
    const port = typeof entry === "number" ? entry : /^localhost:(\d+)$/.exec(entry)?.[1];
    if (port !== undefined && Number(port) > 0)
      add({ containerPort: Number(port), localPort: Number(port) }, "image metadata");
  }

  const rows: Row[] = [];
  for (const key of ["appPort", "forwardPorts"]) {
    if (!has(ctx, key)) continue;
    const own = portRows.filter((r) => r.path[0] === key);
    const mine = forwards.filter((f) => f.source.startsWith(key));
    if (mine.length)
      rows.push({
        path: [key],
        status: "translated",
        detail: `${mine.length} port forward(s): ${mine
          .map((f) =>
            f.localPort === f.containerPort ? `${f.containerPort}` : `${f.localPort}→${f.containerPort}`,
          )
          .join(", ")}`,
      });
    else if (!own.length) rows.push({ path: [key], status: "ignored", detail: "no ports listed" });
    rows.push(...own);
  }
  if (has(ctx, "portsAttributes")) {
    const keys = Object.keys(c.portsAttributes ?? {});
    for (const attrKey of keys) {
      const used = usedAttributeKeys.has(attrKey);
      rows.push({
        path: ["portsAttributes", attrKey],
        status: used ? "translated" : "ignored",
        detail: used
          ? "label/protocol of the matching forward"
          : /^\d+(-\d+)?$/.test(attrKey)
            ? "no forwarded port matches"
            : "matches process command lines, which are only known once something listens",
      });
    }
    if (!keys.length) rows.push({ path: ["portsAttributes"], status: "ignored", detail: "empty" });
  }
  if (has(ctx, "otherPortsAttributes")) {
    const used = usedAttributeKeys.has("otherPortsAttributes");
    rows.push({
      path: ["otherPortsAttributes"],
      status: used ? "translated" : "ignored",
      detail: used
        ? "attributes of forwards without their own entry"
        : "every forwarded port has its own attributes, or none is forwarded",
    });
  }
  return { rows, refusals: [], forwards };
}

function attributeFields(attributes: PortAttributes | undefined): Partial<PortForward> {
  if (!attributes) return {};
  return {
    ...(attributes.label !== undefined ? { label: attributes.label } : {}),
    ...(attributes.protocol !== undefined ? { protocol: attributes.protocol } : {}),
    ...(attributes.onAutoForward !== undefined ? { onAutoForward: attributes.onAutoForward } : {}),
    ...(attributes.requireLocalPort !== undefined ? { requireLocalPort: attributes.requireLocalPort } : {}),
    ...(attributes.elevateIfNeeded !== undefined ? { elevateIfNeeded: attributes.elevateIfNeeded } : {}),
  };
}
