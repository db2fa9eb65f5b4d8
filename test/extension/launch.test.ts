/**
 * The packaged extension driving a real dev host (through a real sshd unless
 * ZONES_E2E_TRANSPORT=unix): the sample project launched into a zone and relaunched onto the
 * same zone, terminals whose size and resizes reach the remote process, Open Terminal as a VS
 * Code terminal with its exit code, Forward Port / Stop, the dashboard's sampling lifetime, the
 * console panels, devcontainer.json problems and lenses, and the tree's filter and grouping.
 */
import * as assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import * as vscode from "vscode";
import { silentLogger } from "../../extension/core/log";
import type { LaunchEvent } from "../../extension/core/launch/events";
import { ProtectHost } from "../../extension/core/protect/host";
import { startExec } from "../../extension/core/terminal/execSession";
import type { ZonesApi } from "../../extension/vscode/ctx";
import type { LaunchOutcome } from "../../extension/vscode/launch/launcher";
import type { ZonesNode } from "../../extension/vscode/tree/nodes";
import { terminalTargetFor } from "../../extension/vscode/terminal/targets";
import { ZonePty } from "../../extension/vscode/terminal/zonePty";

const alias = process.env.ZONES_TEST_HOST_ID;
const socket = process.env.ZONES_TEST_DEVHOST_SOCKET;

async function until<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const label = (item: vscode.TreeItem): string =>
  typeof item.label === "string" ? item.label : (item.label?.label ?? "");

suite("launch, terminals, forwards and panels on the dev host", function () {
  let zones: ZonesApi;
  let other: ProtectHost;
  let outcome: LaunchOutcome;
  const scratch: string[] = [];

  suiteSetup(async function () {
    if (!alias || !socket) this.skip();
    zones = await vscode.extensions.getExtension<ZonesApi>("styrolite.styrolite-zones")!.activate();
    await zones.ready; // the services (terminals, launches, panels) load just after activation
    other = await ProtectHost.open(`unix://${socket}`);
    await until("the host connected", () => zones.model.host(alias)?.connection.kind === "connected", 30_000);
  });

  suiteTeardown(async () => {
    if (outcome) await other?.destroyZone(outcome.result.zoneId).catch(() => undefined);
    other?.close();
    for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
  });

  function zoneNode(): ZonesNode {
    const host = zones.tree.getChildren().find((n) => n.kind === "host" && n.hostId === alias);
    assert.ok(host);
    const node = zones.tree
      .getChildren(host)
      .find((n) => n.kind === "zone" && n.zoneId === outcome.result.zoneId);
    assert.ok(node, "the launched zone is in the tree");
    return node;
  }

  function workloadNode(): ZonesNode {
    const node = zones.tree
      .getChildren(zoneNode())
      .find((n) => n.kind === "workload" && n.workloadId === outcome.result.workloadId);
    assert.ok(node, "the launched workload is under its zone");
    return node;
  }

  test("Launch: the sample project becomes a zone with a running workload, shown in the tree, its port forwarded", async () => {
    const folder = vscode.workspace.workspaceFolders![0]!.uri.fsPath;
    const plan = await zones.launcher.plan(join(folder, ".devcontainer", "devcontainer.json"));
    assert.equal(plan.launchable, true, plan.refusals.join("; "));
    const events: LaunchEvent[] = [];
    const started = Date.now();
    outcome = await zones.launcher.launch(plan, alias!, { onEvent: (e) => events.push(e) });
    console.log(
      `    (launch took ${Date.now() - started} ms: ${outcome.result.timings
        .filter((t) => t.outcome === "done")
        .map((t) => `${t.step} ${t.ms}`)
        .join(", ")})`,
    );
    assert.equal(outcome.result.reusedZone, false);
    assert.ok(
      events.some((e) => e.type === "hookExited" && e.hook === "postCreateCommand" && e.exitCode === 0),
      "postCreateCommand ran",
    );
    await until(
      "zone and workload in the model",
      () =>
        zones.model.zone(alias!, outcome.result.zoneId) &&
        zones.model.workload(alias!, outcome.result.workloadId),
      5000,
    );
    const zoneItem = zones.tree.getTreeItem(zoneNode());
    assert.equal(label(zoneItem), plan.zoneName);
    await until(
      "the workload running",
      () => zones.tree.getTreeItem(workloadNode()).contextValue === "workload:running",
      5000,
    );
    const forwards = zones.forwards.list(alias, outcome.result.zoneId);
    assert.deepEqual(
      forwards.map((f) => f.zonePort),
      [8080],
    );
    assert.ok(forwards[0]!.info.localPort > 0);
  });

  test("Launch again: the project's zone is reused, not duplicated", async () => {
    const folder = vscode.workspace.workspaceFolders![0]!.uri.fsPath;
    const plan = await zones.launcher.plan(join(folder, ".devcontainer", "devcontainer.json"));
    const again = await zones.launcher.launch(plan, alias!);
    assert.equal(again.result.reusedZone, true);
    assert.equal(again.result.zoneId, outcome.result.zoneId);
    assert.equal(again.result.workloadId, outcome.result.workloadId);
    assert.equal(again.result.firstLaunch, false);
    const ours = (await other.listZones()).filter((z) => z.spec?.name === plan.zoneName);
    assert.equal(ours.length, 1);
  });

  /** What `cat`/`sh -c` print in the launched workload. */
  async function inWorkload(script: string): Promise<string> {
    const chunks: Uint8Array[] = [];
    const session = startExec(
      other,
      { zoneId: outcome.result.zoneId, workloadId: outcome.result.workloadId, command: ["sh", "-c", script] },
      { onStdout: (d) => chunks.push(d) },
    );
    session.endInput();
    assert.equal(await session.exited, 0, `${script} failed in the workload`);
    return Buffer.concat(chunks).toString("utf8");
  }

  test("Saves follow: a save, a new file, a rename and a delete reach the zone; a burst of 500 arrives complete and in order", async function () {
    this.timeout(180_000);
    const folder = vscode.workspace.workspaceFolders![0]!.uri.fsPath;
    const inZone = outcome.result.workspaceFolder;
    await until(
      "the folder followed",
      () => zones.saveSync.followed().some((f) => f.localFolder === folder),
      10_000,
    );
    const pushed: string[] = [];
    const listener = zones.saveSync.onDidPush((e) => {
      if (e.action !== "unchanged") pushed.push(`${e.action} ${e.path}`);
    });
    try {
      // A real save from an editor.
      const doc = await vscode.workspace.openTextDocument(join(folder, "README.md"));
      const editor = await vscode.window.showTextDocument(doc);
      await editor.edit((b) => b.insert(new vscode.Position(0, 0), "saved in VS Code\n"));
      await doc.save();
      await until("README.md pushed", () => pushed.includes("uploaded README.md"), 20_000);
      assert.match(await inWorkload(`head -n 1 ${inZone}/README.md`), /^saved in VS Code$/m);
      await vscode.commands.executeCommand("workbench.action.closeActiveEditor");

      writeFileSync(join(folder, "notes.txt"), "new\n");
      await until("notes.txt pushed", () => pushed.includes("uploaded notes.txt"), 20_000);
      renameSync(join(folder, "notes.txt"), join(folder, "renamed.txt"));
      await until(
        "the rename pushed",
        () => pushed.includes("removed notes.txt") && pushed.includes("uploaded renamed.txt"),
        20_000,
      );
      rmSync(join(folder, "renamed.txt"));
      await until("the delete pushed", () => pushed.includes("removed renamed.txt"), 20_000);
      assert.equal(await inWorkload(`ls ${inZone} | grep -c -e notes -e renamed || true`), "0\n");

      pushed.length = 0;
      const written: string[] = [];
      for (let d = 0; d < 5; d++) {
        mkdirSync(join(folder, "burst", `d${d}`), { recursive: true });
        for (let f = 0; f < 100; f++) {
          const path = `burst/d${d}/f${String(f).padStart(3, "0")}.txt`;
          writeFileSync(join(folder, path), `${d * 100 + f}\n`);
          written.push(path);
        }
      }
      await until(
        "500 files pushed",
        () => pushed.filter((p) => p.startsWith("uploaded burst/")).length >= 500,
        150_000,
      );
      assert.deepEqual(
        pushed.filter((p) => p.startsWith("uploaded burst/")).map((p) => p.slice("uploaded ".length)),
        written,
        "in the order written, each once",
      );
      const content = await inWorkload(`cd ${inZone} && for f in burst/d*/f*; do cat "$f"; done`);
      assert.deepEqual(
        content.trim().split("\n"),
        written.map((_, i) => String(i)),
        "all 500 in the zone",
      );
      assert.match(zones.saveSync.status?.last?.path ?? "", /^burst\//, "the status bar knows the last push");
    } finally {
      listener.dispose();
      rmSync(join(folder, "burst"), { recursive: true, force: true });
    }
  });

  test("Saves follow: a folder the zone swapped for a link is not written through; the status bar says so until a push succeeds", async function () {
    this.timeout(120_000);
    const folder = vscode.workspace.workspaceFolders![0]!.uri.fsPath;
    const inZone = outcome.result.workspaceFolder;
    const pushed: string[] = [];
    const handled = new Set<string>();
    const listener = zones.saveSync.onDidPush((e) => {
      handled.add(e.path);
      if (e.action !== "unchanged") pushed.push(`${e.action} ${e.path}`);
    });
    try {
      mkdirSync(join(folder, "swapped"));
      writeFileSync(join(folder, "swapped", "a.txt"), "first\n");
      // The watcher may report the folder and its file in either order, and late: once both
      // were handled, no event for the folder is left to recreate it after the zone's swap.
      await until(
        "swapped/ and swapped/a.txt handled",
        () => handled.has("swapped") && handled.has("swapped/a.txt"),
      );
      await zones.saveSync.idle();
      assert.equal(await inWorkload(`cat ${inZone}/swapped/a.txt`), "first\n");
      // The zone replaces the folder with a link out of its workspace.
      await inWorkload(
        `rm -rf ${inZone}/swapped /tmp/outside && mkdir /tmp/outside && ln -s /tmp/outside ${inZone}/swapped`,
      );
      writeFileSync(join(folder, "swapped", "a.txt"), "second\n");
      const failed = await until("the push refused", () => {
        const s = zones.saveSync.status;
        return s?.error?.path === "swapped/a.txt" && s;
      }).catch(async (err: unknown) => {
        const there = await inWorkload(`ls -la ${inZone}/swapped /tmp/outside 2>&1`);
        throw new Error(
          `${String(err)}; pushed ${JSON.stringify(pushed)}; status ${JSON.stringify(zones.saveSync.status)}; zone: ${there}`,
        );
      });
      assert.match(failed.error!.message, /not a directory/);
      assert.equal(await inWorkload("ls -A /tmp/outside; readlink " + `${inZone}/swapped`), "/tmp/outside\n");
      const bar = zones.saveSync.statusBar;
      assert.ok(bar, "the status bar item shows");
      assert.match(bar.text, /push failed/);
      assert.match(bar.tooltip, /swapped\/a\.txt could not be pushed/);

      // Once the zone's link is gone, the next save goes through and the warning goes.
      await inWorkload(`rm ${inZone}/swapped`);
      writeFileSync(join(folder, "swapped", "a.txt"), "third\n");
      await until(
        "swapped/a.txt pushed again",
        () => zones.saveSync.status?.last?.path === "swapped/a.txt" && !zones.saveSync.status.error,
      );
      assert.equal(await inWorkload(`cat ${inZone}/swapped/a.txt`), "third\n");
      assert.doesNotMatch(zones.saveSync.statusBar?.text ?? "", /push failed/);
    } finally {
      listener.dispose();
      rmSync(join(folder, "swapped"), { recursive: true, force: true });
    }
  });

  test("Saves follow is a setting: off, nothing is followed and the status bar item goes; on again, saves follow", async function () {
    this.timeout(60_000);
    const folder = vscode.workspace.workspaceFolders![0]!.uri.fsPath;
    const inZone = outcome.result.workspaceFolder;
    const config = vscode.workspace.getConfiguration("zones");
    await config.update("sync.onSave", false, vscode.ConfigurationTarget.Global);
    try {
      await until("no folder followed", () => zones.saveSync.followed().length === 0, 10_000);
      assert.equal(zones.saveSync.statusBar, undefined, "no status bar item");
    } finally {
      await config.update("sync.onSave", undefined, vscode.ConfigurationTarget.Global);
    }
    await until(
      "the folder followed again",
      () => zones.saveSync.followed().some((f) => f.localFolder === folder),
      10_000,
    );
    writeFileSync(join(folder, "after-on.txt"), "on again\n");
    try {
      await until(
        "after-on.txt in the zone",
        async () => (await inWorkload(`cat ${inZone}/after-on.txt 2>/dev/null || true`)) === "on again\n",
      );
      assert.ok(zones.saveSync.statusBar, "the status bar item is back");
    } finally {
      rmSync(join(folder, "after-on.txt"), { force: true });
    }
  });

  test("Open in New Window without an ssh-remote extension: the alias is written, and OpenSSH reaches the workload through it", async function () {
    this.timeout(120_000);
    const result = await vscode.commands.executeCommand<{ kind: string; alias: string; uri: string }>(
      "zones.workload.openInNewWindow",
      workloadNode(),
    );
    assert.equal(result.kind, "needsExtension", "code-server has neither Remote - SSH nor Open Remote - SSH");
    assert.equal(result.uri, `vscode-remote://ssh-remote+${result.alias}${outcome.result.workspaceFolder}`);
    const userConfig = join(homedir(), ".ssh", "config");
    assert.match(readFileSync(userConfig, "utf8"), /^Include .*styrolite-zones\/config$/m);
    const ours = readFileSync(join(homedir(), ".ssh", "styrolite-zones", "config"), "utf8");
    assert.match(ours, new RegExp(`^Host ${result.alias.replace(/\./g, "\\.")}$`, "m"));
    assert.match(ours, /ProxyCommand .*dist\/zonectl\.js --host .* ssh-proxy /);
    // The packaged zonectl, run by OpenSSH as the alias's ProxyCommand: the real gateway.
    const ssh = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const child = execFile(
        "ssh",
        ["-F", userConfig, "-o", "BatchMode=yes", result.alias, 'printf "%s|%s" "$PWD" "$GREETING"'],
        { timeout: 60_000 },
        (err, out, errOut) =>
          resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out, err: errOut }),
      );
      child.stdin?.end();
    });
    assert.equal(ssh.code, 0, ssh.err);
    assert.equal(ssh.out, `${outcome.result.workspaceFolder}|hello from a zone`);
  });

  test("a launch cancelled mid-hook rolls back: its zone is destroyed and nothing is forwarded", async () => {
    const dir = mkdtempSync(join(tmpdir(), "zones-cancel-"));
    scratch.push(dir);
    mkdirSync(join(dir, ".devcontainer"));
    writeFileSync(
      join(dir, ".devcontainer", "devcontainer.json"),
      '{ "name": "cancelled", "image": "busybox:latest", "onCreateCommand": "sleep 60", "forwardPorts": [9090] }',
    );
    const plan = await zones.launcher.plan(dir);
    const abort = new AbortController();
    let zoneId = "";
    const launching = zones.launcher.launch(plan, alias!, {
      signal: abort.signal,
      onEvent: (e) => {
        if (e.type === "zoneState") zoneId = e.zoneId;
        if (e.type === "hookStarted" && e.hook === "onCreateCommand") abort.abort();
      },
    });
    await assert.rejects(launching, (err: Error & { reason?: string }) => err.reason === "cancelled");
    assert.ok(zoneId, "the zone had been created");
    await until("the zone gone from the model", () => !zones.model.zone(alias!, zoneId), 10_000);
    assert.ok(!(await other.listZones()).some((z) => z.id === zoneId), "the host no longer has it");
    assert.deepEqual(zones.forwards.list(alias, zoneId), []);
  });

  test("a terminal's initial size and every resize reach the process (stty size in the workload)", async () => {
    const target = terminalTargetFor(
      zones.model,
      { hostId: alias!, zoneId: outcome.result.zoneId, workloadId: outcome.result.workloadId },
      { shell: "/bin/sh" },
    )!;
    const pty = new ZonePty(target, {
      host: (signal) => zones.hosts.wait(alias!, signal),
      logger: silentLogger,
    });
    let screen = "";
    pty.onDidWrite((text) => (screen += text));
    const closed: (number | void)[] = [];
    pty.onDidClose((code) => closed.push(code));
    pty.open({ rows: 24, columns: 80 });
    await until("the shell running", () => pty.state === "running");
    pty.handleInput("stty size\r");
    await until("stty size at the opened size", () => /\b24 80\r?\n/.test(screen), 10_000);
    pty.setDimensions({ rows: 37, columns: 111 });
    pty.handleInput("stty size\r");
    await until("stty size after the resize", () => /\b37 111\r?\n/.test(screen), 10_000);
    pty.handleInput("exit 3\r");
    await until("the exit", () => pty.state === "exited", 10_000);
    assert.equal(pty.exitCode, 3);
    assert.match(screen, /\[process exited with code 3\]/);
    pty.handleInput("x");
    assert.deepEqual(closed, [3]);
  });

  test("Open Terminal on a workload: a VS Code terminal running in the container; its exit code on close", async () => {
    const terminal = await vscode.commands.executeCommand<vscode.Terminal>(
      "zones.terminal.open",
      workloadNode(),
    );
    assert.ok(terminal, "a terminal was opened");
    const entry = zones.terminals.terminals.find((t) => t.terminal === terminal)!;
    let screen = "";
    entry.pty.onDidWrite((text) => (screen += text));
    await until("the shell running", () => entry.pty.state === "running");
    assert.equal(terminal.name, `${outcome.result.workloadName} (${outcome.result.zoneName})`);
    terminal.sendText("echo $((6*7)) $GREETING");
    await until("the answer", () => screen.includes("42 hello from a zone"), 10_000);
    const closed = new Promise<vscode.Terminal>((resolve) =>
      vscode.window.onDidCloseTerminal((t) => t === terminal && resolve(t)),
    );
    terminal.sendText("exit 7");
    await until("the exit", () => entry.pty.state === "exited", 10_000);
    terminal.sendText("x", false);
    assert.equal((await closed).exitStatus?.code, 7);
  });

  test("Forward Port: a port inside the zone answers on the local address; Stop closes it", async () => {
    const started = startExec(other, {
      zoneId: outcome.result.zoneId,
      workloadId: outcome.result.workloadId,
      command: ["httpd", "-p", "8081", "-h", outcome.result.workspaceFolder],
    });
    started.endInput();
    assert.equal(await started.exited, 0, "busybox httpd started");
    const forward = await vscode.commands.executeCommand<
      { info: { localAddress: string; localPort: number } } | undefined
    >("zones.forward.add", zoneNode(), "8081:0");
    assert.ok(forward?.info.localPort, "the forward listens");
    const body = await until(
      "the page",
      async () => {
        try {
          const res = await fetch(`http://127.0.0.1:${forward.info.localPort}/hello.sh`);
          return res.ok ? await res.text() : undefined;
        } catch {
          return undefined;
        }
      },
      10_000,
    );
    assert.match(body, /GREETING/);
    await vscode.commands.executeCommand("zones.forward.stop", zoneNode());
    assert.deepEqual(zones.forwards.list(alias, outcome.result.zoneId), []);
    await assert.rejects(fetch(`http://127.0.0.1:${forward.info.localPort}/hello.sh`));
  });

  test("Open Dashboard samples the zone while it is open; Show Logs and Attach Console open console panels", async () => {
    const zoneId = outcome.result.zoneId;
    const sampler = zones.samplers.sampler(alias!)!;
    const dashboard = await vscode.commands.executeCommand<vscode.Disposable>(
      "zones.dashboard.open",
      zoneNode(),
    );
    assert.equal(sampler.isSampling(zoneId), true);
    await until(
      "samples recorded",
      () => (sampler.history(zoneId)?.ring.snapshot().times.length ?? 0) >= 2,
      10_000,
    );
    assert.equal(zones.dashboards.openPanels.length, 1);
    dashboard.dispose();
    assert.equal(sampler.isSampling(zoneId), false, "closing the dashboard stops sampling");
    const logs = await vscode.commands.executeCommand<vscode.Disposable>("zones.zone.showLogs", zoneNode());
    const attached = await vscode.commands.executeCommand<vscode.Disposable>(
      "zones.workload.attachConsole",
      workloadNode(),
    );
    assert.deepEqual(zones.consoles.openPanels.map((p) => p.target.kind).sort(), ["workload", "zone"]);
    logs.dispose();
    attached.dispose();
    assert.equal(zones.consoles.openPanels.length, 0);
  });

  test("devcontainer.json problems reach the Problems panel and follow edits; the file offers Launch in Zone", async () => {
    const dir = mkdtempSync(join(tmpdir(), "zones-diag-"));
    scratch.push(dir);
    mkdirSync(join(dir, ".devcontainer"));
    const file = join(dir, ".devcontainer", "devcontainer.json");
    writeFileSync(file, '{\n  "image": "busybox:latest",\n  "init": true\n}\n');
    const uri = vscode.Uri.file(file);
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(doc);
    const ignored = await until("the ignored property", () =>
      vscode.languages.getDiagnostics(uri).find((d) => d.message.startsWith("init is ignored")),
    );
    assert.equal(ignored.severity, vscode.DiagnosticSeverity.Warning);
    assert.equal(ignored.range.start.line, 2);
    assert.equal(doc.getText(ignored.range), '"init"');
    // The published schema reaches VS Code's JSON support through jsonValidation: it completes
    // customizations.styrolite's properties. (VS Code also associates the Dev Containers spec
    // schema from the network, which cannot load here; that only hides its validation errors.)
    const typed = new vscode.WorkspaceEdit();
    typed.replace(
      uri,
      new vscode.Range(0, 0, doc.lineCount, 0),
      '{\n  "image": "busybox:latest",\n  "customizations": { "styrolite": {  } }\n}\n',
    );
    assert.ok(await vscode.workspace.applyEdit(typed));
    const inside = new vscode.Position(2, doc.lineAt(2).text.indexOf("{  }") + 2);
    const completions = await until(
      "completions from the schema",
      async () => {
        const list = await vscode.commands.executeCommand<vscode.CompletionList>(
          "vscode.executeCompletionItemProvider",
          uri,
          inside,
        );
        const labels = list.items.map((i) => (typeof i.label === "string" ? i.label : i.label.label));
        return labels.some((l) => l.includes("kernel")) ? labels : undefined;
      },
      15_000,
    );
    assert.ok(
      completions.some((l) => l.includes("scratchDisk") || l.includes("network")),
      JSON.stringify(completions),
    );
    const edit = new vscode.WorkspaceEdit();
    edit.replace(
      uri,
      new vscode.Range(0, 0, doc.lineCount, 0),
      '{\n  "image": "busybox:latest",\n  "forwardPorts": [8080 8081]\n}\n',
    );
    assert.ok(await vscode.workspace.applyEdit(edit));
    // VS Code's JSON support reports the syntax error too; ours is the one with our source.
    const error = await until("the syntax error", () =>
      vscode.languages
        .getDiagnostics(uri)
        .find((d) => d.source === "Styrolite Zones" && d.severity === vscode.DiagnosticSeverity.Error),
    );
    assert.equal(error.range.start.line, 2);
    assert.ok(
      !vscode.languages.getDiagnostics(uri).some((d) => d.message.startsWith("init is ignored")),
      "the old problem is gone",
    );
    const lenses = await vscode.commands.executeCommand<vscode.CodeLens[]>(
      "vscode.executeCodeLensProvider",
      uri,
    );
    assert.ok(
      lenses.some(
        (l) =>
          l.command?.command === "zones.devcontainer.launch" && l.command.title.includes("Launch in Zone"),
      ),
    );
    await vscode.commands.executeCommand("workbench.action.revertAndCloseActiveEditor");
  });

  test("filter, sort and group by state rearrange the tree", async () => {
    const host = zones.tree.getChildren().find((n) => n.kind === "host" && n.hostId === alias)!;
    try {
      await vscode.commands.executeCommand("zones.tree.filter", "no-zone-is-called-this");
      const filtered = zones.tree.getChildren(host).map((n) => label(zones.tree.getTreeItem(n)));
      assert.deepEqual(filtered, ["No zones match “no-zone-is-called-this”"]);
      await vscode.commands.executeCommand("zones.tree.filter", outcome.result.zoneName);
      assert.deepEqual(
        zones.tree.getChildren(host).map((n) => n.kind === "zone" && n.zoneId),
        [outcome.result.zoneId],
      );
      await vscode.commands.executeCommand("zones.tree.clearFilter");
      await vscode.commands.executeCommand("zones.tree.groupByState");
      const groups = zones.tree.getChildren(host);
      assert.ok(
        groups.length >= 1 && groups.every((g) => g.kind === "group"),
        JSON.stringify(groups.map((g) => g.kind)),
      );
      const ready = groups.find((g) => label(zones.tree.getTreeItem(g)) === "Ready")!;
      const inReady = zones.tree
        .getChildren(ready)
        .find((n) => n.kind === "zone" && n.zoneId === outcome.result.zoneId)!;
      assert.equal(zones.tree.getParent(inReady), ready, "reveal() finds the zone under its group");
      assert.equal(zones.arrangement.options.groupByState, true);
    } finally {
      await vscode.commands.executeCommand("zones.tree.clearFilter");
      await vscode.commands.executeCommand("zones.tree.ungroup");
    }
    assert.ok(
      zones.tree.getChildren(host).some((n) => n.kind === "zone" && n.zoneId === outcome.result.zoneId),
    );
  });
});
