// `npm start`, the main job: builds and packages the extension, starts the local dev host,
// starts a real VS Code (code-server) with the packaged extension installed and the dev host
// preconfigured, opens a copy of the sample project (it has a devcontainer.json), and prints the
// URL. Ctrl-C stops everything it started and removes its temporary directory.
//
//   npm start [-- --port 8080] [--ssh] [--keep]
//
//   --port N  bind code-server to 127.0.0.1:N (default 8080, or a free port when taken)
//   --ssh     reach the dev host through a loopback OpenSSH sshd (the way a real host is
//             reached) instead of its unix socket
//   --keep    keep the temporary directory (logs, dev host state) after Ctrl-C
//
// code-server listens on loopback without a password: from another machine, forward the port
// (`ssh -L 8080:127.0.0.1:8080 this-machine`) rather than binding it wider.
import { spawnSync } from "node:child_process";
import { cp, mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { tsImport } from "tsx/esm/api";
import { install } from "./codeServer.mjs";

const root = new URL("..", import.meta.url).pathname;

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

let options;
try {
  ({ values: options } = parseArgs({
    args: process.argv.slice(2),
    options: { port: { type: "string" }, ssh: { type: "boolean" }, keep: { type: "boolean" }, help: { type: "boolean", short: "h" } },
    strict: true,
  }));
} catch (err) {
  fail(`${err instanceof Error ? err.message : String(err)}\nusage: npm start [-- --port N] [--ssh] [--keep]`);
}
if (options.help) {
  console.log("usage: npm start [-- --port N] [--ssh] [--keep]");
  process.exit(0);
}
const requestedPort = options.port === undefined ? undefined : Number(options.port);
if (requestedPort !== undefined && !(Number.isInteger(requestedPort) && requestedPort > 0 && requestedPort < 65536)) fail(`--port: '${options.port}' is not a port number`);

const started = Date.now();
const step = (label, cmd, args) => {
  const t = Date.now();
  const result = spawnSync(cmd, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
  if (result.status !== 0) fail(`${label} failed (exit ${result.status ?? result.signal}):\n${result.stdout}${result.stderr}`);
  console.log(`npm start: ${label} in ${((Date.now() - t) / 1000).toFixed(1)} s`);
};

step("build + package", "npm", ["run", "--silent", "package"]);
install();

const { startDevHost } = await tsImport("../test/harness/devHost.ts", import.meta.url);
const { startSshd } = await tsImport("../test/harness/sshd.ts", import.meta.url);
const { startCodeServer, freePort } = await tsImport("../test/harness/codeServer.ts", import.meta.url);

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
  await mkdir(join(work, "devhost"), { recursive: true });
  const devHost = await startDevHost({ stateDir: join(work, "devhost") });
  undo.push(() => devHost.stop());
  let settings = { "zones.hosts": [`unix://${devHost.socketPath}`] };
  if (options.ssh) {
    const sshd = await startSshd({ alias: "devhost" });
    undo.push(() => sshd.stop());
    settings = { "zones.hosts": [sshd.alias], "zones.ssh.configFile": sshd.sshConfigPath, "zones.daemonSocket": devHost.socketPath };
  }
  const port = requestedPort ?? ((await portFree(8080)) ? 8080 : await freePort());
  const vsix = join(root, "dist", "styrolite-zones.vsix");
  const codeServer = await startCodeServer({ dir: join(work, "code-server"), vsix: [vsix], settings, port });
  undo.push(() => codeServer.stop());
  const size = (await stat(vsix)).size;
  console.log(`
Styrolite Zones is running (ready in ${((Date.now() - started) / 1000).toFixed(0)} s; .vsix ${(size / 1024).toFixed(0)} KiB)

  Open:      ${codeServer.folderUrl(workspace)}
  Dev host:  ${devHost.socketPath}${options.ssh ? ` (reached over ssh as '${settings["zones.hosts"][0]}')` : ""}
  Logs:      ${work}

In the browser: the Zones view (activity bar) shows the dev host; its zones share this
machine's kernel — for development, not isolation. Press Ctrl-C here to stop everything.
`);
} catch (err) {
  console.error(`npm start: ${err instanceof Error ? err.message : String(err)}`);
  await stopAll(1);
}
