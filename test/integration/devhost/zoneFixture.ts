// The setting most dev-host suites share: a dev host of their own, a client on its socket, the
// busybox test image imported, and one zone READY to run workloads in.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ZoneState } from "../../../extension/proto/gen/protect/control/v1/common_pb";
import { startDevHost } from "../../harness/devHost";
import type { StartedDevHost } from "../../harness/devHost";
import { connectUnix } from "./client";
import type { UnixClient } from "./client";
import { waitForZone } from "./helpers";
import { importTestImage } from "./image";

export interface ZoneFixture {
  host: StartedDevHost;
  conn: UnixClient;
  /** Digest of the imported test image. */
  digest: string;
  zoneId: string;
  /** A scratch folder of the suite's own, removed by `stop`. */
  work: string;
  /** Closes the client, stops the dev host (which tears its zones down) and removes `work`. */
  stop(): Promise<void>;
}

export interface ZoneFixtureOptions {
  /** The zone's name; also names the scratch folder. */
  name: string;
  targetCpus?: number;
  targetMemory?: bigint;
  /** Extra `zonectl dev-host` arguments (e.g. `--prometheus`). */
  devHostArgs?: string[];
}

export async function startZoneFixture(options: ZoneFixtureOptions): Promise<ZoneFixture> {
  const work = mkdtempSync(join(tmpdir(), `devhost-${options.name}-`));
  let host: StartedDevHost | undefined;
  let conn: UnixClient | undefined;
  const stop = async (): Promise<void> => {
    conn?.close();
    await host?.stop();
    rmSync(work, { recursive: true, force: true });
  };
  try {
    host = await startDevHost(options.devHostArgs ? { args: options.devHostArgs } : {});
    conn = connectUnix(host.socketPath);
    const { digest } = await importTestImage(conn.client, join(work, "image"));
    const { zoneId } = await conn.client.createZone({
      spec: {
        name: options.name,
        ...(options.targetCpus !== undefined || options.targetMemory !== undefined
          ? {
              initialResources: {
                ...(options.targetCpus !== undefined ? { targetCpus: options.targetCpus } : {}),
                ...(options.targetMemory !== undefined ? { targetMemory: options.targetMemory } : {}),
              },
            }
          : {}),
      },
    });
    await waitForZone(conn.client, zoneId, [ZoneState.READY]);
    return { host, conn, digest, zoneId, work, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
