import { test } from "node:test";
import assert from "node:assert/strict";
import { defaultSocketPath } from "../../../extension/core/protect/transport";
import { parseSettings } from "../../../extension/vscode/settingsSchema";
import type { SettingKey } from "../../../extension/vscode/settingsSchema";
import { parseHostEntry } from "../../../extension/vscode/model/hostEntry";

const read = (values: Partial<Record<SettingKey, unknown>>) => (key: SettingKey) => values[key];

test("unset settings take their defaults", () => {
  const { settings, problems } = parseSettings(read({}));
  assert.deepEqual(problems, []);
  assert.deepEqual(settings.hosts, []);
  assert.equal(settings.daemonSocket, defaultSocketPath);
  assert.equal(settings.reconnect.maxAttempts, 8);
  assert.equal(settings.defaultResources.memoryMiB, 1024);
});

test("a bad value falls back alone, with a problem naming the key", () => {
  const { settings, problems } = parseSettings(
    read({ daemonSocket: "relative/path", "reconnect.maxAttempts": -1, hosts: ["a", "a", "b"] }),
  );
  assert.equal(settings.daemonSocket, defaultSocketPath);
  assert.equal(settings.reconnect.maxAttempts, 8);
  assert.deepEqual(settings.hosts, ["a", "b"], "duplicates collapse");
  assert.deepEqual(problems.map((p) => p.key).sort(), ["daemonSocket", "reconnect.maxAttempts"]);
  assert.match(problems.find((p) => p.key === "daemonSocket")!.message, /absolute/);
});

test("hosts must be a list of non-empty strings", () => {
  const { settings, problems } = parseSettings(read({ hosts: "just-a-string" }));
  assert.deepEqual(settings.hosts, []);
  assert.equal(problems[0]?.key, "hosts");
});

test("host entries: ssh destinations, aliases, sockets, and unusable text with a reason", () => {
  assert.deepEqual(parseHostEntry("unix:///run/zones/dev.socket"), {
    kind: "unix",
    id: "unix:///run/zones/dev.socket",
    label: "/run/zones/dev.socket",
    socketPath: "/run/zones/dev.socket",
  });
  const ssh = parseHostEntry("root@10.0.0.5:2222");
  assert.equal(ssh.kind, "ssh");
  assert.deepEqual(ssh.kind === "ssh" && ssh.destination, { host: "10.0.0.5", user: "root", port: 2222 });
  assert.equal(parseHostEntry("myalias").kind, "ssh");
  const relative = parseHostEntry("unix://run/x.socket");
  assert.equal(relative.kind, "invalid");
  assert.match(relative.kind === "invalid" ? relative.message : "", /absolute path/);
  const injected = parseHostEntry("host;rm -rf /");
  assert.equal(injected.kind, "invalid");
});

test("launch workspace root: empty or an absolute host path; metrics interval: 0.2–60 s", () => {
  const ok = parseSettings(read({ "launch.workspaceRoot": "/srv/zones", "metrics.intervalSeconds": 0.5 }));
  assert.deepEqual(ok.problems, []);
  assert.equal(ok.settings.launchWorkspaceRoot, "/srv/zones");
  assert.equal(ok.settings.metricsIntervalSeconds, 0.5);
  assert.equal(parseSettings(read({})).settings.launchWorkspaceRoot, "");
  assert.equal(parseSettings(read({})).settings.metricsIntervalSeconds, 1);
  const bad = parseSettings(read({ "launch.workspaceRoot": "relative", "metrics.intervalSeconds": 0.01 }));
  assert.equal(bad.settings.launchWorkspaceRoot, "");
  assert.equal(bad.settings.metricsIntervalSeconds, 1);
  assert.deepEqual(bad.problems.map((p) => p.key).sort(), [
    "launch.workspaceRoot",
    "metrics.intervalSeconds",
  ]);
});

test("metrics Prometheus port: 3035 by default, 0 turns it off, anything else out of range falls back", () => {
  assert.equal(parseSettings(read({})).settings.metricsPrometheusPort, 3035);
  assert.equal(parseSettings(read({ "metrics.prometheusPort": 0 })).settings.metricsPrometheusPort, 0);
  const bad = parseSettings(read({ "metrics.prometheusPort": 70000 }));
  assert.equal(bad.settings.metricsPrometheusPort, 3035);
  assert.deepEqual(
    bad.problems.map((p) => p.key),
    ["metrics.prometheusPort"],
  );
});

test("settings that pick hosts or run commands here take no workspace value", async () => {
  const { machineKeys, userChosenValue } = await import("../../../extension/vscode/settingsSchema");
  for (const key of [
    "hosts",
    "ssh.configFile",
    "bridgeCommand",
    "daemonSocket",
    "launch.workspaceRoot",
  ] as const) {
    assert.ok(machineKeys.includes(key), key);
    const hostile = { workspaceValue: "evil", workspaceFolderValue: "evil", globalValue: "mine" };
    assert.equal(userChosenValue(key, hostile), "mine");
    assert.equal(userChosenValue(key, { workspaceValue: "evil" }), undefined);
  }
  assert.equal(userChosenValue("terminal.shell", { workspaceValue: "zsh", globalValue: "sh" }), "zsh");
});
