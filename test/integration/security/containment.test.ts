// A hostile image or a hostile repository must stay inside the workload: a real dev host, the
// busybox test image (and a variant with a crafted Env), real mounts and real processes.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { ConnectError } from "@connectrpc/connect";
import { WorkloadState } from "../../../extension/proto/gen/protect/control/v1/common_pb";
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
