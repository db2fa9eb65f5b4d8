/**
 * What the extension under test talks to in the e2e tier, and how it is told about it: a
 * workspace folder (a copy of the sample project), user settings for code-server, and
 * environment variables for the extension host (read by the extension-host suites).
 */
import { cp, mkdir } from "node:fs/promises";
import { join } from "node:path";

/** A started e2e environment; `stop()` ends everything it started. */
export interface E2eEnvironment {
  /** The folder the workbench opens. */
  workspace: string;
  /** VS Code user settings (e.g. `zones.hosts`). */
  settings: Record<string, unknown>;
  /** Environment for code-server itself (and so for its extension hosts). */
  env: Record<string, string>;
  /** Extra environment only the extension-host test run sees. */
  extensionHostEnv: Record<string, string>;
  /** A socket path nobody serves (its host must show as failed). */
  missingSocket?: string;
  stop(): Promise<void>;
}

export const sampleProject = join(import.meta.dirname, "sampleProject");

export async function startEnvironment(dir: string): Promise<E2eEnvironment> {
  await mkdir(dir, { recursive: true });
  const workspace = join(dir, "workspace");
  await cp(sampleProject, workspace, { recursive: true });
  // A socket path nobody serves: the host must show up as a failed connection with its reason.
  const missingSocket = join(dir, "no-daemon.socket");
  return {
    workspace,
    settings: { "zones.hosts": [`unix://${missingSocket}`] },
    env: {},
    extensionHostEnv: { ZONES_TEST_MISSING_SOCKET: missingSocket },
    missingSocket,
    stop: async () => undefined,
  };
}
