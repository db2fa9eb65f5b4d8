// Types for scripts/codeServer.mjs, so the TypeScript test harness can import its locator.

/** A code-server install: Node 24 plus code-server's entry script, in a version-keyed cache. */
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
