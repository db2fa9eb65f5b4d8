import { randomBytes } from "node:crypto";
import type { PseudoTtyInfo, ServerChannel, Session, SFTPWrapper } from "ssh2";
import { messageOf } from "../errors";
import type { Logger } from "../log";
import type { UserProfile } from "./userProfile";
import type { RunningProcess, ZoneRunner } from "./zoneRunner";
import { runToEnd } from "./zoneRunner";

/** What a session channel needs from its gateway. */
export interface SessionContext {
  /** Where and as whom processes run, and what sshd would know about that user (or why not). */
  readonly login: Login;
  /** The folder sessions start in (the workspace folder), when there is one. */
  readonly workingDirectory: string | undefined;
  /** remoteEnv of the devcontainer. */
  readonly remoteEnv: Readonly<Record<string, string>>;
  /** Serves the built-in SFTP server (for images without sftp-server). */
  readonly builtinSftp: (sftp: SFTPWrapper) => void;
  /** A refusal or problem the user should read (the proxy's stderr). */
  readonly notice: (line: string) => void;
  readonly log: Logger;
}

/** The login user, settled before the client is let in. */
export type Login =
  | { readonly ok: true; readonly runner: ZoneRunner; readonly profile: UserProfile }
  | { readonly ok: false; readonly error: string };

/** Marks a session's processes, so a `signal` request can find the one to signal. */
export const sessionMarker = "STYROLITE_SSH_SESSION";

/** Signals an SSH client may send, with their Linux numbers (for the exit-signal of a death we caused). */
const signals: Readonly<Record<string, number>> = {
  HUP: 1,
  INT: 2,
  QUIT: 3,
  ILL: 4,
  ABRT: 6,
  FPE: 8,
  KILL: 9,
  USR1: 10,
  SEGV: 11,
  USR2: 12,
  PIPE: 13,
  ALRM: 14,
  TERM: 15,
};

/**
 * Sends signal $2 to the session marked $1: the process carrying the marker whose parent does
 * not (the one the session started). Both arrive as arguments, never as script text.
 */
const signalScript = [
  "for d in /proc/[0-9]*; do",
  "  tr '\\0' '\\n' 2>/dev/null < \"$d/environ\" | grep -qxF \"$1\" || continue",
  "  pp=$(sed -n 's/^PPid:[[:space:]]*//p' \"$d/status\" 2>/dev/null)",
  "  tr '\\0' '\\n' 2>/dev/null < \"/proc/$pp/environ\" | grep -qxF \"$1\" && continue",
  '  kill -s "$2" "$(basename "$d")" 2>/dev/null',
  "done",
].join("\n");

/** Names the client may set with `env` (identity variables stay what the workload says). */
const envName = /^[A-Za-z_][A-Za-z0-9_]*$/;
const protectedEnv = new Set(["HOME", "USER", "LOGNAME", "SHELL", sessionMarker]);

/**
 * One SSH session channel mapped onto ExecuteZoneCommand: `pty-req` and `window-change` become
 * the process's terminal size, `env` its environment, `exec`/`shell` the process (through the
 * user's login shell, in the workspace folder, with remoteEnv), `signal` a kill inside the
 * workload, and the exit code `exit-status` (or `exit-signal` when a signal we delivered
 * killed it). X11 and agent forwarding and other subsystems are refused with a reason.
 */
export class GatewaySession {
  readonly #ctx: SessionContext;
  readonly #id = randomBytes(8).toString("hex");
  readonly #env: Record<string, string> = {};
  #pty: PseudoTtyInfo | undefined;
  #exec: RunningProcess | undefined;
  #channel: ServerChannel | undefined;
  #signalled: string | undefined;
  #ended = false;

  constructor(session: Session, ctx: SessionContext) {
    this.#ctx = ctx;
    session.on("pty", (accept, _reject, info) => {
      this.#pty = info;
      accept?.();
    });
    session.on("window-change", (accept, _reject, info) => {
      if (this.#pty) this.#pty = { ...this.#pty, cols: info.cols, rows: info.rows };
      if (info.cols > 0 && info.rows > 0) this.#exec?.resize({ rows: info.rows, columns: info.cols });
      accept?.();
    });
    session.on("env", (accept, reject, info) => {
      if (envName.test(info.key) && !protectedEnv.has(info.key) && !info.val.includes("\0")) {
        this.#env[info.key] = info.val;
        accept?.();
      } else reject?.();
    });
    session.on("signal", (accept, reject, info) => {
      const name = info.name.replace(/^SIG/, "");
      if (signals[name] === undefined || !this.#exec) return reject?.();
      accept?.();
      this.#signal(name);
    });
    session.on("x11", (_accept, reject) => {
      reject?.();
      ctx.notice("X11 forwarding is not supported by the zone gateway; the session runs without it.");
    });
    session.on("auth-agent", (_accept, reject) => {
      reject?.();
      ctx.notice(
        "agent forwarding is not supported by the zone gateway: keys on this machine stay here; the session runs without them.",
      );
    });
    session.on("exec", (accept, _reject, info) => void this.#start(accept(), info.command));
    session.on("shell", (accept) => void this.#start(accept(), undefined));
    // ssh2 hands a raw channel to "subsystem" only when nobody listens for "sftp": the image's
    // own sftp-server needs the raw bytes, the built-in server ssh2's SFTP parser.
    const imageSftp = ctx.login.ok ? ctx.login.profile.sftpServer : undefined;
    if (!imageSftp) session.on("sftp", (accept) => ctx.builtinSftp(accept()));
    session.on("subsystem", (accept, reject, info) => {
      if (info.name === "sftp" && imageSftp) return void this.#run(accept(), [imageSftp], false);
      reject?.();
      ctx.notice(`subsystem '${info.name}' is not available through the zone gateway (only sftp).`);
    });
  }

  /** Ends the session now with a message on its stderr and exit status 255 (the host is gone). */
  abort(message: string): void {
    const channel = this.#channel;
    if (!channel || this.#ended) return;
    this.#ended = true;
    this.#exec?.cancel();
    channel.stderr.write(`\r\nzonectl ssh-proxy: ${message}\r\n`);
    channel.exit(255);
    channel.end();
  }

  #start(channel: ServerChannel, command: string | undefined): Promise<void> {
    const login = this.#ctx.login;
    const shell = login.ok ? login.profile.shell : "/bin/sh";
    return this.#run(channel, command === undefined ? [shell, "-l"] : [shell, "-c", command], true);
  }

  /** Runs argv for this session's channel; `asLogin` adds the login environment and the PTY. */
  async #run(channel: ServerChannel, argv: string[], asLogin: boolean): Promise<void> {
    this.#channel = channel;
    const ctx = this.#ctx;
    if (!ctx.login.ok) return this.abort(ctx.login.error);
    const { runner, profile } = ctx.login;
    const pty = asLogin ? this.#pty : undefined;
    const env: Record<string, string> = {
      ...this.#env,
      ...(profile.home ? { HOME: profile.home } : {}),
      ...(profile.name ? { USER: profile.name, LOGNAME: profile.name } : {}),
      SHELL: profile.shell,
      ...(asLogin ? ctx.remoteEnv : {}),
      ...(pty ? { TERM: pty.term || "xterm-256color" } : {}),
      [sessionMarker]: this.#id,
    };
    ctx.log.debug(`ssh: ${argv[0]}${pty ? " with pty" : ""} as ${runner.description}`);
    const out = new ChannelWriter(channel);
    const err = new ChannelWriter(channel.stderr);
    const cwd = ctx.workingDirectory || profile.home;
    const exec = runner.start(argv, {
      env,
      ...(cwd ? { workingDirectory: cwd } : {}),
      ...(pty ? { tty: { rows: pty.rows || 24, columns: pty.cols || 80 } } : {}),
      onStdout: (d) => out.write(d),
      onStderr: (d) => err.write(d),
    });
    this.#exec = exec;
    pipeInput(channel, exec);
    channel.on("close", () => {
      if (!this.#ended) exec.cancel(); // the client went away: so does the process (SIGHUP)
      this.#ended = true;
    });
    let code: number;
    try {
      code = await exec.exited;
    } catch (error) {
      return this.abort(messageOf(error));
    }
    if (this.#ended) return;
    this.#ended = true;
    await Promise.all([out.flushed(), err.flushed()]);
    const signal = this.#signalled;
    if (signal && code === 128 + (signals[signal] ?? 0)) channel.exit(signal, false, "");
    else channel.exit(code);
    channel.end();
  }

  #signal(name: string): void {
    this.#signalled = name;
    const login = this.#ctx.login;
    if (!login.ok) return;
    void runToEnd(login.runner, [
      "/bin/sh",
      "-c",
      signalScript,
      "signal",
      `${sessionMarker}=${this.#id}`,
      name,
    ]).catch((err: unknown) => this.#ctx.log.debug(`ssh: signal ${name} failed: ${messageOf(err)}`)); // best effort, as kill(2) on a gone process
  }
}

/** Client input into the process's stdin, no faster than the transport takes it; EOF closes stdin. */
function pipeInput(channel: ServerChannel, exec: RunningProcess): void {
  let waiting = false;
  channel.on("data", (data: Buffer) => {
    exec.write(data);
    if (waiting) return;
    waiting = true;
    channel.pause();
    void exec.drained().then(() => {
      waiting = false;
      channel.resume();
    }); // resumes reading once the queued input was handed on
  });
  channel.on("end", () => exec.endInput());
}

/** Writes to a channel stream, reporting back-pressure and when everything written has left. */
export class ChannelWriter {
  readonly #stream: NodeJS.WritableStream & { destroyed?: boolean };
  #last: Promise<void> = Promise.resolve();

  constructor(stream: NodeJS.WritableStream) {
    this.#stream = stream;
  }

  /** Undefined when the stream takes more at once; otherwise a promise for when it does. */
  write(data: Uint8Array): Promise<void> | undefined {
    if (this.#stream.destroyed) return undefined;
    let done!: () => void;
    this.#last = new Promise<void>((resolve) => (done = resolve));
    const more = this.#stream.write(data, () => done());
    if (more) return undefined;
    return new Promise<void>((resolve) => {
      const go = (): void => {
        this.#stream.off("drain", go);
        this.#stream.off("close", go);
        resolve();
      };
      this.#stream.on("drain", go);
      this.#stream.on("close", go);
    });
  }

  /** Resolves once the last chunk was handed to the SSH connection (within the client's window). */
  flushed(): Promise<void> {
    return this.#last;
  }
}
