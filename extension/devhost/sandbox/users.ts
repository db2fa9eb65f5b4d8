import { closeSync, constants, fstatSync, lstatSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DevHostError } from "../errors";

/** A resolved identity: uid, primary gid, and the account's home when the image knows it. */
export interface Identity {
  uid: number;
  gid: number;
  home?: string | undefined;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** Reads /etc/passwd of a root filesystem (missing or unreadable: no entries). */
export function readPasswd(root: string): PasswdEntry[] {
  return readLines(root, "etc/passwd")
    .map((l) => l.split(":"))
    .filter((f) => f.length >= 7 && /^\d+$/.test(f[2]!) && /^\d+$/.test(f[3]!))
    .map((f) => ({ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5]! }));
}

export function readGroups(root: string): { name: string; gid: number }[] {
  return readLines(root, "etc/group")
    .map((l) => l.split(":"))
    .filter((f) => f.length >= 3 && /^\d+$/.test(f[2]!))
    .map((f) => ({ name: f[0]!, gid: Number(f[2]) }));
}

/** The most of an image's passwd or group file the dev host reads. */
const maxAccountFileBytes = 1024 * 1024;

/**
 * The lines of `rel` inside an image root, read only if it is a regular file reached without
 * symbolic links: the image is untrusted, and `etc -> /etc` would read the host's accounts,
 * a link to /dev/zero would never end, and a FIFO would block the dev host.
 */
function readLines(root: string, rel: string): string[] {
  let path = root;
  try {
    for (const part of rel.split("/")) {
      path = join(path, part);
      if (lstatSync(path).isSymbolicLink()) return [];
    }
    const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      const st = fstatSync(fd);
      if (!st.isFile() || st.size > maxAccountFileBytes) return [];
      return readFileSync(fd, "utf8").split("\n");
    } finally {
      closeSync(fd);
    }
  } catch {
    return [];
  }
}

/**
 * Resolves a user and group the way a container runtime does, against the root filesystem the
 * process will see: numeric ids are taken as they are (an unknown uid is allowed, with gid =
 * uid's group or 0); names must exist in the image's /etc/passwd or /etc/group.
 */
export function resolveIdentity(
  root: string,
  user: string | number | undefined,
  group: string | number | undefined,
): Identity {
  const passwd = readPasswd(root);
  let uid = 0;
  let gid: number | undefined;
  let home: string | undefined;
  if (typeof user === "number") {
    uid = user;
    const entry = passwd.find((p) => p.uid === user);
    gid = entry?.gid;
    home = entry?.home;
  } else if (user !== undefined && user !== "") {
    if (/^\d+$/.test(user)) return resolveIdentity(root, Number(user), group);
    const entry = passwd.find((p) => p.name === user);
    if (!entry)
      throw new DevHostError(
        "invalidArgument",
        `user ${JSON.stringify(user)} does not exist in the image's /etc/passwd`,
      );
    uid = entry.uid;
    gid = entry.gid;
    home = entry.home;
  } else {
    const entry = passwd.find((p) => p.uid === 0);
    home = entry?.home ?? "/root";
  }
  if (typeof group === "number") gid = group;
  else if (group !== undefined && group !== "") {
    if (/^\d+$/.test(group)) gid = Number(group);
    else {
      const entry = readGroups(root).find((g) => g.name === group);
      if (!entry)
        throw new DevHostError(
          "invalidArgument",
          `group ${JSON.stringify(group)} does not exist in the image's /etc/group`,
        );
      gid = entry.gid;
    }
  }
  return { uid, gid: gid ?? 0, home };
}

/** Splits a Docker-style "user[:group]" string. */
export function splitUserSpec(spec: string | undefined): {
  user: string | undefined;
  group: string | undefined;
} {
  if (!spec) return { user: undefined, group: undefined };
  const colon = spec.indexOf(":");
  return colon < 0
    ? { user: spec, group: undefined }
    : { user: spec.slice(0, colon), group: spec.slice(colon + 1) };
}
