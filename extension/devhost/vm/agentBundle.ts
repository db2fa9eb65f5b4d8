import { cpSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";

/** The file name of the bundled guest agent, beside the dev host's own bundle in dist/. */
export const agentBundleName = "vmAgent.js";

/**
 * Fills `dir` with what the guest runs as its agent — shared read-only into every VM: the agent
 * as one script, and node-pty (its native PTY binding) under node_modules. A built dev host
 * finds the agent beside itself (build.mjs writes dist/vmAgent.js); run from its sources (tsx),
 * it bundles the agent's sources here with esbuild.
 */
export async function prepareAgentDir(dir: string): Promise<void> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  // dist/devhost.js sits beside it; zonectl's chunks (dist/cli/chunks/) two folders below.
  const candidates = [__dirname, join(__dirname, ".."), join(__dirname, "..", "..")].map((d) =>
    join(d, agentBundleName),
  );
  const built = candidates.find((c) => existsSync(c)) ?? candidates[0]!;
  if (existsSync(built)) {
    cpSync(built, join(dir, agentBundleName));
  } else {
    const source = join(__dirname, "agent", "main.ts");
    if (!existsSync(source))
      throw new Error(
        `the VM guest agent is missing: neither ${built} nor ${source} exists (run npm run build)`,
      );
    // Only ever reached from a source checkout, where esbuild is a dev dependency.
    const esbuild = await import("esbuild");
    await esbuild.build({
      entryPoints: [source],
      outfile: join(dir, agentBundleName),
      bundle: true,
      platform: "node",
      format: "cjs",
      target: "node20",
      external: ["node-pty", "*.node"],
      logLevel: "warning",
    });
  }
  const pty = dirname(require.resolve("node-pty/package.json"));
  const target = join(dir, "node_modules", "node-pty");
  mkdirSync(target, { recursive: true });
  cpSync(join(pty, "package.json"), join(target, "package.json"));
  cpSync(join(pty, "lib"), join(target, "lib"), { recursive: true });
  cpSync(join(pty, "build", "Release"), join(target, "build", "Release"), { recursive: true });
}
