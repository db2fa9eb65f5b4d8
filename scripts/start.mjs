// `npm start`, the main job: builds and packages the extension, starts the local dev host with
// its embedded SSH server on loopback, seeds it with a busybox image (built here from Debian's
// busybox-static: no registry is needed), starts a real VS Code (code-server) with the packaged
// extension installed and the dev host preconfigured as an SSH host (strict known_hosts, the
// dev host's generated client key), opens a copy of the sample project (it has a
// devcontainer.json), and prints the URL. Ctrl-C stops everything and removes the temp dir.
//
//   npm start [-- --port 8080] [--unix] [--vm] [--keep]
//
//   --port N  bind code-server to 127.0.0.1:N (default 8080, or a free port when taken)
//   --unix    reach the dev host through its unix socket instead of SSH
//   --ssh     the default: reach the dev host over SSH, the way a real host is reached
//   --vm      each zone a QEMU virtual machine with its own kernel (zonectl dev-host --sandbox vm;
//             KVM when it works here, else TCG emulation: a zone then takes tens of seconds to boot)
//   --keep    keep the temporary directory (logs, dev host state) after Ctrl-C
//
// code-server listens on loopback behind a random password, printed with the URL, and a
// one-click login page (a local file) signs the browser in. Loopback alone would not do: any
// web page can reach 127.0.0.1 through DNS rebinding, and code-server hands out terminals. From
// another machine, forward the port (`ssh -L 8080:127.0.0.1:8080 this-machine`) and type the
// password, rather than binding it wider.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { tsImport } from "tsx/esm/api";
import { install } from "./codeServer.mjs";

const root = new URL("..", import.meta.url).pathname;
const usage = "usage: npm start [-- --port N] [--unix | --ssh] [--vm] [--keep]";

function fail(message) {
  console.error(`npm start: ${message}`);
  process.exit(1);
}

function portFree(port) {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** `SHA256:…` of an OpenSSH public key line, as ssh-keygen -l prints it. */
function fingerprint(publicKeyLine) {
  const blob = Buffer.from(publicKeyLine.trim().split(/\s+/)[1] ?? "", "base64");
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

let options;
try {
  ({ values: options } = parseArgs({
    args: process.argv.slice(2),
    options: {
      port: { type: "string" },
      ssh: { type: "boolean" },
      unix: { type: "boolean" },
      vm: { type: "boolean" },
      keep: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  }));
} catch (err) {
  fail(`${err instanceof Error ? err.message : String(err)}\n${usage}`);
}
if (options.help) {
  console.log(usage);
  process.exit(0);
}
if (options.ssh && options.unix) fail(`--ssh and --unix exclude each other\n${usage}`);
const requestedPort = options.port === undefined ? undefined : Number(options.port);
if (
  requestedPort !== undefined &&
  !(Number.isInteger(requestedPort) && requestedPort > 0 && requestedPort < 65536)
)
  fail(`--port: '${options.port}' is not a port number`);

const started = Date.now();
const step = (label, cmd, args) => {
  const t = Date.now();
  const result = spawnSync(cmd, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
  if (result.status !== 0)
    fail(`${label} failed (exit ${result.status ?? result.signal}):\n${result.stdout}${result.stderr}`);
  console.log(`npm start: ${label} in ${((Date.now() - t) / 1000).toFixed(1)} s`);
};

step("build + package", "npm", ["run", "--silent", "package"]);
install();

const { startDevHost } = await tsImport("../test/harness/devHost.ts", import.meta.url);
const { startCodeServer, freePort } = await tsImport("../test/harness/codeServer.ts", import.meta.url);
const { seedImage, sampleImage } = await tsImport("../test/e2e/environment.ts", import.meta.url);

const work = await mkdtemp(join(tmpdir(), "zones-start-"));
/** Undo steps, run last-first on Ctrl-C or on a failed start. */
const undo = [];
let stopping;
function stopAll(code) {
  stopping ??= (async () => {
    console.log("\nnpm start: stopping…");
    for (const fn of undo.reverse()) {
      try {
        await fn();
      } catch (err) {
        console.error(`npm start: while stopping: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    if (options.keep) console.log(`npm start: kept ${work}`);
    else await rm(work, { recursive: true, force: true });
    console.log("npm start: everything stopped");
    process.exit(code);
  })();
  return stopping;
}
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => void stopAll(0));

try {
  const workspace = join(work, "sample");
  await cp(join(root, "test", "e2e", "sampleProject"), workspace, { recursive: true });
  const stateDir = join(work, "devhost");
  await mkdir(stateDir, { recursive: true });
  const viaSsh = !options.unix;
  const sshPort = viaSsh ? await freePort() : undefined;
  // Only the key generated for this run may log in: not whatever is in ~/.ssh/authorized_keys.
  const authorizedKeys = join(work, "authorized_keys");
  await writeFile(authorizedKeys, "");
  // Prometheus text on loopback, like protect-daemon's :3035: the host dashboard graphs it.
  const prometheusPort = await freePort();
  const devHost = await startDevHost({
    stateDir,
    args: [
      "--prometheus",
      `127.0.0.1:${prometheusPort}`,
      ...(viaSsh ? ["--ssh", `127.0.0.1:${sshPort}`, "--authorized-keys", authorizedKeys] : []),
      ...(options.vm ? ["--sandbox", "vm"] : []),
    ],
  });
  undo.push(() => devHost.stop());
  const digest = await seedImage(devHost.socketPath, join(work, "image"));
  console.log(`npm start: dev host has ${sampleImage} (${digest.slice(0, 19)}…, busybox-static)`);

  const settings = {
    "zones.launch.workspaceRoot": join(work, "host-workspaces"),
    "zones.metrics.prometheusPort": prometheusPort,
  };
  let hostLine = `unix://${devHost.socketPath}`;
  if (viaSsh) {
    const hostKey = (await readFile(join(stateDir, "ssh", "ssh_host_ed25519_key.pub"), "utf8")).trim();
    const knownHosts = join(work, "known_hosts");
    await writeFile(knownHosts, `[127.0.0.1]:${sshPort} ${hostKey}\n`, { mode: 0o600 });
    const sshConfig = join(work, "ssh_config");
    const clientKey = join(stateDir, "ssh", "client_ed25519_key");
    await writeFile(
      sshConfig,
      [
        "Host devhost",
        "  HostName 127.0.0.1",
        `  Port ${sshPort}`,
        `  User ${userInfo().username}`,
        `  IdentityFile ${clientKey}`,
        "  IdentitiesOnly yes",
        `  UserKnownHostsFile ${knownHosts}`,
        "  StrictHostKeyChecking yes",
        "",
      ].join("\n"),
      { mode: 0o600 },
    );
    Object.assign(settings, {
      "zones.hosts": ["devhost"],
      "zones.ssh.configFile": sshConfig,
      "zones.daemonSocket": devHost.socketPath,
    });
    hostLine = `devhost — ssh 127.0.0.1:${sshPort}, host key ${fingerprint(hostKey)}\n             client key ${clientKey}`;
  } else {
    Object.assign(settings, { "zones.hosts": [`unix://${devHost.socketPath}`] });
  }
  const port = requestedPort ?? ((await portFree(8080)) ? 8080 : await freePort());
  const vsix = join(root, "dist", "styrolite-zones.vsix");
  const codeServer = await startCodeServer({ dir: join(work, "code-server"), vsix: [vsix], settings, port });
  undo.push(() => codeServer.stop());
  const size = (await stat(vsix)).size;
  const loginPage = await codeServer.writeLoginPage(codeServer.folderUrl(workspace));
  console.log(`
Styrolite Zones is running (ready in ${((Date.now() - started) / 1000).toFixed(0)} s; .vsix ${(size / 1024).toFixed(0)} KiB)

  Open:      ${loginPage}
             (one click: signs in to code-server and opens the sample project)
  or:        ${codeServer.folderUrl(workspace)}
  Password:  ${codeServer.password}
  Dev host:  ${hostLine}
             socket ${devHost.socketPath}
             metrics http://127.0.0.1:${prometheusPort}/metrics/resource
  Zones:     ${options.vm ? "QEMU virtual machines, each with its own kernel (--vm)" : "namespaces sharing this machine's kernel (npm start -- --vm: virtual machines)"}
  Logs:      ${work}

In the browser: the Zones view (activity bar) shows the dev host; launch the sample project with
the rocket in its title bar (or "Zones: Launch from devcontainer.json…"), then open a terminal or
the dashboard from the zone's context menu. Zones on the dev host share this machine's kernel —
for development, not isolation. Press Ctrl-C here to stop everything.
`);
} catch (err) {
  console.error(`npm start: ${err instanceof Error ? err.message : String(err)}`);
  await stopAll(1);
}
