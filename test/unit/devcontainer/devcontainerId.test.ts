import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  devcontainerIdFor,
  devcontainerIdForLabels,
} from "../../../extension/core/devcontainer/devcontainerId";

// Base 32 by long division over the digest bytes: an independent route to the same number,
// without BigInt, so a slip in one implementation does not hide in both.
function base32ByHand(bytes: Uint8Array): string {
  const digits: number[] = [];
  let number = Array.from(bytes);
  while (number.some((b) => b !== 0)) {
    let remainder = 0;
    const next: number[] = [];
    for (const byte of number) {
      const value = remainder * 256 + byte;
      next.push(Math.floor(value / 32));
      remainder = value % 32;
    }
    digits.unshift(remainder);
    number = next;
  }
  return digits
    .map((d) => "0123456789abcdefghijklmnopqrstuv"[d])
    .join("")
    .padStart(52, "0");
}

test("known answer: the spec's label-based id of a local folder and its config", () => {
  const folder = "/home/dev/proj";
  const config = "/home/dev/proj/.devcontainer/devcontainer.json";
  // The exact JSON the spec hashes: sorted keys, no whitespace.
  const json =
    '{"devcontainer.config_file":"/home/dev/proj/.devcontainer/devcontainer.json","devcontainer.local_folder":"/home/dev/proj"}';
  const digest = createHash("sha256").update(json, "utf8").digest();
  assert.equal(digest.toString("hex"), "b70a69eefaa934a15d71a5fc9963520a6940d9c0c4f73f4fe15cf98625818e0a");
  const expected = "1doad7nfla9kk5en39fsj5hl42j983cs1h7n7t7u2n7pgoio33ga";
  assert.equal(base32ByHand(digest), expected);
  assert.equal(devcontainerIdFor(folder, config), expected);
});

test("short digests are left-padded with 0 to 52 characters", () => {
  const id = devcontainerIdFor("/home/dev/p0", "/home/dev/p0/.devcontainer.json");
  assert.equal(id, "0n47s4eo3cr4dadbncen2lstrhbsd0u7d9em9uhlshshf8o5term");
  const json =
    '{"devcontainer.config_file":"/home/dev/p0/.devcontainer.json","devcontainer.local_folder":"/home/dev/p0"}';
  assert.equal(base32ByHand(createHash("sha256").update(json).digest()), id);
});

test("ids are 52 lowercase base-32 characters, stable, and change with the folder or config", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const id = devcontainerIdFor(`/work/project-${i}`, `/work/project-${i}/.devcontainer/devcontainer.json`);
    assert.match(id, /^[0-9a-v]{52}$/);
    assert.equal(
      devcontainerIdFor(`/work/project-${i}`, `/work/project-${i}/.devcontainer/devcontainer.json`),
      id,
      "stable across calls",
    );
    seen.add(id);
  }
  assert.equal(seen.size, 200);
  const a = devcontainerIdFor("/work/a", "/work/a/.devcontainer/devcontainer.json");
  assert.notEqual(
    devcontainerIdFor("/work/a", "/work/a/.devcontainer.json"),
    a,
    "another config file, another id",
  );
  assert.notEqual(
    devcontainerIdFor("/work/b", "/work/a/.devcontainer/devcontainer.json"),
    a,
    "another folder, another id",
  );
});

test("label order does not matter; the label values do", () => {
  const one = devcontainerIdForLabels({ b: "2", a: "1" });
  assert.equal(devcontainerIdForLabels({ a: "1", b: "2" }), one);
  assert.notEqual(devcontainerIdForLabels({ a: "1", b: "3" }), one);
});
