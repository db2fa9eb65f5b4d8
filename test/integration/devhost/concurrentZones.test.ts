import { test } from "node:test";
import assert from "node:assert/strict";
import { ZoneState } from "../../../extension/proto/gen/protect/control/v1/common_pb";
import { startDevHost } from "../../harness/devHost";
import { connectUnix } from "./client";
import { waitForZone } from "./helpers";

// The first zones of a fresh dev host create its bridge; zones asked for at once must share that
// one creation instead of racing to `ip link add` the same bridge (one would come back FAILED).
test("zones created at once on a fresh dev host all become READY, each with its own address", async () => {
  const host = await startDevHost();
  const conn = connectUnix(host.socketPath);
  try {
    const ids = await Promise.all(
      ["first", "second", "third"].map(
        async (name) =>
          (
            await conn.client.createZone({
              spec: { name, initialResources: { targetCpus: 1, targetMemory: 128n } },
            })
          ).zoneId,
      ),
    );
    const zones = await Promise.all(
      ids.map((id) => waitForZone(conn.client, id, [ZoneState.READY, ZoneState.FAILED])),
    );
    for (const zone of zones)
      assert.equal(zone.status!.state, ZoneState.READY, zone.status?.errorStatus?.message);
    const addresses = zones.map((z) => z.status!.networkStatus!.interfaces[0]!.ips[0]!.address);
    assert.equal(new Set(addresses).size, 3, `distinct addresses: ${addresses.join(", ")}`);
    await Promise.all(ids.map((zoneId) => conn.client.destroyZone({ zoneId })));
  } finally {
    conn.close();
    await host.stop();
  }
});
