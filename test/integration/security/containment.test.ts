// A hostile image or a hostile repository must stay inside the workload: a real dev host, the
// busybox test image (and a variant with a crafted Env), real mounts and real processes.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { ConnectError } from "@connectrpc/connect";
import { ProcessNamespace, WorkloadState } from "../../../extension/proto/gen/protect/control/v1/common_pb";
import type { UnixClient } from "../devhost/client";
import { runExec, waitForWorkload } from "../devhost/helpers";
import { testImageEnv } from "../../harness/testImage";
import { importTestImage } from "../devhost/image";
import { startZoneFixture } from "../devhost/zoneFixture";
import type { ZoneFixture } from "../devhost/zoneFixture";

let fixture: ZoneFixture | undefined;
let conn: UnixClient;
let zoneId: string;
let digest: string;
let work: string;

before(async () => {
  fixture = await startZoneFixture({ name: "contain" });
  ({ conn, zoneId, digest, work } = fixture);
});

after(async () => {
  await fixture?.stop();
});

/** Creates and starts a workload; resolves with its final state, or the RPC error. */
async function tryWorkload(
  spec: { image: string; command?: string[]; mounts?: { hostPath: string; targetPath: string }[] },
  options: { wait?: WorkloadState[] } = {},
): Promise<{ error?: ConnectError; state?: WorkloadState; id?: string; message?: string }> {
  try {
    const { workloadId } = await conn.client.createWorkload({
      spec: {
        name: "hostile",
        zoneId,
        image: { digest: spec.image },
        process: { command: spec.command ?? ["sleep", "600"] },
        mounts: spec.mounts ?? [],
      },
    });
    await waitForWorkload(conn.client, workloadId, [WorkloadState.CREATED, WorkloadState.FAILED]);
    await conn.client.startWorkload({ workloadId });
    const w = await waitForWorkload(
      conn.client,
      workloadId,
      options.wait ?? [WorkloadState.RUNNING, WorkloadState.FAILED, WorkloadState.COMPLETED],
    );
    return { state: w.status!.state, id: workloadId, message: w.status?.errorStatus?.message ?? "" };
  } catch (err) {
    return { error: ConnectError.from(err) };
  }
}

test("an image Env entry shaped as an env(1) option runs nothing on the host", async () => {
  const canary = join(work, "env-canary");
  const { digest: hostile } = await importTestImage(conn.client, join(work, "hostile-image"), {
    // First: env(1) stops reading options at its first operand.
    env: [`--split-string=/bin/sh -c 'touch ${canary}' #`, ...testImageEnv],
  });
  const result = await tryWorkload({ image: hostile, command: ["true"] });
  if (result.id) await conn.client.destroyWorkload({ workloadId: result.id }).catch(() => undefined);
  assert.equal(existsSync(canary), false, "the image's Env ran a command outside the sandbox");
  assert.match(result.error?.message ?? "", /invalid environment variable name .*in the image's Env/);
});

test("a symbolic link to / in a workspace copy is never bind-mounted from the host", async () => {
  const ws = join(work, "host-workspace");
  mkdirSync(ws, { recursive: true });
  symlinkSync("/", join(ws, "hostroot"));
  const result = await tryWorkload({
    image: digest,
    mounts: [{ hostPath: join(ws, "hostroot"), targetPath: "/mnt/host" }],
  });
  let seen = "";
  if (result.id) {
    seen = (
      await runExec(conn.client, zoneId, {
        workloadId: result.id,
        command: ["cat", "/mnt/host/etc/hostname"],
      })
    ).stdout;
    await conn.client.destroyWorkload({ workloadId: result.id }).catch(() => undefined);
  }
  assert.notEqual(seen.trim(), readFileSync("/etc/hostname", "utf8").trim(), "the host's / was mounted");
  assert.match(result.error?.message ?? "", /is a symbolic link; the dev host never follows a link/);
});

/** Runs `script` with sh in a fresh workload of the given security spec; its output. */
async function inWorkload(
  script: string,
  security: { privileged?: boolean; disableNamespaces?: ProcessNamespace[] } = {},
): Promise<{ out: string; id: string }> {
  const { workloadId } = await conn.client.createWorkload({
    spec: { name: "confined", zoneId, image: { digest }, process: { command: ["sleep", "600"] }, security },
  });
  await waitForWorkload(conn.client, workloadId, [WorkloadState.CREATED]);
  await conn.client.startWorkload({ workloadId });
  await waitForWorkload(conn.client, workloadId, [WorkloadState.RUNNING]);
  const r = await runExec(conn.client, zoneId, { workloadId, command: ["sh", "-c", script] });
  return { out: r.stdout + r.stderr, id: workloadId };
}

const probe = [
  "grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status",
  "cat /proc/1/status >/dev/null 2>&1",
  "(echo 1 > /proc/sys/vm/drop_caches) 2>/dev/null && echo procsys=writable || echo procsys=refused",
  "mknod /tmp/blk b 7 0 2>/dev/null && echo mknod=made || echo mknod=refused",
  "mkdir -p /tmp/m; mount -t tmpfs none /tmp/m 2>/dev/null && echo mount=done || echo mount=refused",
].join("; ");

test("a default workload is a real container: no CAP_SYS_ADMIN, /proc/sys read-only, no block devices, no_new_privs, seccomp", async () => {
  const { out, id } = await inWorkload(probe);
  const capEff = BigInt(`0x${/CapEff:\s*([0-9a-f]+)/.exec(out)?.[1] ?? "0"}`);
  assert.equal(capEff & (1n << 21n), 0n, `CAP_SYS_ADMIN is held: ${out}`);
  assert.match(out, /NoNewPrivs:\s*1/);
  assert.match(out, /Seccomp:\s*2/, "a seccomp filter is installed");
  assert.match(out, /procsys=refused/);
  assert.match(out, /mknod=refused/);
  assert.match(out, /mount=refused/);
  const list = execFileSync("runc", ["--root", join(fixture!.host.stateDir, "runc"), "list"], {
    encoding: "utf8",
  });
  assert.match(list, new RegExp(`w-${id}\\s+\\d+\\s+running`), `runc list shows the workload:\n${list}`);
  await conn.client.destroyWorkload({ workloadId: id });
});

test("privileged: true gives the full capability set and lifts no_new_privs and the filter", async () => {
  const { out, id } = await inWorkload(probe, { privileged: true });
  // Everything the dev host (root on this machine) holds itself.
  const own = /CapBnd:\s*([0-9a-f]+)/.exec(readFileSync("/proc/self/status", "utf8"))![1];
  assert.equal(/CapEff:\s*([0-9a-f]+)/.exec(out)?.[1], own, out);
  assert.match(out, /NoNewPrivs:\s*0/);
  assert.match(out, /Seccomp:\s*0/);
  assert.match(out, /mount=done/);
  await conn.client.destroyWorkload({ workloadId: id });
});

test("disable_namespaces: UTS and IPC are the zone's only when asked", async () => {
  const zoneNs = (
    await runExec(conn.client, zoneId, {
      command: ["sh", "-c", "for n in uts ipc; do readlink /proc/self/ns/$n; done"],
    })
  ).stdout;
  const own = await inWorkload("for n in uts ipc; do readlink /proc/self/ns/$n; done");
  const shared = await inWorkload("for n in uts ipc; do readlink /proc/self/ns/$n; done", {
    disableNamespaces: [ProcessNamespace.UTS, ProcessNamespace.IPC],
  });
  assert.equal(shared.out.trim(), zoneNs.trim());
  assert.notEqual(own.out.split("\n")[0], zoneNs.split("\n")[0]);
  for (const w of [own, shared]) await conn.client.destroyWorkload({ workloadId: w.id });
});
