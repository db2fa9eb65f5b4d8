import assert from "node:assert/strict";
import { test } from "node:test";
import { SshError } from "../../../extension/core/ssh/errors";
import { expandProxyCommand } from "../../../extension/core/ssh/proxyCommand";

const host = { alias: "prod", hostName: "10.0.0.7", port: 2222, user: "dev" };

test("ProxyCommand tokens: %h %p %r %n and %% are expanded", () => {
  assert.equal(
    expandProxyCommand("nc -X connect -x proxy:8080 %h %p", host),
    "nc -X connect -x proxy:8080 10.0.0.7 2222",
  );
  assert.equal(
    expandProxyCommand("ssh -W %h:%p %r@bastion # %n 100%%", host),
    "ssh -W 10.0.0.7:2222 dev@bastion # prod 100%",
  );
});

test("values put in for tokens are shell-quoted: a host name cannot add shell syntax", () => {
  const hostile = { ...host, hostName: "x; touch /tmp/pwned", alias: "$(reboot)" };
  assert.equal(expandProxyCommand("nc %h %p # %n", hostile), "nc 'x; touch /tmp/pwned' 2222 # '$(reboot)'");
});

test("an unknown token or a lone % is a configuration error naming it", () => {
  for (const [command, named] of [
    ["nc %h %x", "%x"],
    ["nc %h 100%", "a lone %"],
  ] as const) {
    assert.throws(
      () => expandProxyCommand(command, host),
      (err: unknown) => SshError.is(err, "configInvalid") && err.message.includes(named),
    );
  }
});
