/**
 * ProxyCommand: the SSH connection runs over the stdin/stdout of a local command from the
 * user's ssh config (`cloudflared access ssh --hostname %h`, `aws ssm start-session …`,
 * `nc -X connect -x proxy:8080 %h %p`), as OpenSSH does it: `sh -c "exec <command>"` with the
 * tokens %h %p %r %n %% expanded. The command itself is the user's own configuration and runs
 * as written; the values put in for the tokens are shell-quoted, so a host name cannot add
 * shell syntax to it.
 */
import { spawn } from "node:child_process";
import { Duplex } from "node:stream";
import type { Logger } from "../log";
import type { ResolvedSshConfig } from "./config";
import { SshError } from "./errors";
import { shellQuote } from "./shellQuote";

/** The last bytes of the command's stderr kept for an error message. */
const stderrTail = 2000;

/**
 * Expands ProxyCommand's tokens: %h host name, %p port, %r user, %n the name as given (alias),
 * %% a percent sign. Each value is shell-quoted. An unknown token is a configuration error.
 */
export function expandProxyCommand(
  command: string,
  config: Pick<ResolvedSshConfig, "alias" | "hostName" | "port" | "user">,
): string {
  return command.replace(/%(.)?/g, (whole, token: string | undefined) => {
    switch (token) {
      case "%":
        return "%";
      case "h":
        return shellQuote(config.hostName);
      case "p":
        return String(config.port);
      case "r":
        return shellQuote(config.user);
      case "n":
        return shellQuote(config.alias);
      default:
        throw new SshError(
          "configInvalid",
          `ssh config for ${config.alias}: ProxyCommand uses ${token === undefined ? "a lone %" : `%${token}`}, which is not one of %h %p %r %n %%.`,
          { host: config.alias },
        );
    }
  });
}

/**
 * Starts the ProxyCommand and returns its stdio as the stream to run SSH over. The stream ends
 * only once the command has exited: cleanly (status 0) as an end of stream, otherwise as an
 * error with the exit status and the end of its stderr — so a command that fails before the
 * handshake is reported as what it is, not as a lost connection. Closing the stream ends it.
 */
export function startProxyCommand(config: ResolvedSshConfig, key: string, logger: Logger): Promise<Duplex> {
  const command = expandProxyCommand(config.proxyCommand ?? "", config);
  const program = command.trim().split(/\s+/, 1)[0] ?? "";
  return new Promise<Duplex>((resolve, reject) => {
    // The user's own environment, as OpenSSH gives it (the command may need PATH, a token, a proxy).
    const child = spawn("/bin/sh", ["-c", `exec ${command}`], { stdio: ["pipe", "pipe", "pipe"] });
    let stderr = "";
    let started = false;
    const failure = (why: string): SshError =>
      new SshError(
        "connectFailed",
        `ssh ${key}: the ProxyCommand (${program}) ${why}${stderr.trim() ? `: ${stderr.trim()}` : ""}.`,
        { host: key },
      );
    const stream = new Duplex({
      read: () => {
        child.stdout.resume();
      },
      write: (chunk: Buffer, _encoding, callback) => {
        // After the command died, writes go nowhere; its exit is reported through `close` below.
        if (child.stdin.writable) child.stdin.write(chunk, () => callback());
        else callback();
      },
      final: (callback) => {
        child.stdin.end();
        callback();
      },
      destroy: (err, callback) => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
        callback(err);
      },
    });
    child.stdin.on("error", () => undefined); // EPIPE once the command is gone
    child.stdout.on("data", (data: Buffer) => {
      if (!stream.push(data)) child.stdout.pause();
    });
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (text: string) => {
      stderr = (stderr + text).slice(-stderrTail);
      for (const line of text.split("\n"))
        if (line.trim()) logger.debug(`ProxyCommand (${program}): ${line.trim()}`);
    });
    child.once("error", (err) => {
      const error = failure(`could not be started (${err.message})`);
      if (started) stream.destroy(error);
      else reject(error);
    });
    child.once("spawn", () => {
      started = true;
      logger.debug(`ssh ${key}: connecting through ProxyCommand (${program}), pid ${child.pid}`);
      resolve(stream);
    });
    // `close`: the command has exited and its stdout and stderr are fully read.
    child.once("close", (code, signal) => {
      if (stream.destroyed) return;
      if (code === 0) stream.push(null);
      else stream.destroy(failure(signal ? `was killed by ${signal}` : `exited with status ${code}`));
    });
  });
}
