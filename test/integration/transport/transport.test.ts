// The gRPC transport under load, on every route, on the Node 24 that zonectl, the tests and
// code-server's extension host all run (one binary, fetched by .ci/setup). A Connect server
// in its own process (fixtureServer.ts) listens on a real unix socket; the product's ProtectHost
// reaches it through a real OpenSSH sshd over direct-streamlocal and over the exec bridge, and
// directly. The fixture ends bidi streams right after their last reply, with the client's
// request side still open, as a strict protect-daemon may. Before the fix in
// core/protect/clientStream.ts, Node 24 failed ~20 % of unary calls over SSH and ~85 % of
// such bidi calls (Node 20 ~15 % of the bidi calls); every number below must be zero.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { LossReport, RoundsOptions, RoundsReport } from "./rounds";
import { runLoss, runRounds } from "./rounds";
import { startFixtureServer } from "./fixtureServer";
import type { FixtureServer } from "./fixtureServer";
import { startSshd } from "../../harness/sshd";
import type { Sshd } from "../../harness/sshd";

/** Per route: 200 sequential unary calls plus 200 in groups of 8, 50 server streams, 50 of each bidi kind. */
const load = { unary: 200, serverStreams: 50, bidi: 50 } as const;

type Route = "unix" | "streamlocal" | "bridge";

function assertClean(report: RoundsReport, route: Route): void {
  const kinds = [
    "unary",
    "serverStream",
    "bidiServerEndsFirst",
    "bidiExecSession",
    "bidiWritesWhileEnding",
    "bidiEcho",
  ] as const;
  const failures = kinds
    .filter((k) => report[k].failed > 0)
    .map((k) => `${k}: ${report[k].failed} failed ${JSON.stringify(report[k].errors)}`);
  assert.deepEqual(failures, [], `${report.node} over ${route}:\n${failures.join("\n")}`);
  const expected: Record<(typeof kinds)[number], number> = {
    unary: load.unary * 2,
    serverStream: load.serverStreams,
    bidiServerEndsFirst: load.bidi,
    bidiExecSession: load.bidi,
    bidiWritesWhileEnding: load.bidi,
    bidiEcho: Math.ceil(load.bidi / 10),
  };
  for (const k of kinds) assert.equal(report[k].ok, expected[k], `${k} calls that succeeded`);
  assert.equal(report.route, route, "the tunnel took the route under test");
}

function assertLoss(report: LossReport): void {
  assert.equal(report.streamReason, "lost", `the interrupted stream failed with: ${report.streamMessage}`);
  assert.ok(report.msToFail < 5000, `the stream failed ${report.msToFail} ms after the cut`);
  assert.equal(report.callAfterReconnect, true, "a call after the reconnect works");
}

describe("gRPC transport under load", () => {
  let fixture: FixtureServer;
  let sshd: Sshd;
  let sshdNoForwarding: Sshd;
  const optionsFor = (route: Route): RoundsOptions => {
    const common = { socketPath: fixture.socketPath, ...load };
    if (route === "unix") return { ...common, target: `unix://${fixture.socketPath}` };
    if (route === "streamlocal")
      return { ...common, target: sshd.alias, sshConfig: sshd.sshConfigPath, mode: "streamlocal" };
    // Forwarding off: "auto" must find streamlocal refused and fall back to the bridge (sudo -n socat).
    return {
      ...common,
      target: sshdNoForwarding.alias,
      sshConfig: sshdNoForwarding.sshConfigPath,
      mode: "auto",
    };
  };

  before(async () => {
    fixture = await startFixtureServer();
    sshd = await startSshd();
    sshdNoForwarding = await startSshd({ config: { AllowTcpForwarding: "no" } });
  });
  after(async () => {
    await Promise.all([sshd?.stop(), sshdNoForwarding?.stop(), fixture?.stop()]);
  });

  describe(`on this Node (${process.version})`, () => {
    for (const route of ["unix", "streamlocal", "bridge"] as const) {
      test(`${route}: unary, server streams, bidi calls the server ends first, a 256 KiB echo — no failures`, async (t) => {
        const report = await runRounds(optionsFor(route));
        t.diagnostic(`${report.node} ${route}: every call in ${report.ms} ms`);
        assertClean(report, route);
      });
    }
    for (const route of ["streamlocal", "bridge"] as const) {
      test(`${route}: an exec stream cut by a lost SSH connection fails as lost, and the host comes back`, async (t) => {
        const server = route === "streamlocal" ? sshd : sshdNoForwarding;
        const report = await runLoss(optionsFor(route), () => void server.killSessions());
        t.diagnostic(
          `${report.node} ${route}: failed ${report.msToFail} ms after the cut: ${report.streamMessage}`,
        );
        assertLoss(report);
      });
    }
  });
});
