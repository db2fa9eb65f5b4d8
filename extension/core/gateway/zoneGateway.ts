import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { Server } from "ssh2";
import type { AuthContext, Connection, ServerChannel, TcpipRequestInfo } from "ssh2";
import { messageOf } from "../errors";
import type { Logger } from "../log";
import { serveSftp } from "../sftp/sftpServer";
import { GatewaySession } from "./gatewaySession";
import type { Login, SessionContext } from "./gatewaySession";
import { ShellSftpFileSystem } from "./shellSftp";
import { probeUser } from "./userProfile";
import type { ZoneRunner } from "./zoneRunner";

/** Where the gateway leads: one workload (or a zone), as `zonectl exec` would run in it. */
export interface GatewayTarget {
  /** "zone/workload" for messages. */
  readonly description: string;
  readonly zoneId: string;
  /** The devcontainer's remoteUser: who logs in when the client names nobody. */
  readonly defaultUser: string | undefined;
  /** Where sessions start (the workspace folder); else the user's home. */
  readonly workingDirectory: string | undefined;
  readonly remoteEnv: Readonly<Record<string, string>>;
  /** Processes as `user` (undefined: the workload's own user). */
  runner(user: string | undefined): ZoneRunner;
  /** A TCP connection to address:port inside the zone. */
  dial(address: string, port: number): Promise<Duplex>;
}

/** Options of {@link ZoneGateway}. */
export interface ZoneGatewayOptions {
  /** The gateway's host key (OpenSSH private key), the same every time for this zone. */
  readonly hostKey: Buffer | string;
  /** The target, resolved while the client and the gateway shake hands. */
  readonly target: Promise<GatewayTarget>;
  /**
   * `builtin`: serve sftp with the built-in server even when the image has sftp-server (for
   * an image whose own one misbehaves). Default `auto`: the image's when it has one.
   */
  readonly sftp?: "auto" | "builtin";
  /** Lines for the user: refusals and failures (the proxy's stderr, which ssh shows). */
  readonly notice: (line: string) => void;
  readonly log: Logger;
}

/** User names a client may log in as (the exec API takes a name or a uid). */
const userName = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$/;

/**
 * An SSH server for one zone workload that speaks on any byte stream (for `zonectl ssh-proxy`,
 * the ProxyCommand's stdin/stdout) and maps the protocol onto the host API: sessions onto
 * ExecuteZoneCommand, direct-tcpip onto DialNetworkSocket, sftp onto the image's sftp-server or
 * a built-in one. Authentication is "none": whoever can run the proxy can already use the
 * host's API. The SSH user name picks the user in the workload (the ssh-config sets remoteUser).
 */
export class ZoneGateway {
  readonly #options: ZoneGatewayOptions;
  readonly #server: Server;
  readonly #sessions = new Set<GatewaySession>();
  readonly #connections = new Set<Connection>();
  #lost: string | undefined;

  constructor(options: ZoneGatewayOptions) {
    // The same failure reaches the user once, whichever path (login, host watch) saw it first.
    const said = new Set<string>();
    const notice = (line: string): void => {
      if (said.has(line)) return;
      said.add(line);
      options.notice(line);
    };
    this.#options = { ...options, notice };
    this.#server = new Server({ hostKeys: [options.hostKey], ident: "StyroliteZonesGateway" }, (client) =>
      this.#accept(client),
    );
    options.target.catch(() => undefined); // reported to each login
  }

  /** Serves one SSH connection on `socket`; resolves when it closes. */
  serve(socket: Duplex): Promise<void> {
    return new Promise<void>((resolve) => {
      socket.once("close", () => resolve());
      // ssh2 reads only what a net.Socket offers; a Duplex over stdio offers the same events.
      this.#server.injectSocket(socket as unknown as Socket);
    });
  }

  /**
   * The host connection is gone for good: every session ends with `message` on its stderr and
   * exit status 255, and the client is disconnected (ssh exits instead of waiting for ever).
   */
  lose(message: string): void {
    if (this.#lost) return;
    this.#lost = message;
    // Sessions say it on their own stderr; without one (ssh -N), the proxy's stderr does.
    if (!this.#sessions.size) this.#options.notice(message);
    for (const s of this.#sessions) s.abort(message);
    // Let the sessions' last messages leave before the disconnect.
    setTimeout(() => {
      for (const c of this.#connections) c.end();
    }, 50).unref();
  }

  #accept(client: Connection): void {
    const { log } = this.#options;
    this.#connections.add(client);
    let settled: { login: Login; target: GatewayTarget | undefined } | undefined;
    client.on("error", (err) => log.debug(`ssh: client connection: ${messageOf(err)}`));
    client.on("close", () => this.#connections.delete(client));
    client.on("authentication", (ctx) => {
      void this.#authenticate(ctx).then((result) => {
        settled = result;
        ctx.accept();
      });
    });
    client.on("ready", () => {
      if (settled) this.#serveClient(client, settled.login, settled.target);
    });
  }

  /**
   * Accepts any "none" login after settling who the user is inside the workload: the target and
   * a probe of the user's home, shell and sftp-server, so sessions start without waiting.
   */
  async #authenticate(ctx: AuthContext): Promise<{ login: Login; target: GatewayTarget | undefined }> {
    let target: GatewayTarget | undefined;
    try {
      target = await this.#options.target;
      const asked = ctx.username.trim();
      if (asked && !userName.test(asked))
        throw new Error(`'${asked}' is not a user name the gateway accepts.`);
      const user = asked || target.defaultUser;
      const runner = target.runner(user);
      const probed = await probeUser(runner);
      const profile = this.#options.sftp === "builtin" ? { ...probed, sftpServer: undefined } : probed;
      return { login: { ok: true, runner, profile }, target };
    } catch (err) {
      const error = messageOf(err);
      this.#options.notice(error);
      return { login: { ok: false, error }, target };
    }
  }

  #serveClient(client: Connection, login: Login, target: GatewayTarget | undefined): void {
    const { log, notice } = this.#options;
    const context = (t: GatewayTarget | undefined): SessionContext => ({
      login,
      workingDirectory: t?.workingDirectory,
      remoteEnv: t?.remoteEnv ?? {},
      builtinSftp: (sftp) => {
        if (!login.ok) return void sftp.end();
        serveSftp(sftp, new ShellSftpFileSystem(login.runner), {
          startDirectory: t?.workingDirectory || login.profile.home || "/",
          log,
        });
      },
      notice,
      log,
    });

    client.on("session", (accept) => {
      const raw = accept();
      const session = new GatewaySession(raw, context(target));
      this.#sessions.add(session);
      raw.on("close", () => this.#sessions.delete(session));
      if (this.#lost) session.abort(this.#lost);
    });
    client.on("tcpip", (accept, reject, info) => {
      if (!target || this.#lost) return reject();
      this.#forward(target, accept, info);
    });
    client.on("openssh.streamlocal", (_accept, reject, info) => {
      reject();
      notice(
        `forwarding to the unix socket ${info.socketPath} is not supported by the zone gateway (TCP only).`,
      );
    });
    client.on("request", (_accept, reject, name, info) => {
      reject?.();
      if (name === "tcpip-forward" || (name as string) === "streamlocal-forward@openssh.com") {
        const where = "bindPort" in info ? `port ${info.bindPort}` : "a unix socket";
        notice(
          `remote forwarding (ssh -R, ${where}) is not supported by the zone gateway: nothing can listen on the host for the zone.`,
        );
      }
    });
  }

  /** direct-tcpip: 127.0.0.1 and localhost mean the zone itself. */
  #forward(target: GatewayTarget, accept: () => ServerChannel, info: TcpipRequestInfo): void {
    const { log, notice } = this.#options;
    const address = /^(localhost|127\.\d+\.\d+\.\d+|::1|0\.0\.0\.0)$/i.test(info.destIP)
      ? "127.0.0.1"
      : info.destIP;
    const channel = accept();
    target.dial(address, info.destPort).then(
      (socket) => {
        socket.on("error", (err) => {
          notice(`connection to ${info.destIP}:${info.destPort} in ${target.description}: ${messageOf(err)}`);
          channel.close();
        });
        channel.on("error", () => socket.destroy());
        channel.on("close", () => socket.destroy());
        socket.on("close", () => channel.close());
        socket.pipe(channel);
        channel.pipe(socket);
        log.debug(`ssh: forwarding to ${address}:${info.destPort}`);
      },
      (err: unknown) => {
        notice(
          `cannot connect to ${info.destIP}:${info.destPort} in ${target.description}: ${messageOf(err)}`,
        );
        channel.close();
      },
    );
  }
}
