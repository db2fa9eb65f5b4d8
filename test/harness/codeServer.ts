/**
 * A real VS Code for tests and `npm start`: code-server, isolated in a directory of its own
 * (HOME, XDG dirs, user data, extensions, config), bound to a loopback port behind a random
 * password. Loopback alone is no protection: any web page the user opens can reach
 * 127.0.0.1 through DNS rebinding, and code-server hands out terminals. The password is in no
 * file code-server reads (its config holds a hash) and in no command line; a one-click login
 * page (a local file, readable by the user alone) signs a browser in, the way both `npm start`'s
 * user and the e2e tier do. It runs as its own process group and `stop()` ends every process.
 */
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { codeServerInstall, isInstalled } from "../../scripts/codeServer.mjs";
import type { CodeServerInstall } from "../../scripts/codeServer.mjs";
import { spawnGroup } from "./processGroup";
import type { ProcessGroup } from "./processGroup";

const execFileAsync = promisify(execFile);

/** How to start code-server. */
export interface CodeServerOptions {
  /** An empty or reusable directory that holds everything code-server writes. */
  dir: string;
  /** Packaged extensions to install before start. */
  vsix?: readonly string[];
  /** VS Code user settings (merged over quiet defaults). */
  settings?: Record<string, unknown>;
  /** Allows extension-host test runs driven through the `payload` query parameter. */
  smokeTestDriver?: boolean;
  /** Extra environment for code-server and its extension host (e.g. SSH_AUTH_SOCK). */
  env?: Record<string, string>;
  /** A fixed port (`npm start`); a free one otherwise. */
  port?: number;
  /**
   * How long the extension host of a closed window lives on, waiting for it to reconnect
   * (code-server's default: 3 hours). Tests that open a window per spec set it short, or every
   * closed window keeps its host connection, watch stream and samplers running to the end.
   */
  reconnectionGraceSeconds?: number;
  onLine?: (line: string) => void;
}

/** The isolated directories of one code-server instance. */
export interface CodeServerDirs {
  home: string;
  userDataDir: string;
  extensionsDir: string;
  config: string;
  log: string;
  /** The one-click login page (holds the password; mode 0600). */
  loginPage: string;
}

// The workbench should open on nothing but what the test asks for: no welcome page, walkthrough,
// trust prompt, update or telemetry chatter, chat panel or extension recommendations.
const quietSettings: Record<string, unknown> = {
  "workbench.startupEditor": "none",
  "workbench.welcomePage.walkthroughs.openOnInstall": false,
  "workbench.tips.enabled": false,
  "security.workspace.trust.enabled": false,
  "telemetry.telemetryLevel": "off",
  "update.mode": "none",
  "extensions.autoCheckUpdates": false,
  "extensions.autoUpdate": false,
  "extensions.ignoreRecommendations": true,
  "chat.disableAIFeatures": true,
  "workbench.secondarySideBar.defaultVisibility": "hidden",
  "git.enabled": false,
};

export function codeServerDirs(dir: string): CodeServerDirs {
  return {
    home: join(dir, "home"),
    userDataDir: join(dir, "user-data"),
    extensionsDir: join(dir, "extensions"),
    config: join(dir, "config.yaml"),
    log: join(dir, "code-server.log"),
    loginPage: join(dir, "login.html"),
  };
}

/** The code-server install, or an error telling how to get it. */
export function requireCodeServer(): CodeServerInstall {
  if (!isInstalled()) {
    throw new Error(
      "code-server is not installed; run `node scripts/codeServer.mjs install` (or `bash .ci/setup`)",
    );
  }
  return codeServerInstall();
}

/** A free TCP port on loopback, chosen by the kernel. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function isolatedEnv(
  dirs: CodeServerDirs,
  install: CodeServerInstall,
  extra: Record<string, string> = {},
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: `${join(install.nodeDir, "bin")}:${process.env.PATH ?? "/usr/bin:/bin"}`,
    HOME: dirs.home,
    XDG_CONFIG_HOME: join(dirs.home, ".config"),
    XDG_DATA_HOME: join(dirs.home, ".local", "share"),
    XDG_CACHE_HOME: join(dirs.home, ".cache"),
    XDG_RUNTIME_DIR: join(dirs.home, ".run"),
    LANG: process.env.LANG ?? "C.UTF-8",
    ...extra,
  };
  return env;
}

/** Installs packaged extensions into the instance's extensions dir (code-server exits after). */
export async function installExtensions(
  dir: string,
  vsix: readonly string[],
  extra: Record<string, string> = {},
): Promise<void> {
  const install = requireCodeServer();
  const dirs = codeServerDirs(dir);
  await prepareDirs(dirs);
  for (const file of vsix) {
    const { stdout, stderr } = await execFileAsync(
      install.node,
      [
        install.entry,
        "--user-data-dir",
        dirs.userDataDir,
        "--extensions-dir",
        dirs.extensionsDir,
        "--install-extension",
        file,
        "--force",
      ],
      { env: isolatedEnv(dirs, install, extra), timeout: 120_000 },
    );
    if (!/successfully installed/i.test(stdout + stderr)) {
      throw new Error(
        `code-server did not install ${file}: ${(stderr || stdout).trim().split("\n").pop() ?? ""}`,
      );
    }
  }
}

async function prepareDirs(dirs: CodeServerDirs): Promise<void> {
  for (const d of [dirs.home, join(dirs.home, ".run"), join(dirs.userDataDir, "User"), dirs.extensionsDir]) {
    await mkdir(d, { recursive: true, mode: 0o700 });
  }
}

/** Writes the user settings file code-server reads at start (and watches afterwards). */
export async function writeUserSettings(dir: string, settings: Record<string, unknown>): Promise<void> {
  const dirs = codeServerDirs(dir);
  await mkdir(join(dirs.userDataDir, "User"), { recursive: true });
  await writeFile(
    join(dirs.userDataDir, "User", "settings.json"),
    JSON.stringify({ ...quietSettings, ...settings }, null, 2),
  );
}

/** A running code-server. */
export class CodeServer {
  constructor(
    readonly url: string,
    readonly port: number,
    readonly dirs: CodeServerDirs,
    readonly process: ProcessGroup,
    /** Typed into code-server's login page; printed by `npm start` beside the URL. */
    readonly password: string,
  ) {}

  /** The workbench URL opening `folder` (absolute path on this machine). */
  folderUrl(folder: string, payload?: readonly (readonly [string, string])[]): string {
    const query = new URLSearchParams({ folder });
    if (payload) query.set("payload", JSON.stringify(payload));
    return `${this.url}/?${query.toString()}`;
  }

  /**
   * Writes the one-click login page and returns its file:// URL: opened in a browser, it posts
   * the password to code-server's login form, which sets the session cookie and redirects to
   * `target` (a path on this server with its query, e.g. a folderUrl). The page never leaves
   * this machine; the session cookie is named for this port (--cookie-suffix).
   */
  async writeLoginPage(target = "/"): Promise<string> {
    const to = new URL(target, this.url);
    // code-server redirects to `to` (a path) and keeps the login request's other query
    // parameters, so the target's query rides on the form's action URL.
    const action = new URL("/login", this.url);
    to.searchParams.forEach((value, key) => action.searchParams.append(key, value));
    action.searchParams.set("to", to.pathname);
    const field = (name: string, value: string): string =>
      `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`;
    const page = [
      "<!doctype html>",
      '<meta charset="utf-8">',
      "<title>Styrolite Zones: signing in to code-server…</title>",
      `<form method="post" action="${escapeHtml(action.href)}">`,
      field("password", this.password),
      field("base", "/"),
      field("href", action.href),
      "<noscript><button>Sign in to code-server</button></noscript>",
      "</form>",
      "<script>document.forms[0].submit();</script>",
      "",
    ].join("\n");
    await writeFile(this.dirs.loginPage, page, { mode: 0o600 });
    return pathToFileURL(this.dirs.loginPage).href;
  }

  /** A `vscode-remote://` URI for a local path, as the extension host test payload wants it. */
  remoteUri(path: string): string {
    return `vscode-remote://127.0.0.1:${this.port}${path}`;
  }

  stop(): Promise<void> {
    return this.process.stop();
  }
}

/** Starts code-server and resolves once `/healthz` answers. */
export async function startCodeServer(options: CodeServerOptions): Promise<CodeServer> {
  const install = requireCodeServer();
  const dirs = codeServerDirs(options.dir);
  await prepareDirs(dirs);
  if (options.vsix?.length) await installExtensions(options.dir, options.vsix, options.env);
  await writeUserSettings(options.dir, options.settings ?? {});
  const port = options.port ?? (await freePort());
  const password = randomBytes(18).toString("base64url");
  // code-server's "legacy" SHA-256 form: checking a cookie is a compare, not an argon2 run per
  // request, and a 144-bit random password needs no slow hash.
  const hashed = createHash("sha256").update(password).digest("hex");
  await writeFile(
    dirs.config,
    `bind-addr: 127.0.0.1:${port}\nauth: password\nhashed-password: ${hashed}\ncert: false\n`,
    { mode: 0o600 },
  );
  const args = [
    install.entry,
    "--auth",
    "password",
    // Cookies are per host, not per port: two code-servers on 127.0.0.1 keep their own sessions.
    "--cookie-suffix",
    String(port),
    "--bind-addr",
    `127.0.0.1:${port}`,
    "--user-data-dir",
    dirs.userDataDir,
    "--extensions-dir",
    dirs.extensionsDir,
    "--config",
    dirs.config,
    "--disable-telemetry",
    "--disable-update-check",
    "--disable-workspace-trust",
    "--disable-getting-started-override",
    ...(options.smokeTestDriver ? ["--vscode-option", "enable-smoke-test-driver"] : []),
    ...(options.reconnectionGraceSeconds !== undefined
      ? ["--reconnection-grace-time", String(options.reconnectionGraceSeconds)]
      : []),
  ];
  const group = spawnGroup(install.node, args, {
    label: "code-server",
    env: isolatedEnv(dirs, install, options.env),
    cwd: dirs.home,
    logFile: dirs.log,
    ...(options.onLine ? { onLine: options.onLine } : {}),
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHealth(url, group);
  } catch (err) {
    await group.stop();
    throw err;
  }
  return new CodeServer(url, port, dirs, group, password);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function waitForHealth(url: string, group: ProcessGroup, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void group.exited.then(() => (exited = true)); // a crash at start should fail fast, not time out
  while (Date.now() < deadline) {
    if (exited) throw new Error(`code-server exited during start; see its log`);
    try {
      const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`code-server did not answer ${url}/healthz within ${timeoutMs / 1000} s`);
}
