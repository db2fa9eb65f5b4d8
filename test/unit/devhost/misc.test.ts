import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { ZoneSchema } from "../../../extension/proto/gen/protect/control/v1/common_pb";
import { DevHostError } from "../../../extension/devhost/errors";
import { parseLoopbackAddress } from "../../../extension/devhost/metrics";
import { socatTcpAddress } from "../../../extension/devhost/sandbox/network";
import { fingerprint } from "../../../extension/core/ssh/keyPair";
import { ensureSshKeys, parseAuthorizedKeys } from "../../../extension/devhost/ssh/keys";
import { effectiveResources } from "../../../extension/devhost/zones";
import { listBatchSize, zonesRpc } from "../../../extension/devhost/rpc/zonesRpc";
import type { ZoneManager } from "../../../extension/devhost/zones";
import type { HostLog } from "../../../extension/devhost/hostLog";

test("DialNetworkSocket targets become socat addresses that cannot carry options", () => {
  assert.equal(socatTcpAddress("127.0.0.1", 80), "TCP4:127.0.0.1:80");
  assert.equal(socatTcpAddress("", 80), "TCP4:127.0.0.1:80");
  assert.equal(socatTcpAddress("::1", 8080), "TCP6:[::1]:8080");
  assert.equal(socatTcpAddress("db.internal", 5432), "TCP:db.internal:5432");
  for (const bad of ["127.0.0.1,fork", "a:b", "x!exec", "-h"])
    assert.throws(
      () => socatTcpAddress(bad, 1),
      (e: unknown) => DevHostError.is(e, "invalidArgument"),
      bad,
    );
  assert.throws(
    () => socatTcpAddress("127.0.0.1", 70000),
    (e: unknown) => DevHostError.is(e, "invalidArgument"),
  );
});

test("--ssh and --prometheus listen on loopback only", () => {
  assert.deepEqual(parseLoopbackAddress("127.0.0.1:3035", "--prometheus"), { host: "127.0.0.1", port: 3035 });
  assert.deepEqual(parseLoopbackAddress("[::1]:22", "--ssh"), { host: "::1", port: 22 });
  assert.throws(() => parseLoopbackAddress("0.0.0.0:22", "--ssh"), /loopback only/);
  assert.throws(() => parseLoopbackAddress("22", "--ssh"), /wants 127\.0\.0\.1:PORT/);
});

test("zone resources: target from max, defaults when empty, MiB sanity", () => {
  const r = effectiveResources(create(ZoneSchema).spec?.initialResources);
  assert.equal(r.targetCpus, 1);
  assert.equal(r.targetMemory, 1024n);
  const fromMax = effectiveResources({
    $typeName: "protect.control.v1.ZoneResourcesSpec",
    maxCpus: 4,
    maxMemory: 2048n,
    minCpus: 0,
    minMemory: 0n,
    targetCpus: 0,
    targetMemory: 0n,
    adjustmentPolicy: 0,
  });
  assert.deepEqual([fromMax.targetCpus, fromMax.targetMemory], [4, 2048n]);
  assert.throws(
    () =>
      effectiveResources({
        $typeName: "protect.control.v1.ZoneResourcesSpec",
        maxCpus: 0,
        maxMemory: 0n,
        minCpus: 0,
        minMemory: 0n,
        targetCpus: 1,
        targetMemory: 2n,
        adjustmentPolicy: 0,
      }),
    /MiB/,
  );
});

test("ListZones streams in batches of 100", async () => {
  const zones = Array.from({ length: 250 }, (_, i) => create(ZoneSchema, { id: `z${i}` }));
  const impl = zonesRpc({
    zones: { list: () => zones } as unknown as ZoneManager,
    hostLog: {} as HostLog,
    hostStatus: () => ({ hostUuid: "", version: "", ipv4: "", mac: "" }),
  });
  const sizes: number[] = [];
  for await (const reply of impl.listZones!({} as never, {} as never) as AsyncIterable<{ zones: unknown[] }>)
    sizes.push(reply.zones.length);
  assert.equal(listBatchSize, 100);
  assert.deepEqual(sizes, [100, 100, 50]);
});

test("host and client keys are made once and kept; fingerprints match ssh-keygen's", () => {
  const dir = mkdtempSync(join(tmpdir(), "devhost-keys-"));
  try {
    const first = ensureSshKeys(dir);
    const again = ensureSshKeys(dir);
    assert.equal(again.hostFingerprint, first.hostFingerprint, "the host key survives a restart");
    const keygen = execFileSync("ssh-keygen", ["-lf", join(dir, "ssh", "ssh_host_ed25519_key.pub")], {
      encoding: "utf8",
    });
    assert.ok(keygen.includes(first.hostFingerprint), `${keygen} vs ${first.hostFingerprint}`);
    const line = readFileSync(join(dir, "ssh", "client_ed25519_key.pub"), "utf8").trim();
    assert.equal(fingerprint(line), fingerprint(first.clientPublicKey));
    const refused: number[] = [];
    const keys = parseAuthorizedKeys(
      `# comment\n\nfrom="10.0.0.1",no-pty ${line}\ngarbage line\n${line}\n`,
      "test",
      (n) => refused.push(n),
    );
    assert.equal(keys.length, 1, "a key with options is refused, junk ignored, the plain key taken");
    assert.deepEqual(refused, [3]);
    assert.equal(keys[0]!.type, "ssh-ed25519");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
