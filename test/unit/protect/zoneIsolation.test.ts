import { test } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { ZoneSchema } from "../../../extension/proto/gen/protect/control/v1/common_pb";
import { devHostZoneAnnotations, zoneIsolation } from "../../../extension/core/protect/zoneIsolation";
import { annotationKeys } from "../../../extension/devhost/zones";

function zone(annotations: Record<string, string>) {
  return create(ZoneSchema, {
    id: "z",
    spec: { name: "z", annotations: Object.entries(annotations).map(([key, value]) => ({ key, value })) },
  });
}

const devhost = { [devHostZoneAnnotations.devhost]: "true" };

test("a dev host zone says whether it is a VM (and under which accelerator) or shares the kernel", () => {
  const vm = zoneIsolation(
    zone({
      ...devhost,
      [devHostZoneAnnotations.isolation]: "vm-tcg",
      [devHostZoneAnnotations.sandbox]: "QEMU virtual machine (TCG emulation)",
      [devHostZoneAnnotations.kernel]: "own kernel: Linux 6.1.0-57-amd64",
    }),
  );
  assert.deepEqual(vm, {
    kind: "vm",
    label: "VM · TCG",
    detail: "QEMU virtual machine (TCG emulation); own kernel: Linux 6.1.0-57-amd64",
  });
  assert.equal(
    zoneIsolation(zone({ ...devhost, [devHostZoneAnnotations.isolation]: "vm-kvm" }))?.label,
    "VM · KVM",
  );
  assert.equal(zoneIsolation(zone({ ...devhost, [devHostZoneAnnotations.isolation]: "vm" }))?.label, "VM");
  const ns = zoneIsolation(zone({ ...devhost, [devHostZoneAnnotations.isolation]: "namespaces" }));
  assert.deepEqual([ns?.kind, ns?.label], ["shared-kernel", "shared kernel"]);
  const none = zoneIsolation(zone({ ...devhost, [devHostZoneAnnotations.isolation]: "process" }));
  assert.deepEqual([none?.kind, none?.label], ["none", "no isolation"]);
});

test("older dev hosts said it in words only; Protect hosts' zones are VMs and say nothing", () => {
  const old = (sandbox: string) =>
    zoneIsolation(zone({ ...devhost, [devHostZoneAnnotations.sandbox]: sandbox }));
  assert.equal(old("process group: no isolation, no limits")?.kind, "none");
  assert.equal(old("namespaces: pid, mount, uts, ipc, net")?.kind, "shared-kernel");
  assert.equal(zoneIsolation(zone({})), undefined);
  assert.equal(zoneIsolation(zone({ "zones.styrolite.dev/name": "x" })), undefined);
});

test("the dev host writes the annotations the client reads", () => {
  assert.equal(annotationKeys, devHostZoneAnnotations);
});
