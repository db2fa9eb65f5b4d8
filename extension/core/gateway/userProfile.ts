import { runToEnd } from "./zoneRunner";
import type { ZoneRunner } from "./zoneRunner";

/** What sshd would know about the login user, learned from inside the workload. */
export interface UserProfile {
  /** The user's name in the workload (empty when /etc/passwd does not list the uid). */
  readonly name: string;
  readonly uid: string;
  /** Home directory from /etc/passwd; empty when unknown. */
  readonly home: string;
  /** The login shell: passwd's when it can run, else bash, else /bin/sh. */
  readonly shell: string;
  /** The image's OpenSSH sftp-server, when it has one. */
  readonly sftpServer: string | undefined;
}

/**
 * A fixed probe (no user value in it): the uid and name the process runs as, that uid's home
 * and shell from /etc/passwd, bash, and the usual places of sftp-server.
 */
const probe = String.raw`
uid=$(id -u 2>/dev/null) || uid=
name=$(id -un 2>/dev/null) || name=
home= shell=
if [ -n "$uid" ] && [ -r /etc/passwd ]; then
  while IFS=: read -r n _ u _ _ h s; do
    if [ "$u" = "$uid" ]; then home=$h shell=$s; [ -n "$name" ] || name=$n; break; fi
  done < /etc/passwd
fi
[ -n "$shell" ] && [ -x "$shell" ] || shell=$(command -v bash 2>/dev/null) || shell=
sftp=
for p in /usr/lib/openssh/sftp-server /usr/libexec/openssh/sftp-server /usr/lib/ssh/sftp-server \
  /usr/libexec/sftp-server /usr/lib/sftp-server /usr/local/libexec/sftp-server; do
  if [ -x "$p" ]; then sftp=$p; break; fi
done
printf 'uid=%s\nname=%s\nhome=%s\nshell=%s\nsftp=%s\n' "$uid" "$name" "$home" "$shell" "$sftp"
`;

/** Runs the probe as the runner's user. Rejects when the command cannot run at all (no such user…). */
export async function probeUser(runner: ZoneRunner, signal?: AbortSignal): Promise<UserProfile> {
  const result = await runToEnd(runner, ["/bin/sh", "-c", probe], {
    env: { LC_ALL: "C" },
    ...(signal ? { signal } : {}),
  });
  if (result.code !== 0)
    throw new Error(
      `${runner.description}: cannot start a shell (exit ${result.code}): ${result.stderr.trim() || "no message"}`,
    );
  return parseProfile(result.stdout.toString("utf8"));
}

/** The probe's `key=value` lines. */
export function parseProfile(text: string): UserProfile {
  const values = new Map<string, string>();
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) values.set(line.slice(0, eq), line.slice(eq + 1));
  }
  const shell = values.get("shell") ?? "";
  const sftp = values.get("sftp") ?? "";
  return {
    uid: values.get("uid") ?? "",
    name: values.get("name") ?? "",
    home: values.get("home") ?? "",
    shell: shell.startsWith("/") ? shell : "/bin/sh",
    sftpServer: sftp.startsWith("/") ? sftp : undefined,
  };
}
