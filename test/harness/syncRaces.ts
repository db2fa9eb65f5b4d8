// A zone can write its workspace copy on the host while a sync runs. These tests make that race
// deterministic: a wrapper around a real HostFiles lets "the zone" swap a directory for a symlink
// to a host folder at the worst moment the sync code leaves open (after it looked, before it uses
// the path), and check that push, pull and removal never act on the folder the link points to.
// The unit tier runs them on the local implementation, the integration tier over a real sshd.
import assert from "node:assert/strict";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import type { HostFileInfo, HostFiles } from "../../extension/core/launch/hostFiles";
import { pullWorkspace, pushWorkspace, removeHostTree } from "../../extension/core/launch/workspaceSync";
import { WorkspacePushQueue } from "../../extension/core/launch/pushQueue";

type Moment = "before" | "after";
type Zone = (op: string, path: string, moment: Moment) => void;

/** The real host files, with the zone acting around each call. */
class RacingFiles implements HostFiles {
  readonly description = "racing";
  constructor(
    private readonly inner: HostFiles,
    private readonly zone: Zone,
  ) {}

  async #around<T>(op: string, path: string, run: () => Promise<T>): Promise<T> {
    this.zone(op, path, "before");
    const out = await run();
    this.zone(op, path, "after");
    return out;
  }

  beneath(root: string): HostFiles {
    return new RacingFiles(this.inner.beneath(root), this.zone);
  }
  lstat(path: string): Promise<HostFileInfo | undefined> {
    return this.#around("lstat", path, () => this.inner.lstat(path));
  }
  list(path: string): Promise<{ name: string; info: HostFileInfo }[]> {
    return this.#around("list", path, () => this.inner.list(path));
  }
  mkdir(path: string, mode: number): Promise<void> {
    return this.#around("mkdir", path, () => this.inner.mkdir(path, mode));
  }
  upload(localPath: string, hostPath: string, attrs: { mode: number; mtime: number }): Promise<void> {
    return this.#around("upload", hostPath, () => this.inner.upload(localPath, hostPath, attrs));
  }
  download(hostPath: string, localPath: string, attrs: { mode: number; mtime: number }): Promise<void> {
    return this.#around("download", hostPath, () => this.inner.download(hostPath, localPath, attrs));
  }
  symlink(target: string, path: string): Promise<void> {
    return this.#around("symlink", path, () => this.inner.symlink(target, path));
  }
  readlink(path: string): Promise<string> {
    return this.#around("readlink", path, () => this.inner.readlink(path));
  }
  removeFile(path: string): Promise<void> {
    return this.#around("removeFile", path, () => this.inner.removeFile(path));
  }
  removeDirectory(path: string): Promise<void> {
    return this.#around("removeDirectory", path, () => this.inner.removeDirectory(path));
  }
  close(): void {}
}

const bases: string[] = [];
after(() => {
  for (const b of bases) rmSync(b, { recursive: true, force: true });
});

/** A project, its host copy, and a host folder the zone must never reach ("/etc"). */
function setup(files: Record<string, string>) {
  const base = mkdtempSync(join(tmpdir(), "sync-race-"));
  bases.push(base);
  const local = join(base, "project");
  const host = join(base, "host", "ws", "abc");
  const etc = join(base, "etc");
  mkdirSync(etc);
  writeFileSync(join(etc, "shadow"), "root:$6$secret");
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(local, path, ".."), { recursive: true });
    writeFileSync(join(local, path), text);
  }
  const sync = { localFolder: local, hostPath: host, exclude: [], respectGitignore: false };
  return { local, host, etc, sync };
}

/** What the zone does: replace a directory of its copy with a link to the host's folder. */
function flip(dir: string, to: string): void {
  rmSync(dir, { recursive: true, force: true });
  symlinkSync(to, dir);
}

function zoneFlipping(
  dir: string,
  to: string,
  when: (op: string, path: string, moment: Moment) => boolean,
): Zone {
  let done = false;
  return (op, path, moment) => {
    if (done || !when(op, path, moment)) return;
    done = true;
    flip(dir, to);
  };
}

/**
 * Registers the race tests for one implementation of the host's files. `open` gives a fresh,
 * unscoped HostFiles whose host is this machine (a local folder, or a local sshd's SFTP).
 */
export function syncRaceTests(label: string, open: () => Promise<HostFiles>): void {
  test(`${label}: push never writes through a directory the zone turned into a link during the sync`, async () => {
    const s = setup({ "conf/shadow": "project v1" });
    await pushWorkspace({ files: await open(), sync: s.sync });
    writeFileSync(join(s.local, "conf/shadow"), "project v2, longer");
    const files = new RacingFiles(
      await open(),
      zoneFlipping(
        join(s.host, "conf"),
        s.etc,
        (op, path) => op === "upload" && path.endsWith("conf/shadow"),
      ),
    );
    await assert.rejects(
      pushWorkspace({ files, sync: s.sync }),
      /conf on the host is a symbolic link.*not followed/,
    );
    assert.equal(readFileSync(join(s.etc, "shadow"), "utf8"), "root:$6$secret", "the host's file is intact");
    assert.deepEqual(
      existsSync(s.etc) && readdir(s.etc),
      ["shadow"],
      "no temp file was left in the host's folder either",
    );
  });

  test(`${label}: pull never reads through a directory the zone turned into a link during the sync`, async () => {
    const s = setup({ "conf/shadow": "project v1" });
    await pushWorkspace({ files: await open(), sync: s.sync });
    rmSync(join(s.local, "conf/shadow"));
    const files = new RacingFiles(
      await open(),
      zoneFlipping(
        join(s.host, "conf"),
        s.etc,
        (op, path) => op === "download" && path.endsWith("conf/shadow"),
      ),
    );
    await assert.rejects(
      pullWorkspace({ files, sync: s.sync }),
      /conf on the host is a symbolic link.*not followed/,
    );
    const pulled = existsSync(join(s.local, "conf/shadow"))
      ? readFileSync(join(s.local, "conf/shadow"), "utf8")
      : "";
    assert.notEqual(pulled, "root:$6$secret", "the host's secret never reaches the project");
  });

  test(`${label}: removing a host copy never deletes inside a directory the zone turned into a link`, async () => {
    const s = setup({ "conf/a": "a", "conf/b": "b" });
    await pushWorkspace({ files: await open(), sync: s.sync });
    const files = new RacingFiles(
      await open(),
      zoneFlipping(
        join(s.host, "conf"),
        s.etc,
        (op, path, moment) => op === "lstat" && path === join(s.host, "conf") && moment === "after",
      ),
    );
    await removeHostTree(files, s.host).catch(() => undefined);
    assert.equal(readFileSync(join(s.etc, "shadow"), "utf8"), "root:$6$secret", "the host's file is intact");
    assert.equal(existsSync(s.host), false, "the copy is gone, the link with it");
  });

  test(`${label}: the push queue never writes or removes through a directory the zone turned into a link`, async () => {
    const s = setup({ "conf/shadow": "project v1", "conf/old": "old" });
    await pushWorkspace({ files: await open(), sync: s.sync });
    writeFileSync(join(s.etc, "old"), "host file named like a project file");
    writeFileSync(join(s.local, "conf/shadow"), "project v2, longer");
    rmSync(join(s.local, "conf/old"));
    const zone = zoneFlipping(
      join(s.host, "conf"),
      s.etc,
      (op, path) => op === "lstat" && path.endsWith("conf/shadow"),
    );
    const queue = new WorkspacePushQueue({
      files: async () => new RacingFiles(await open(), zone),
      sync: s.sync,
      settleMs: 0,
    });
    const failed: string[] = [];
    queue.onDidFail((f) => failed.push(`${f.path}: ${f.error.message}`));
    try {
      queue.notify(join(s.local, "conf/shadow"));
      queue.notify(join(s.local, "conf/old"));
      await queue.idle();
    } finally {
      queue.dispose();
    }
    assert.equal(readFileSync(join(s.etc, "shadow"), "utf8"), "root:$6$secret", "the host's file is intact");
    assert.equal(readFileSync(join(s.etc, "old"), "utf8"), "host file named like a project file");
    assert.match(failed.join("\n"), /conf\/shadow: .*symbolic link.*not followed/);
  });
}

function readdir(dir: string): string[] {
  return readdirSync(dir).sort();
}
