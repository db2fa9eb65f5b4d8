import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sshConfigAliases } from "../../../extension/core/ssh/config";

test("aliases come from Host lines, skip patterns, and follow Include relative to ~/.ssh", () => {
  const home = mkdtempSync(join(tmpdir(), "zones-aliases-"));
  try {
    mkdirSync(join(home, ".ssh", "conf.d"), { recursive: true });
    writeFileSync(
      join(home, ".ssh", "config"),
      [
        "Host build-box gpu-*",
        "  HostName 10.0.0.2",
        "Include conf.d/*.conf",
        "Host !bastion *.internal",
        "Host = edge",
      ].join("\n"),
    );
    writeFileSync(
      join(home, ".ssh", "conf.d", "a.conf"),
      "Host zone-host\n  User root\nInclude ~/.ssh/conf.d/nested\n",
    );
    writeFileSync(join(home, ".ssh", "conf.d", "nested"), 'Host "quoted-host"\n');
    assert.deepEqual(sshConfigAliases(join(home, ".ssh", "config"), home), [
      "build-box",
      "zone-host",
      "quoted-host",
      "edge",
    ]);
    assert.deepEqual(sshConfigAliases(join(home, "missing"), home), []);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
