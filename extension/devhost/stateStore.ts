import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../core/log";

/** The kinds of record the dev host keeps on disk, one folder each. */
export type StateKind = "zones" | "workloads";

/**
 * The dev host's records on disk: one JSON file per zone or workload under the state directory,
 * written atomically (temp file + rename) so a crash never leaves half a record. Writes are
 * synchronous on purpose: records are small and the order of writes must match the order of
 * state changes.
 */
export class StateStore {
  constructor(
    readonly dir: string,
    private readonly log: Logger,
  ) {
    for (const sub of ["zones", "workloads", "images", "run"])
      mkdirSync(join(dir, sub), { recursive: true, mode: 0o700 });
  }

  /** Scratch space for live sandboxes (workload upper layers, generated files). */
  get runDir(): string {
    return join(this.dir, "run");
  }

  /** Every readable record of a kind; unreadable files are logged and skipped, never deleted. */
  loadAll(kind: StateKind): { id: string; data: unknown }[] {
    const out: { id: string; data: unknown }[] = [];
    const folder = join(this.dir, kind);
    for (const name of readdirSync(folder).sort()) {
      if (!name.endsWith(".json")) continue;
      const id = name.slice(0, -".json".length);
      try {
        out.push({ id, data: JSON.parse(readFileSync(join(folder, name), "utf8")) as unknown });
      } catch (err) {
        this.log.warn(`state: skipping unreadable ${kind}/${name}`, err);
      }
    }
    return out;
  }

  save(kind: StateKind, id: string, data: unknown): void {
    const file = join(this.dir, kind, `${id}.json`);
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(data, null, 1)}\n`, { mode: 0o600 });
    renameSync(tmp, file);
  }

  /** A single host-level record (e.g. host.json), or undefined when absent or unreadable. */
  readFile(name: string): unknown {
    try {
      return JSON.parse(readFileSync(join(this.dir, name), "utf8")) as unknown;
    } catch {
      return undefined;
    }
  }

  writeFile(name: string, data: unknown): void {
    const file = join(this.dir, name);
    writeFileSync(`${file}.tmp`, `${JSON.stringify(data, null, 1)}\n`, { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
  }

  remove(kind: StateKind, id: string): void {
    rmSync(join(this.dir, kind, `${id}.json`), { force: true });
  }
}
