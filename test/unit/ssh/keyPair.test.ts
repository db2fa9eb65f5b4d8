// Host and gateway keys are made once and kept: a key ssh2 cannot read back would leave a dev
// host or gateway unable to start until the file is deleted by hand.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { utils } from "ssh2";
import { ensureKeyPair, fingerprint, generateEd25519KeyPair } from "../../../extension/core/ssh/keyPair";

test("every generated ed25519 pair reads back (ssh2's own generator fails about 1 in 256)", () => {
  const bad: string[] = [];
  for (let i = 0; i < 2000; i++) {
    const pair = generateEd25519KeyPair();
    for (const half of [pair.private, pair.public]) {
      const parsed = utils.parseKey(half);
      if (parsed instanceof Error) bad.push(`${parsed.message}: ${half}`);
    }
  }
  assert.deepEqual(bad, []);
});

test("ensureKeyPair makes the key once and returns the same one after", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "zones-keypair-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, "host_key");
  const first = ensureKeyPair(path, "test host");
  assert.match(first.publicKey, /^ssh-ed25519 [A-Za-z0-9+/]+=*$/);
  assert.equal(readFileSync(`${path}.pub`, "utf8").split(" ").slice(0, 2).join(" "), first.publicKey);
  const again = ensureKeyPair(path, "test host");
  assert.equal(fingerprint(again.publicKey), fingerprint(first.publicKey));
});
