import { spawn } from "node:child_process";
import { timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { homedir, userInfo } from "node:os";
import { Server } from "ssh2";
import type { AuthContext, Connection, PseudoTtyInfo, ServerChannel } from "ssh2";
import type { Logger } from "../../core/log";
import { defaultSocketPath } from "../../core/protect/transport";
import { parseLoopbackAddress } from "../metrics";
import { startProcess } from "../sandbox/processes";
import { ensureSshKeys, parseAuthorizedKeys } from "./keys";
import type { AllowedKey } from "./keys";
import { serveLocalSftp } from "./sftpServer";

export interface EmbeddedSshOptions {
  /** "127.0.0.1:PORT" (loopback only). */
  address: string;
  stateDir: string;
  /** The dev host's gRPC socket: the only unix socket clients may open (direct-streamlocal). */
  socketPath: string;
  /** authorized_keys-format files; without them only the generated client key may log in. */
  authorizedKeyFiles?: string[] | undefined;
  log: Logger;
}

/** A running embedded SSH server. */
export interface EmbeddedSsh {
  port: number;
  host: string;
  hostFingerprint: string;
  hostPublicKey: string;
  /** A key generated for this dev host that is always accepted (for tools and tests). */
  clientKeyPath: string;
  close(): Promise<void>;
}

/**
 * An in-process SSH server (ssh2's Server) so the extension can treat the dev host like any
 * host: public-key auth only, exec with exit codes, PTY shells, SFTP, direct-streamlocal to the
 * dev host's own socket, direct-tcpip to loopback. Sessions run as the dev host's own user.
 */
export async function startEmbeddedSsh(options: EmbeddedSshOptions): Promise<EmbeddedSsh> {
  const { host, port } = parseLoopbackAddress(options.address, "--ssh");
  const log = options.log;
  const keys = ensureSshKeys(options.stateDir);
  // Sessions are root on this machine: no key is trusted that nobody named.
  const files = options.authorizedKeyFiles ?? [];
  const allowed: AllowedKey[] = parseAuthorizedKeys(keys.clientPublicKey, keys.clientKeyPath);
  for (const file of files) {
    try {
      allowed.push(
        ...parseAuthorizedKeys(readFileSync(file, "utf8"), file, (line, reason) =>
          log.warn(`ssh: ${file}:${line}: key refused: ${reason}`),
        ),
      );
    } catch (err) {
      log.warn(`ssh: cannot read authorized keys ${file}`, err);
    }
  }
  log.info(
    `ssh: ${allowed.length} public key(s) may log in (${[keys.clientKeyPath + ".pub", ...files].join(", ")})`,
  );

  const connections = new Set<Connection>();
  const server = new Server({ hostKeys: [keys.hostPrivateKey] }, (client, info) => {
    connections.add(client);
    client.on("close", () => connections.delete(client));
    client.on("error", (err) => log.debug(`ssh: connection from ${info.ip} failed`, err));
    client.on("authentication", (ctx) => authenticate(ctx, allowed, log));
    client.on("ready", () => serveClient(client, options, log));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  const boundPort = typeof address === "object" && address ? address.port : port;
  log.info(`ssh: listening on ${host}:${boundPort}, host key ${keys.hostFingerprint}`);
  return {
    port: boundPort,
    host,
    hostFingerprint: keys.hostFingerprint,
    hostPublicKey: keys.hostPublicKey,
    clientKeyPath: keys.clientKeyPath,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const c of connections) c.end();
      }),
  };
}

function authenticate(ctx: AuthContext, allowed: AllowedKey[], log: Logger): void {
  if (ctx.method !== "publickey") return ctx.reject(["publickey"]);
  const match = allowed.find(
    (k) =>
      k.type === ctx.key.algo.replace(/^rsa-sha2-(256|512)$/, "ssh-rsa") && sameBytes(k.blob, ctx.key.data),
  );
  if (!match) {
    log.info(`ssh: refused key ${ctx.key.algo} for ${ctx.username}`);
    return ctx.reject(["publickey"]);
  }
  // Without a signature the client only asks whether the key would do; with one, it proves it.
  if (!ctx.signature || !ctx.blob) return ctx.accept();
  if (match.key.verify(ctx.blob, ctx.signature, ctx.hashAlgo) !== true) return ctx.reject(["publickey"]);
  log.info(`ssh: ${ctx.username} logged in with ${match.source}`);
  ctx.accept();
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function serveClient(client: Connection, options: EmbeddedSshOptions, log: Logger): void {
  client.on("session", (acceptSession) => {
    const session = acceptSession();
    let ptyInfo: PseudoTtyInfo | undefined;
    const env: Record<string, string> = {};
    let resize: ((cols: number, rows: number) => void) | undefined;
    let signal: ((name: string) => void) | undefined;

    session.on("pty", (accept, _reject, info) => {
      ptyInfo = info;
      accept?.();
    });
    session.on("window-change", (accept, _reject, info) => {
      resize?.(info.cols, info.rows);
      if (ptyInfo) ptyInfo = { ...ptyInfo, cols: info.cols, rows: info.rows };
      accept?.();
    });
    session.on("env", (accept, reject, info) => {
      if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(info.key)) {
        env[info.key] = info.val;
        accept?.();
      } else reject?.();
    });
    session.on("signal", (accept, _reject, info) => {
      signal?.(info.name);
      accept?.();
    });
    const start = (channel: ServerChannel, command: string | undefined): void => {
      const controls = runSession(channel, command, ptyInfo, env, log);
      resize = controls.resize;
      signal = controls.signal;
    };
    session.on("exec", (accept, _reject, info) => start(accept(), info.command));
    session.on("shell", (accept) => start(accept(), undefined));
    session.on("sftp", (accept) => serveLocalSftp(accept(), process.env["HOME"] ?? homedir(), log));
  });

  client.on("openssh.streamlocal", (accept, reject, info) => {
    // Only the dev host's own socket (also under Protect's well-known path): not a general proxy.
    if (info.socketPath !== options.socketPath && info.socketPath !== defaultSocketPath) {
      log.info(`ssh: refused direct-streamlocal to ${info.socketPath}`);
      return reject();
    }
    const socket = connect(options.socketPath);
    socket.once("connect", () => {
      const channel = accept();
      socket.pipe(channel).pipe(socket);
      channel.on("close", () => socket.destroy());
      socket.on("close", () => channel.close());
    });
    socket.once("error", () => reject());
  });

  client.on("tcpip", (accept, reject, info) => {
    if (!isLoopback(info.destIP)) {
      log.info(`ssh: refused direct-tcpip to ${info.destIP}:${info.destPort} (loopback only)`);
      return reject();
    }
    const socket = connect(info.destPort, info.destIP === "localhost" ? "127.0.0.1" : info.destIP);
    socket.once("connect", () => {
      const channel = accept();
      socket.pipe(channel).pipe(socket);
      channel.on("close", () => socket.destroy());
      socket.on("close", () => channel.close());
    });
    socket.once("error", () => reject());
  });
}

function isLoopback(ip: string): boolean {
  return ip === "localhost" || ip === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(ip);
}

/**
 * One exec or shell: the command goes to the user's shell (that is what an SSH exec is — the
 * client authenticated as a user who may run anything); output is piped without ending the
 * channel, and the channel ends only after the exit status was sent, so clients see it.
 */
function runSession(
  channel: ServerChannel,
  command: string | undefined,
  ptyInfo: PseudoTtyInfo | undefined,
  clientEnv: Record<string, string>,
  log: Logger,
): { resize: (cols: number, rows: number) => void; signal: (name: string) => void } {
  const user = userInfo();
  const shell = process.env["SHELL"] || user.shell || "/bin/sh";
  const env: Record<string, string> = {
    PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    HOME: user.homedir,
    USER: user.username,
    LOGNAME: user.username,
    SHELL: shell,
    LANG: process.env["LANG"] ?? "C.UTF-8",
    ...clientEnv,
  };
  const args = command === undefined ? ["-l"] : ["-c", command];
  log.debug(`ssh: ${command === undefined ? "shell" : "exec"}${ptyInfo ? " with pty" : ""}`);
  const finish = (code: number | null, signalName: string | null): void => {
    if (signalName) channel.exit(signalName.replace(/^SIG/, ""), false, "");
    else channel.exit(code ?? 0);
    channel.end();
  };

  if (ptyInfo) {
    env["TERM"] = ptyInfo.term || "xterm-256color";
    // The dev host's PTY process: every byte the shell wrote reaches the channel before the
    // exit status (node-pty's own wrapper drops a fast command's tail), a slow client slows
    // the shell down instead of piling output up here, and a closed channel hangs it up.
    const proc = startProcess([shell, ...args], {
      tty: { columns: ptyInfo.cols || 80, rows: ptyInfo.rows || 24 },
      stdin: true,
      env,
      cwd: user.homedir,
    });
    proc.onStdout((d) => {
      if (channel.write(d)) return;
      proc.pause();
      channel.once("drain", () => proc.resume());
    });
    channel.on("data", (d: Buffer) => proc.write(d));
    channel.on("close", () => proc.hangUp());
    void proc.exited.then((exit) => finish(exit.code ?? null, exit.signal ?? null)); // the exit status ends the channel
    return {
      resize: (cols, rows) => proc.resize(cols, rows),
      signal: (name) => proc.kill(`SIG${name}` as NodeJS.Signals),
    };
  }

  const child = spawn(shell, args, { cwd: user.homedir, env, stdio: ["pipe", "pipe", "pipe"] });
  child.stdout.pipe(channel, { end: false });
  child.stderr.pipe(channel.stderr, { end: false });
  channel.pipe(child.stdin);
  child.stdin.on("error", () => undefined); // the command may exit before reading its input
  channel.on("close", () => {
    if (child.exitCode === null) child.kill("SIGHUP");
  });
  child.on("error", (err) => {
    channel.stderr.write(`${err.message}\n`);
    finish(127, null);
  });
  child.on("close", (code, signalName) => finish(code, signalName));
  return {
    resize: () => undefined,
    signal: (name) => {
      try {
        child.kill(`SIG${name}` as NodeJS.Signals);
      } catch {
        // unknown signal or gone
      }
    },
  };
}
