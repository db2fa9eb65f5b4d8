/**
 * What isolates a zone, for every view that shows one. A zone on an Edera host is a VM with
 * its own kernel; a zone of the local dev host is a QEMU VM (`--sandbox vm`), a set of
 * namespaces sharing the dev host's kernel, or a bare process group — and the dev host says
 * which in annotations on each zone.
 */
import type { Zone } from "../../proto/gen/protect/control/v1/common_pb";

/** The annotations a dev host adds to its zones (devhost/zones.ts writes them). */
export const devHostZoneAnnotations = {
  devhost: "dev.styrolite.devhost",
  /** Machine-readable: "vm-tcg", "vm-kvm", "vm" (accelerator not known yet), "namespaces", "process". */
  isolation: "dev.styrolite.devhost/isolation",
  sandbox: "dev.styrolite.devhost/sandbox",
  kernel: "dev.styrolite.devhost/kernel",
  limits: "dev.styrolite.devhost/limits",
} as const;

export interface ZoneIsolation {
  /** "vm": its own kernel; "shared-kernel": namespaces on the host's kernel; "none": a process group. */
  kind: "vm" | "shared-kernel" | "none";
  /** Short, for a tree row or a title: "VM · TCG", "shared kernel". */
  label: string;
  /** The dev host's own words: how it is sandboxed and which kernel runs it. */
  detail: string;
}

/** How a dev host zone is isolated; undefined for a zone of a real Protect host (always a VM). */
export function zoneIsolation(zone: Zone): ZoneIsolation | undefined {
  const notes = new Map((zone.spec?.annotations ?? []).map((a) => [a.key, a.value]));
  if (!notes.has(devHostZoneAnnotations.devhost)) return undefined;
  const sandbox = notes.get(devHostZoneAnnotations.sandbox) ?? "";
  const kernel = notes.get(devHostZoneAnnotations.kernel) ?? "";
  const detail = [sandbox, kernel].filter(Boolean).join("; ");
  // Dev hosts before the isolation annotation said it only in words.
  const kind =
    notes.get(devHostZoneAnnotations.isolation) ?? (sandbox.startsWith("process") ? "process" : "namespaces");
  if (kind.startsWith("vm")) {
    const accelerator = kind.slice(3).toUpperCase();
    return { kind: "vm", label: accelerator ? `VM · ${accelerator}` : "VM", detail };
  }
  if (kind === "process") return { kind: "none", label: "no isolation", detail };
  return { kind: "shared-kernel", label: "shared kernel", detail };
}
