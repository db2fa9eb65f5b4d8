/**
 * The e2e proof of "work inside the zone": a VS Code (code-server, from an image built of the
 * installed one) launched into a zone with `zonectl up`, its port reached from here with
 * OpenSSH's `ssh -L` through the zone gateway (`zonectl ssh-config`), opened in Chromium. The
 * Explorer shows the zone's workspace, a file saved in its editor is what `zonectl exec … cat`
 * prints, and its integrated terminal runs inside the zone. Remote - SSH does the same for a
 * desktop VS Code; code-server cannot run it, so this is the equivalent a test can drive.
 */
import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import type { ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { eventually, openWorkbench, runCommand, screenshot } from "../../harness/browser";
import { codeServerImage } from "../../harness/codeServerImage";
import { startRegistry } from "../../harness/registry";
import { freePort } from "../../harness/sshd";
import type { UiSpec } from "./specs";
import { terminalScreen, typeInTerminal } from "./workbench";

const root = join(import.meta.dirname, "..", "..", "..");
const inZone = "/workspaces/inzone";

/** The in-zone VS Code's user settings: quiet, and a terminal whose rows are DOM text. */
const zoneSettings = {
  "terminal.integrated.gpuAcceleration": "off",
  "workbench.startupEditor": "none",
  "chat.disableAIFeatures": true,
  "workbench.secondarySideBar.defaultVisibility": "hidden",
  "security.workspace.trust.enabled": false,
};

/** Runs the packaged zonectl to its end. */
function zonectl(
  args: string[],
  env: Record<string, string>,
  timeoutMs = 300_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(root, "dist", "zonectl.js"), ...args], {
      env: { ...process.env, SSH_AUTH_SOCK: "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The Explorer's file names, as the user sees them. */
async function explorerNames(page: Page): Promise<string[]> {
  return (await page.locator(".explorer-folders-view .monaco-list-row .label-name").allInnerTexts()).map(
    (t) => t.trim(),
  );
}

export const codeServerInZoneSpec: UiSpec = {
  name: "a VS Code inside a zone, reached with ssh -L through the zone gateway",
  async run({ page, environment, timings }) {
    const work = await mkdtemp(join(tmpdir(), "zones-inzone-"));
    const registry = await startRegistry();
    let forward: ChildProcess | undefined;
    // zonectl reaches the dev host on its socket: earlier specs rotate the e2e sshd's host key.
    // The path under test is OpenSSH → ProxyCommand (the gateway) → the host API.
    const env: Record<string, string> = {
      HOME: join(work, "home"),
      ZONECTL_HOST: `unix://${environment.devHost.socketPath}`,
      ZONECTL_WORKSPACE_ROOT: environment.workspaceRoot,
    };
    const project = join(work, "inzone");
    try {
      let started = Date.now();
      const image = await codeServerImage((line) => console.log(`e2e: ${line}`));
      const reference = await registry.push(image.layoutDir, "test/code-server", "1", { from: image.tag });
      timings.codeServerImageMs = Date.now() - started;

      await mkdir(join(project, ".devcontainer"), { recursive: true });
      await mkdir(env.HOME!, { recursive: true });
      await writeFile(join(project, "hello.txt"), "hello from this machine\n");
      await writeFile(join(project, "README.md"), "# In a zone\n");
      // code-server as the zone's own, on the zone's loopback, behind a password as the harness's
      // own code-server is (any web page here could reach a forwarded port); its SHA-256 form
      // travels in the workload's environment, the password only to the login form.
      const password = randomBytes(18).toString("base64url");
      const serve = [
        image.node,
        image.entry,
        "--bind-addr 127.0.0.1:8080 --auth password --cookie-suffix inzone",
        "--disable-telemetry --disable-update-check",
        "--disable-workspace-trust --user-data-dir /root/cs-data --extensions-dir /root/cs-ext",
        inZone,
      ].join(" ");
      await writeFile(
        join(project, ".devcontainer", "devcontainer.json"),
        JSON.stringify({
          name: "inzone",
          image: reference,
          workspaceFolder: inZone,
          hostRequirements: { cpus: 1, memory: "1gb" },
          containerEnv: {
            GREETING: "inside-the-zone",
            HASHED_PASSWORD: createHash("sha256").update(password).digest("hex"),
          },
          // Detached, with no stdio of the hook kept open (busybox has no nohup; no TTY, so no
          // SIGHUP). The terminal draws with the DOM renderer, so the spec can read it as text.
          postStartCommand: [
            "mkdir -p /root/cs-data/User",
            `printf '%s' '${JSON.stringify(zoneSettings)}' > /root/cs-data/User/settings.json`,
            `setsid ${serve} < /dev/null > /tmp/code-server.log 2>&1 &`,
          ].join(" && "),
        }),
      );
      started = Date.now();
      const up = await zonectl(["--json", "up", project], env, 600_000);
      assert.equal(up.code, 0, up.stderr);
      timings.codeServerZoneUpMs = Date.now() - started;
      const zone = (JSON.parse(up.stdout.slice(up.stdout.indexOf("{"))) as { zoneName: string }).zoneName;

      const written = await zonectl(["ssh-config", "--write", zone], env);
      assert.equal(written.code, 0, written.stderr);
      const alias = written.stdout.trim();
      const port = await freePort();
      forward = spawn(
        "ssh",
        [
          "-F",
          join(env.HOME!, ".ssh", "config"),
          "-N",
          "-o",
          "ExitOnForwardFailure=yes",
          "-L",
          `${port}:127.0.0.1:8080`,
          alias,
        ],
        { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] },
      );
      let sshErrors = "";
      forward.stderr?.setEncoding("utf8").on("data", (d: string) => (sshErrors += d));
      const url = `http://127.0.0.1:${port}/?folder=${encodeURIComponent(inZone)}`;
      await eventually(
        "code-server in the zone answering through ssh -L",
        async () =>
          (await fetch(`http://127.0.0.1:${port}/healthz`).then(
            (r) => r.ok,
            () => false,
          )) || undefined,
        120_000,
        500,
      ).catch(async (err: unknown) => {
        const log = await zonectl(["exec", zone, "--", "cat", "/tmp/code-server.log"], env);
        throw new Error(`${String(err)}\nssh: ${sshErrors}\ncode-server log: ${log.stdout.slice(-2000)}`);
      });
      started = Date.now();
      await page.goto(`http://127.0.0.1:${port}/login`);
      await page.locator("input[name=password]").fill(password);
      await page.locator("input[name=password]").press("Enter");
      await page.waitForURL((u) => !u.pathname.startsWith("/login"));
      await openWorkbench(page, url, 120_000);
      timings.zoneWorkbenchReadyMs = Date.now() - started;

      await eventually(
        "the zone's workspace in the Explorer",
        async () => {
          const names = await explorerNames(page);
          return (
            names.includes("hello.txt") && names.includes("README.md") && names.includes(".devcontainer")
          );
        },
        60_000,
      );
      await screenshot(page, "zone-code-server-explorer");

      await runCommand(page, "Go to File...");
      await page.locator(".quick-input-widget input.input").fill("hello.txt");
      await page.locator(".quick-input-list .monaco-list-row", { hasText: "hello.txt" }).first().waitFor();
      await page.keyboard.press("Enter");
      const editor = page.locator(".editor-instance .monaco-editor .view-lines").first();
      await editor.waitFor({ state: "visible" });
      await editor.click();
      await page.keyboard.press("Control+End");
      await page.keyboard.type("edited inside the zone");
      await page.keyboard.press("Control+S");
      await eventually(
        "the saved file in the zone",
        async () =>
          (await zonectl(["exec", zone, "--", "cat", `${inZone}/hello.txt`], env)).stdout ===
          "hello from this machine\nedited inside the zone",
        30_000,
        500,
      );

      await runCommand(page, "Terminal: Create New Terminal");
      await eventually(
        "a shell prompt",
        async () => /[#$] *$/m.test((await terminalScreen(page)).trimEnd()),
        30_000,
      );
      await typeInTerminal(page, 'echo "$GREETING:$(cat /etc/motd):$PWD"\n');
      await eventually(
        "the terminal running in the zone",
        async () => (await terminalScreen(page)).includes(`inside-the-zone:styrolite test image:${inZone}`),
        30_000,
      );
      await screenshot(page, "zone-code-server-terminal");
      await zonectl(["down", project], env);
    } finally {
      forward?.kill("SIGTERM");
      await registry.stop();
      await rm(work, { recursive: true, force: true });
    }
  },
};
