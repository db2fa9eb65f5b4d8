// The fault proxy itself: a drop must never leave the process that ran it unable to exit.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { test } from "node:test";

const proxyModule = join(import.meta.dirname, "../../harness/faultProxy.ts");

/** Runs `script` (an ES module that may import the proxy module as `faultProxy`); its exit code, signal and output. */
async function runChild(
  script: string,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }> {
  const source = `import faultProxy from ${JSON.stringify(proxyModule)};\n${script}`;
  const proc = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", source], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  proc.stdout.on("data", (d: Buffer) => (output += d.toString()));
  proc.stderr.on("data", (d: Buffer) => (output += d.toString()));
  const timer = setTimeout(() => proc.kill("SIGKILL"), 15_000);
  const [code, signal] = (await once(proc, "exit")) as [number | null, NodeJS.Signals | null];
  clearTimeout(timer);
  return { code, signal, output };
}

test("a drop that comes while a side is half-closing (end() just called): the process still exits", async () => {
  // The moment the proxy meets when the server hangs up and the proxy is closed in the same
  // breath: Node refuses a reset there and, without care, leaves a handle it never closes.
  const { code, signal, output } = await runChild(`
import { createServer, connect } from "node:net";
import { once } from "node:events";
const server = createServer((s) => {
  s.on("error", () => {});
  s.end("bye");
  faultProxy.resetSocket(s);
  server.close();
});
server.listen(0, "127.0.0.1");
await once(server, "listening");
const client = connect(server.address().port, "127.0.0.1");
client.on("error", () => {});
client.resume();
await once(client, "close");
console.log("closed");
`);
  assert.match(output, /closed/, output);
  assert.equal(signal, null, `the process did not exit by itself within 15 s (killed); output:\n${output}`);
  assert.equal(code, 0, output);
});
