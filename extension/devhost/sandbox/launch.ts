/**
 * Builders for the argv chains that start processes inside zones. Every value that comes from a
 * client — commands, environment, paths, user ids — travels as its own argv element to fixed
 * scripts and tools; nothing is ever pasted into shell text. The two shell scripts below are
 * constants and read their inputs only as "$1", "$2", …
 */

/** Absolute paths of the host tools the chains use, found once at startup. */
export interface Tools {
  sh: string;
  nsenter: string;
  unshare: string;
  env: string;
  setsid: string;
}

/**
 * Moves itself into each cgroup.procs file given before "--", then execs the rest: the process
 * is in the zone's cgroup before it can fork, so no child escapes the limits.
 */
export const joinScript =
  'while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do echo "$$" > "$1" || exit 125; shift; done; shift; exec "$@"';

/**
 * Runs as root in a mount namespace: performs the mount steps, then execs the rest. A container
 * on the dev host gets its root this way in a fresh private namespace runc then starts from; a
 * VM workload's root and bind sources are mounted in QEMU's namespace, where the guest's 9p
 * share sees them. Steps arrive as argv words.
 */
export const setupScript = [
  'fail() { echo "dev host: workload setup failed: $*" >&2; exit 125; }',
  'while [ "$#" -gt 0 ]; do',
  '  op="$1"; shift',
  '  case "$op" in',
  "    --) break ;;",
  '    mkdir) mkdir -p -- "$1" || fail "mkdir $1"; shift ;;',
  '    touch) [ -e "$1" ] || : > "$1" || fail "create $1"; shift ;;',
  '    overlay) mount -t overlay -o "lowerdir=$1,upperdir=$2,workdir=$3" overlay "$4" || fail "overlay on $4"; shift 4 ;;',
  '    bind) mount --rbind -- "$1" "$2" || fail "bind $1 on $2"; shift 2 ;;',
  '    *) fail "unknown step $op" ;;',
  "  esac",
  "done",
  'exec "$@"',
].join("\n");

/**
 * The zone's init (pid 1 of the zone's pid namespace in namespace mode). It prints a boot
 * banner, waits for the dev host's go-ahead line on stdin (sent once the network is up), shows
 * its addresses, says it is ready, then echoes console input. It exits when its stdin closes —
 * which is also what happens if the dev host dies — and as pid 1 its exit takes every process of
 * the zone with it. Its `wait` reaps orphans that the kernel reparents to it.
 */
export const initScript = [
  'if [ "$1" = ns ]; then hostname "$2" 2>/dev/null || true; fi',
  "shift 2",
  'for line in "$@"; do printf "%s\\n" "$line"; done',
  "IFS= read -r go || exit 0",
  'ip -o -4 addr show 2>/dev/null | while read -r _ dev _ addr _; do printf "init: %s %s\\n" "$dev" "$addr"; done',
  'echo "init: zone ready"',
  "exec 3<&0",
  '( while IFS= read -r line; do printf "console: %s\\n" "$line"; done ) <&3 &',
  "exec 3<&-",
  "wait",
].join("\n");

/** The marker line the init prints once it is up. */
export const initReadyMarker = "init: zone ready";

export function withCgroups(tools: Tools, procsFiles: string[], argv: string[]): string[] {
  if (procsFiles.length === 0) return argv;
  return [tools.sh, "-c", joinScript, "devhost-join", ...procsFiles, "--", ...argv];
}

export function zoneInitArgv(
  tools: Tools,
  options: { namespaces: boolean; hostname: string; banner: string[] },
): string[] {
  const init = [
    tools.sh,
    "-c",
    initScript,
    "zone-init",
    options.namespaces ? "ns" : "plain",
    options.hostname,
    ...options.banner,
  ];
  if (!options.namespaces) return init;
  return [
    tools.unshare,
    "--pid",
    "--fork",
    "--kill-child",
    "--mount",
    "--uts",
    "--ipc",
    "--net",
    "--mount-proc",
    "--propagation",
    "private",
    "--",
    ...init,
  ];
}

/** Enters every namespace of the zone whose init is `pid` (an exec in the zone itself). */
export function enterNamespaces(tools: Tools, pid: number, argv: string[]): string[] {
  return [tools.nsenter, "-t", String(pid), "-p", "-u", "-i", "-n", "-m", "--", ...argv];
}

/**
 * One mount step before a container starts: its root (an overlay of the image under the
 * workload's own upper layer, or a bind of a copied root) and, for a VM, the bind sources it
 * shares with the guest. runc mounts everything inside the root itself.
 */
export type SetupStep =
  | { op: "mkdir"; path: string }
  | { op: "touch"; path: string }
  | { op: "overlay"; lower: string; upper: string; work: string; target: string }
  | { op: "bind"; source: string; target: string };

export function stepWords(step: SetupStep): string[] {
  switch (step.op) {
    case "mkdir":
    case "touch":
      return [step.op, step.path];
    case "overlay":
      return ["overlay", step.lower, step.upper, step.work, step.target];
    case "bind":
      return ["bind", step.source, step.target];
  }
}

/** A new private mount namespace in which `steps` build the root, then argv runs. */
export function withMountSetup(tools: Tools, steps: SetupStep[], argv: string[]): string[] {
  return [
    tools.unshare,
    "--mount",
    "--propagation",
    "private",
    "--",
    tools.sh,
    "-c",
    setupScript,
    "devhost-setup",
    ...steps.flatMap(stepWords),
    "--",
    ...argv,
  ];
}

/** What finally runs: its environment, root, working directory, identity and argv. */
export interface FinalProcess {
  root: string;
  cwd: string;
  uid: number;
  gid: number;
  env: [string, string][];
  command: string[];
}

/**
 * The last links of a chain: a clean environment, then (with a TTY) a new session that takes
 * the terminal as its controlling TTY, then root, working directory and identity.
 *
 * The session step is what makes job control work. node-pty makes the chain's first process
 * (outside the zone) the session leader and the PTY's foreground group; `nsenter -p` then
 * forks to enter the zone's pid namespace, so the command would run in a session and a
 * foreground group whose ids do not exist in its namespace: tcgetpgrp answers 0, an
 * interactive shell cannot restore the foreground group ("Cannot set tty process group (No such
 * process)") and exits 2 whatever `exit N` said. `setsid -c`, run after the fork and inside
 * the namespace, starts a session there and takes the terminal (TIOCSCTTY, taken over from the
 * wrapper's session, which needs CAP_SYS_ADMIN: namespace mode runs as root). It runs before
 * the chroot and the identity change, as `docker exec -t` sets up its console before the user
 * process.
 */
export function finalExec(
  tools: Tools,
  p: FinalProcess,
  options: { controllingTerminal?: boolean } = {},
): string[] {
  // "--": whatever the names are, env(1) reads no option after it (names are validated too).
  return [
    tools.env,
    "-i",
    "--",
    ...p.env.map(([k, v]) => `${k}=${v}`),
    ...(options.controllingTerminal ? [tools.setsid, "--ctty"] : []),
    tools.unshare,
    `--root=${p.root}`,
    `--wd=${p.cwd}`,
    "--setgid",
    String(p.gid),
    "--setuid",
    String(p.uid),
    "--",
    ...p.command,
  ];
}
