// The gateway's ssh_config files: aliases, blocks that quote what they must, an Include added
// once with a backup, stale entries removed with their keys, and the stat/listing parsers of
// the built-in SFTP server.
import assert from "node:assert/strict";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, test } from "node:test";
import { gatewayAlias } from "../../../extension/core/gateway/gatewayNames";
import { GatewaySshConfig, ensureInclude } from "../../../extension/core/gateway/gatewaySshConfig";
import { parseListing } from "../../../extension/core/gateway/shellSftp";
import { parseTarget } from "../../../extension/core/protect/target";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "gateway-config-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("gateway aliases", () => {
  test("zone, host and workload make one name safe for a Host pattern", () => {
    assert.equal(
      gatewayAlias(parseTarget("unix:///var/lib/edera/protect/daemon.socket"), "web"),
      "web.zones",
    );
    assert.equal(gatewayAlias(parseTarget("me@styro-1:2222"), "web"), "web.styro-1.zones");
    assert.equal(gatewayAlias(parseTarget("styro-1"), "web", "api"), "api.web.styro-1.zones");
    assert.equal(gatewayAlias(parseTarget("styro-1"), "we b*!x"), "we-b-x.styro-1.zones");
    assert.match(gatewayAlias(parseTarget("unix:///tmp/dev.sock"), "web"), /^web\.local-[0-9a-f]{8}\.zones$/);
  });
});

describe("GatewaySshConfig", () => {
  const zonectl = ["/opt/my node/node", "/opt/zonectl.js"];

  test("a block: ProxyCommand shell-quoted with % escaped, the pinned key in our known_hosts", () => {
    const files = new GatewaySshConfig(join(dir, "styrolite zones"));
    const text = files.prepare(
      [{ alias: "web.h.zones", host: "unix:///tmp/a b/50%.sock", zone: "web", user: "vscode" }],
      zonectl,
    );
    assert.match(text, /^Host web\.h\.zones$/m);
    assert.match(text, /^ {2}User vscode$/m);
    assert.match(
      text,
      /^ {2}ProxyCommand '\/opt\/my node\/node' \/opt\/zonectl\.js --host 'unix:\/\/\/tmp\/a b\/50%%\.sock' ssh-proxy web$/m,
    );
    assert.match(text, /^ {2}UserKnownHostsFile ".*styrolite zones\/known_hosts"$/m);
    assert.match(text, /^ {2}StrictHostKeyChecking yes$/m);
    const pinned = readFileSync(files.knownHostsPath, "utf8");
    assert.equal(pinned, `web.h.zones ${files.hostKey("web.h.zones").publicKey}\n`);
  });

  test("write keeps exactly the entries given; a removed one loses its key and known_hosts line", () => {
    const files = new GatewaySshConfig(join(dir, "gw"));
    files.write(
      [
        { alias: "a.zones", host: "h", zone: "a" },
        { alias: "b.zones", host: "h", zone: "b" },
      ],
      zonectl,
    );
    const keyA = files.hostKey("a.zones").publicKey;
    assert.deepEqual(
      files.read().map((e) => e.alias),
      ["a.zones", "b.zones"],
    );
    const removed = files.write([{ alias: "a.zones", host: "h", zone: "a" }], zonectl);
    assert.deepEqual(removed, ["b.zones"]);
    assert.equal(existsSync(files.keyPath("b.zones")), false);
    assert.doesNotMatch(readFileSync(files.knownHostsPath, "utf8"), /b\.zones/);
    assert.equal(files.hostKey("a.zones").publicKey, keyA, "a kept key stays the same");
  });
});

describe("ensureInclude", () => {
  test("adds one Include at the top after a backup, and only once", () => {
    const config = join(dir, ".ssh", "config");
    mkdirSync(join(dir, ".ssh"));
    writeFileSync(config, "Host *\n  ServerAliveInterval 30\n");
    const first = ensureInclude(config, join(dir, ".ssh/styrolite-zones/config"));
    assert.deepEqual(first, { changed: true, backup: `${config}.zones-backup` });
    assert.equal(readFileSync(`${config}.zones-backup`, "utf8"), "Host *\n  ServerAliveInterval 30\n");
    const text = readFileSync(config, "utf8");
    assert.match(text.split("\n").slice(0, 2).join("\n"), /^# .*\nInclude .*styrolite-zones\/config$/);
    assert.match(text, /Host \*\n {2}ServerAliveInterval 30\n$/, "the user's config follows, unchanged");
    assert.deepEqual(ensureInclude(config, join(dir, ".ssh/styrolite-zones/config")), { changed: false });
    assert.equal(readFileSync(config, "utf8"), text);
  });

  test("a config linked from elsewhere is edited where it lives, the link stays", () => {
    const real = join(dir, "dotfiles-ssh-config");
    writeFileSync(real, "# mine\n");
    mkdirSync(join(dir, ".ssh"));
    symlinkSync(real, join(dir, ".ssh", "config"));
    ensureInclude(join(dir, ".ssh", "config"), "/x/config");
    assert.match(readFileSync(real, "utf8"), /^# .*\nInclude \/x\/config\n\n# mine\n$/);
  });

  test("creates ~/.ssh/config when there is none (no backup)", () => {
    const config = join(dir, "fresh", ".ssh", "config");
    assert.deepEqual(ensureInclude(config, "/x/config"), { changed: true, backup: undefined });
    assert.match(readFileSync(config, "utf8"), /^Include \/x\/config$/m);
  });
});

describe("the built-in SFTP listing", () => {
  test("names with newlines, an entry gone before stat, and an empty folder", () => {
    const out = Buffer.from(
      "/d/a\0/d/odd\nname\0/d/gone\0/d/z\0\0" +
        "81a4 3 0 0 10 20 1 /d/a\n" +
        "81a4 5 1000 1000 11 21 1 /d/odd\nname\n" +
        "41ed 4096 0 0 12 22 2 /d/z\n",
    );
    assert.deepEqual(
      parseListing(out, "/d").map((e) => [e.name, e.stats.size, e.stats.mode.toString(8)]),
      [
        ["a", 3, "100644"],
        ["odd\nname", 5, "100644"],
        ["z", 4096, "40755"],
      ],
    );
    assert.deepEqual(parseListing(Buffer.from("\0"), "/d"), []);
  });
});
