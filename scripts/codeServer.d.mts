// Types for scripts/codeServer.mjs, so the TypeScript test harness can import its locator.

/** A code-server install: its entry script and the Node 24 that runs it, in version-keyed caches. */
export interface CodeServerInstall {
  root: string;
  nodeDir: string;
  /** The Node 24 binary code-server must run under. */
  node: string;
  /** code-server's CLI entry script, run as `node entry.js …`. */
  entry: string;
  /** Written last by a successful install. */
  marker: string;
  version: string;
}

export declare const codeServerVersion: string;
export declare const nodeVersion: string;
export declare function codeServerInstall(): CodeServerInstall;
export declare function isInstalled(): boolean;
export declare function install(options?: { log?: (line: string) => void }): CodeServerInstall;
