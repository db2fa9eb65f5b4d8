import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  KnownHosts,
  fingerprintOf,
  hostFieldMatches,
  keyTypeOf,
  knownHostsNameFor,
  preferredHostKeyAlgorithms,
} from "../../../extension/core/ssh/knownHosts";
import { loggerFrom } from "../../../extension/core/log";

let dir: string;
const keys: Record<string, { line: string; blob: Buffer; fingerprint: string }> = {};

// Real keys from ssh-keygen, and OpenSSH's own fingerprints to compare ours with.
function makeKey(name: string, type: string): void {
  const path = join(dir, name);
  const r = spawnSync("ssh-keygen", ["-q", "-t", type, "-N", "", "-f", path], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const line = readFileSync(`${path}.pub`, "utf8").trim().split(/\s+/).slice(0, 2).join(" ");
  const fp = spawnSync("ssh-keygen", ["-l", "-E", "sha256", "-f", `${path}.pub`], {
    encoding: "utf8",
  }).stdout.split(/\s+/)[1]!;
  keys[name] = { line, blob: Buffer.from(line.split(" ")[1]!, "base64"), fingerprint: fp };
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), "knownhosts-"));
  makeKey("ed", "ed25519");
  makeKey("ed2", "ed25519");
  makeKey("ecdsa", "ecdsa");
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe("known_hosts", () => {
  test("fingerprints and key types agree with ssh-keygen", () => {
    for (const k of Object.values(keys)) {
      assert.equal(fingerprintOf(k.blob), k.fingerprint);
      assert.equal(keyTypeOf(k.blob), k.line.split(" ")[0]);
    }
  });

  test("names: bare for port 22, [host]:port otherwise, HostKeyAlias as is", () => {
    assert.equal(knownHostsNameFor("h.example", 22), "h.example");
    assert.equal(knownHostsNameFor("h.example", 2222), "[h.example]:2222");
    assert.equal(knownHostsNameFor("h.example", 2222, "alias"), "alias");
  });

  test("plain, patterned, [host]:port and hashed entries across several files", () => {
    const a = join(dir, "kh_a");
    const b = join(dir, "kh_b");
    writeFileSync(
      a,
      `# comment\n\nother.example ${keys["ecdsa"]!.line}\n*.lab,!evil.lab ${keys["ed"]!.line}\n`,
    );
    writeFileSync(b, `[h.example]:2222 ${keys["ed2"]!.line}\nnot a valid line\n`);
    const kh = new KnownHosts([a], [b]);
    assert.equal(kh.check("styro.lab", keys["ed"]!.blob).status, "known");
    assert.equal(kh.check("evil.lab", keys["ed"]!.blob).status, "unknown");
    const viaGlobal = kh.check("[h.example]:2222", keys["ed2"]!.blob);
    assert.equal(viaGlobal.status, "known");
    assert.equal(viaGlobal.status === "known" && viaGlobal.entry.file, b);
    // [host]:port entries do not apply to port 22 and vice versa.
    assert.equal(kh.check("h.example", keys["ed2"]!.blob).status, "unknown");

    // Hash the file with OpenSSH and check the same lookups still work.
    const hashed = join(dir, "kh_hashed");
    writeFileSync(hashed, `[h.example]:2222 ${keys["ed2"]!.line}\n`);
    assert.equal(spawnSync("ssh-keygen", ["-H", "-f", hashed]).status, 0);
    assert.match(readFileSync(hashed, "utf8"), /^\|1\|/);
    assert.equal(new KnownHosts([hashed], []).check("[h.example]:2222", keys["ed2"]!.blob).status, "known");
    assert.equal(new KnownHosts([hashed], []).check("[h.example]:2223", keys["ed2"]!.blob).status, "unknown");
  });

  test("a different key of the same type is 'changed' and names file and line", () => {
    const f = join(dir, "kh_changed");
    writeFileSync(f, `first.example ${keys["ecdsa"]!.line}\n\n[h.example]:2222 ${keys["ed"]!.line}\n`);
    const result = new KnownHosts([f], []).check("[h.example]:2222", keys["ed2"]!.blob);
    assert.equal(result.status, "changed");
    assert.ok(result.status === "changed");
    assert.equal(result.entry.file, f);
    assert.equal(result.entry.line, 3);
    assert.equal(fingerprintOf(result.entry.keyBlob), keys["ed"]!.fingerprint);
  });

  test("a key of another type only is 'unknown', with the known types listed", () => {
    const f = join(dir, "kh_other_type");
    writeFileSync(f, `h.example ${keys["ecdsa"]!.line}\n`);
    const kh = new KnownHosts([f], []);
    const result = kh.check("h.example", keys["ed"]!.blob);
    assert.deepEqual(result, { status: "unknown", otherKeyTypes: ["ecdsa-sha2-nistp256"] });
    assert.equal(preferredHostKeyAlgorithms(kh.knownKeyTypes("h.example"))[0], "ecdsa-sha2-nistp256");
    assert.deepEqual(preferredHostKeyAlgorithms(["ssh-rsa"]).slice(0, 3), [
      "rsa-sha2-512",
      "rsa-sha2-256",
      "ssh-rsa",
    ]);
  });

  test("@revoked wins over a matching plain line; @cert-authority is skipped with a log line", () => {
    const f = join(dir, "kh_revoked");
    writeFileSync(
      f,
      `h.example ${keys["ed"]!.line}\n@revoked * ${keys["ed"]!.line}\n@cert-authority *.example ${keys["ecdsa"]!.line}\n`,
    );
    const lines: string[] = [];
    const kh = new KnownHosts(
      [f],
      [],
      loggerFrom((_l, line) => lines.push(line), "debug"),
    );
    const result = kh.check("h.example", keys["ed"]!.blob);
    assert.equal(result.status, "revoked");
    assert.equal(result.status === "revoked" && result.entry.line, 2);
    assert.equal(kh.check("h.example", keys["ecdsa"]!.blob).status, "unknown");
    assert.ok(lines.some((l) => /@cert-authority entries are not supported/.test(l)));
  });

  test("add() appends plain or hashed lines that OpenSSH itself finds", () => {
    const plainFile = join(dir, "sub", "kh_new");
    const kh = new KnownHosts([plainFile], []);
    assert.deepEqual(kh.add("[h.example]:2222", keys["ed"]!.blob, false), { file: plainFile, line: 1 });
    assert.equal(readFileSync(plainFile, "utf8"), `[h.example]:2222 ${keys["ed"]!.line}\n`);
    assert.equal(kh.check("[h.example]:2222", keys["ed"]!.blob).status, "known");

    // A file that already uses hashing gets a hashed line, which ssh-keygen -F can find.
    const hashedFile = join(dir, "kh_hashed_add");
    writeFileSync(
      hashedFile,
      `${"|1|c2FsdHNhbHRzYWx0c2FsdHNhbHQ=|AAAAAAAAAAAAAAAAAAAAAAAAAAA="} ${keys["ecdsa"]!.line}`,
    );
    const added = new KnownHosts([hashedFile], []).add("styro.example", keys["ed"]!.blob, false);
    assert.equal(added.line, 2);
    const text = readFileSync(hashedFile, "utf8");
    assert.ok(!text.includes("styro.example"));
    const found = spawnSync("ssh-keygen", ["-F", "styro.example", "-f", hashedFile], { encoding: "utf8" });
    assert.equal(found.status, 0);
    assert.match(found.stdout, /found: line 2/);
    assert.ok(hostFieldMatches(text.split("\n")[1]!.split(" ")[0]!, "styro.example"));
  });
});
