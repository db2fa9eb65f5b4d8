/**
 * How zonectl opens a host: `--host DEST`, else $ZONECTL_HOST (main.ts merges both into
 * `globals.host`), else the local daemon socket. On a terminal it asks about unknown host keys
 * (showing the fingerprint), passphrases and passwords; elsewhere it asks nothing, so an unknown
 * host key is refused.
 *
 * Environment knobs (for scripts and tests):
 * - ZONECTL_SSH_CONFIG: the ssh config file to read instead of ~/.ssh/config (like `ssh -F`)
 * - ZONECTL_SOCKET: the daemon socket path on SSH hosts (default /var/lib/edera/protect/daemon.socket)
 * - ZONECTL_BRIDGE: the exec bridge command template with `{socket}` (default `sudo -n socat - UNIX-CONNECT:{socket}`)
 */
import { createInterface } from "node:readline";
import { Writable } from "node:stream";
import { ProtectHost } from "../core/protect/host";
import type { ProtectHostOptions } from "../core/protect/host";
import { defaultSocketPath } from "../core/protect/transport";
import type { SshCallbacks } from "../core/ssh/connection";
import type { CliContext } from "./command";

/** The target when neither --host nor $ZONECTL_HOST is given. */
export const defaultTarget = `unix://${defaultSocketPath}`;

/** The target string zonectl will open. */
export function targetOf(ctx: CliContext): string {
  return ctx.globals.host?.trim() || defaultTarget;
}

/** Opens the host the command line names. The caller closes it. */
export async function openHost(ctx: CliContext): Promise<ProtectHost> {
  const env = ctx.env;
  const options: ProtectHostOptions = {
    logger: ctx.log,
    callbacks: cliCallbacks(ctx),
    signal: ctx.signal,
    ...(env["ZONECTL_SSH_CONFIG"] ? { configFile: env["ZONECTL_SSH_CONFIG"] } : {}),
    ...(env["ZONECTL_SOCKET"] ? { socketPath: env["ZONECTL_SOCKET"] } : {}),
    ...(env["ZONECTL_BRIDGE"] ? { bridgeCommand: env["ZONECTL_BRIDGE"] } : {}),
    env,
    // A CLI run is short: do not sit through a long reconnect loop.
    reconnect: { maxAttempts: 2 },
  };
  return ProtectHost.open(targetOf(ctx), options);
}

function isInteractive(ctx: CliContext): boolean {
  return Boolean(ctx.stdin.isTTY && (ctx.stderr as { isTTY?: boolean }).isTTY);
}

/** Terminal prompts, or none at all when stdin/stderr are not a terminal. */
export function cliCallbacks(ctx: CliContext): SshCallbacks {
  if (!isInteractive(ctx)) return {};
  return {
    confirmHostKey: async (q) => {
      ctx.stderr.write(
        `The authenticity of host '${q.knownHostsName}' can't be established.\n` +
          `${keyTypeLabel(q.keyType)} key fingerprint is ${q.fingerprint}.\n` +
          (q.otherKeyTypes.length
            ? `known_hosts has other key types for this host: ${q.otherKeyTypes.join(", ")}.\n`
            : ""),
      );
      let question = "Are you sure you want to continue connecting (yes/no/[fingerprint])? ";
      for (;;) {
        const answer = (await askLine(ctx, question, false))?.trim();
        if (answer === undefined || answer.toLowerCase() === "no") return false;
        if (answer.toLowerCase() === "yes" || answer === q.fingerprint) {
          if (q.knownHostsFile) ctx.stderr.write(`Recording ${q.knownHostsName} in ${q.knownHostsFile}.\n`);
          return true;
        }
        question = "Please type 'yes', 'no' or the fingerprint: ";
      }
    },
    passphrase: (r) =>
      askLine(
        ctx,
        r.attempt > 1
          ? `Wrong passphrase. Enter passphrase for key '${r.keyFile}': `
          : `Enter passphrase for key '${r.keyFile}': `,
        true,
      ),
    password: (r) => askLine(ctx, `${r.user}@${r.target.replace(/^[^@]*@/, "")}'s password: `, true),
    keyboardInteractive: async (r) => {
      if (r.name) ctx.stderr.write(`${r.name}\n`);
      if (r.instructions) ctx.stderr.write(`${r.instructions}\n`);
      const answers: string[] = [];
      for (const p of r.prompts) {
        const a = await askLine(ctx, p.prompt, !p.echo);
        if (a === undefined) return undefined;
        answers.push(a);
      }
      return answers;
    },
  };
}

/** "ED25519", "ECDSA", "RSA" — the label ssh prints before a fingerprint. */
function keyTypeLabel(keyType: string): string {
  if (keyType === "ssh-ed25519") return "ED25519";
  if (keyType.startsWith("ecdsa-")) return "ECDSA";
  if (keyType === "ssh-rsa") return "RSA";
  return keyType;
}

/** Reads one line from the terminal; `secret` hides what is typed. Undefined on EOF or Ctrl-C. */
function askLine(ctx: CliContext, question: string, secret: boolean): Promise<string | undefined> {
  return new Promise((resolve) => {
    ctx.stderr.write(question);
    const output = secret
      ? new Writable({
          write(_chunk, _enc, cb) {
            cb(); // swallow the echo of what is typed
          },
        })
      : ctx.stderr;
    const rl = createInterface({ input: ctx.stdin, output, terminal: true });
    let done = false;
    const finish = (value: string | undefined): void => {
      if (done) return;
      done = true;
      ctx.signal.removeEventListener("abort", onAbort);
      rl.close();
      if (secret) ctx.stderr.write("\n");
      resolve(value);
    };
    const onAbort = (): void => finish(undefined);
    ctx.signal.addEventListener("abort", onAbort, { once: true });
    rl.once("line", (line) => finish(line));
    rl.once("close", () => finish(undefined));
    rl.once("SIGINT", () => finish(undefined));
  });
}
