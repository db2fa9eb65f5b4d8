/**
 * A cpio archive in the "newc" format, the one the kernel unpacks as an initramfs: each entry is
 * a 110-byte ASCII header (magic 070701 and thirteen 8-digit hex fields), the NUL-terminated
 * name padded to a multiple of four, then the data padded the same way; "TRAILER!!!" ends it.
 */

export type CpioEntry =
  | { kind: "dir"; path: string; mode?: number }
  | { kind: "file"; path: string; data: Buffer; mode?: number }
  | { kind: "symlink"; path: string; target: string };

const fileType = { dir: 0o040000, file: 0o100000, symlink: 0o120000 } as const;

/** The archive of `entries`, in the order given (parents must come before their children). */
export function cpioArchive(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  const push = (name: string, mode: number, data: Buffer, nlink: number): void => {
    const nameBytes = Buffer.from(`${name}\0`, "utf8");
    const fields = [ino++, mode, 0, 0, nlink, 0, data.length, 0, 0, 0, 0, nameBytes.length, 0];
    const header = `070701${fields.map((f) => f.toString(16).padStart(8, "0")).join("")}`;
    parts.push(Buffer.from(header, "ascii"), nameBytes, pad(110 + nameBytes.length));
    parts.push(data, pad(data.length));
  };
  for (const e of entries) {
    const name = entryName(e.path);
    if (e.kind === "dir") push(name, fileType.dir | (e.mode ?? 0o755), Buffer.alloc(0), 2);
    else if (e.kind === "file") push(name, fileType.file | (e.mode ?? 0o644), e.data, 1);
    else push(name, fileType.symlink | 0o777, Buffer.from(e.target, "utf8"), 1);
  }
  ino = 0;
  push("TRAILER!!!", 0, Buffer.alloc(0), 1);
  return Buffer.concat(parts);
}

function pad(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4);
}

/** Archive names are relative ("bin/sh"): the kernel unpacks them under the initramfs root. */
function entryName(path: string): string {
  const name = path.replace(/^\/+/, "");
  if (!name || name.split("/").some((p) => p === "" || p === "." || p === ".."))
    throw new Error(`invalid initramfs path ${JSON.stringify(path)}`);
  return name;
}
