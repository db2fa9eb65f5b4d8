// The client side of the transport tests: many calls and streams through the product's
// ProtectHost (its SSH transport, its exec sessions) against the fixture server, counting every
// failure by message instead of stopping at the first, so a rare failure shows as a rate.
// Runs in the test process and, as a script, under any Node binary one wants to compare:
//
//   node --import tsx test/integration/transport/rounds.ts '<RoundsOptions as JSON>'
// prints one line of JSON: the RoundsReport. With `"loss": true` it runs the loss scenario
// instead (see runLoss): it prints `stream open` when the test should cut the SSH connection,
// then one line of JSON, the LossReport.
import { createHash } from "node:crypto";
import { ProtectHost } from "../../../extension/core/protect/host";
import type { ChannelMode } from "../../../extension/core/protect/transport";
import { startExec } from "../../../extension/core/terminal/execSession";
import type { ExecuteZoneCommandRequestSchema } from "../../../extension/proto/gen/protect/control/v1/control_pb";
import type { MessageInitShape } from "@bufbuild/protobuf";

/** What to run, and where. */
export interface RoundsOptions {
  /** An SSH alias (with sshConfig) or unix:///path. */
  readonly target: string;
  readonly sshConfig?: string;
  /** The fixture's socket on the SSH host. */
  readonly socketPath: string;
  readonly mode?: ChannelMode;
  readonly bridgeCommand?: string;
  /** Sequential GetHostStatus calls (and as many GetZone calls, 8 at a time). */
  readonly unary: number;
  /** ListZones calls (three replies each). */
  readonly serverStreams: number;
  /** Exec streams of each bidi kind. */
  readonly bidi: number;
  /** Run {@link runLoss} instead of the rounds. */
  readonly loss?: boolean;
}

/** What a call in flight saw when the SSH connection died, and whether the host came back. */
export interface LossReport {
  readonly node: string;
  /** ProtectError reason of the interrupted exec stream (must be `lost`, never `cancelled`). */
  readonly streamReason: string | undefined;
  readonly streamMessage: string;
  /** From the cut (as the client noticed the stream's end) to the failure. */
  readonly msToFail: number;
  /** A unary call after the loss succeeded (the SSH connection reconnected underneath). */
  readonly callAfterReconnect: boolean;
}

/** Outcome of one kind of call: how many passed, and each failure message with its count. */
export interface Tally {
  ok: number;
  failed: number;
  errors: Record<string, number>;
}

/** Everything a round measured. */
export interface RoundsReport {
  readonly node: string;
  readonly route: string | undefined;
  readonly unary: Tally;
  readonly serverStream: Tally;
  /** The server ends the stream after `exited` while the client's request side is still open. */
  readonly bidiServerEndsFirst: Tally;
  /** ExecSession: half-closes on `exited`, as the product's consumers do. */
  readonly bidiExecSession: Tally;
  /** The client keeps writing stdin while the server exits and ends the stream. */
  readonly bidiWritesWhileEnding: Tally;
  /** 256 KiB of stdin echoed back intact through ExecSession. */
  readonly bidiEcho: Tally;
  readonly ms: number;
}

type ExecRequest = MessageInitShape<typeof ExecuteZoneCommandRequestSchema>;

const zoneId = "00000000-0000-4000-8000-000000000004";

function tally(): Tally {
  return { ok: 0, failed: 0, errors: {} };
}

async function count(t: Tally, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
    t.ok++;
  } catch (err) {
    t.failed++;
    const message = (err as Error).message ?? String(err);
    t.errors[message] = (t.errors[message] ?? 0) + 1;
  }
}

function start(command: string[]): ExecRequest {
  return {
    request: {
      case: "start",
      value: { zoneId, process: { command, stdin: true, stdout: true, stderr: true } },
    },
  };
}

/** Runs every kind of call `options` asks for and reports each kind's failures. */
export async function runRounds(options: RoundsOptions): Promise<RoundsReport> {
  const began = performance.now();
  const host = await ProtectHost.open(options.target, {
    ...(options.sshConfig ? { configFile: options.sshConfig, env: {} } : {}),
    socketPath: options.socketPath,
    ...(options.mode ? { channelMode: options.mode } : {}),
    ...(options.bridgeCommand ? { bridgeCommand: options.bridgeCommand } : {}),
  });
  const report = {
    unary: tally(),
    serverStream: tally(),
    bidiServerEndsFirst: tally(),
    bidiExecSession: tally(),
    bidiWritesWhileEnding: tally(),
    bidiEcho: tally(),
  };
  try {
    for (let i = 0; i < options.unary; i++) {
      await count(report.unary, async () => {
        const status = await host.status();
        if (status.protectVersion !== "transport-fixture")
          throw new Error(`unexpected GetHostStatus reply ${status.protectVersion}`);
      });
    }
    for (let i = 0; i < options.unary; i += 8) {
      await Promise.all(
        Array.from({ length: Math.min(8, options.unary - i) }, () =>
          count(report.unary, async () => {
            const z = await host.getZone(zoneId);
            if (z.id !== zoneId) throw new Error(`GetZone answered ${z.id}`);
          }),
        ),
      );
    }
    for (let i = 0; i < options.serverStreams; i++) {
      await count(report.serverStream, async () => {
        const zones = await host.listZones();
        if (zones.length !== 9) throw new Error(`ListZones gave ${zones.length} zones, not 9`);
      });
    }
    for (let i = 0; i < options.bidi; i++) {
      // Raw client: read every reply, and only after the response has ended close the request side.
      await count(report.bidiServerEndsFirst, async () => {
        let close!: () => void;
        const closed = new Promise<void>((r) => (close = r));
        async function* requests(): AsyncGenerator<ExecRequest> {
          yield start(["exit", String(i % 7), String(1 + (i % 3)), "64"]);
          await closed;
        }
        let exitCode: number | undefined;
        let outputs = 0;
        try {
          for await (const reply of host.executeZoneCommand(requests())) {
            if (reply.reply.case === "output") outputs++;
            if (reply.reply.case === "exited") exitCode = reply.reply.value.exitCode;
          }
        } finally {
          close();
        }
        if (exitCode !== i % 7) throw new Error(`exit code ${exitCode}, expected ${i % 7}`);
        if (outputs !== 1 + (i % 3)) throw new Error(`${outputs} output replies, expected ${1 + (i % 3)}`);
      });
      await count(report.bidiExecSession, async () => {
        const chunks: Uint8Array[] = [];
        const session = startExec(
          host,
          { zoneId, command: ["exit", "3", "2", "1000"] },
          { onStdout: (d) => chunks.push(d) },
        );
        const code = await session.exited;
        const bytes = chunks.reduce((n, c) => n + c.length, 0);
        if (code !== 3 || bytes !== 2000)
          throw new Error(`exit ${code} with ${bytes} bytes, expected exit 3 with 2000`);
      });
      await count(report.bidiWritesWhileEnding, async () => {
        const session = startExec(host, { zoneId, command: ["exit", "0", "1", "16"] });
        let writing = true;
        const writer = (async () => {
          while (writing) {
            session.write("keystrokes");
            await new Promise((r) => setImmediate(r));
          }
        })();
        try {
          const code = await session.exited;
          if (code !== 0) throw new Error(`exit ${code}`);
        } finally {
          writing = false;
          await writer;
        }
      });
    }
    for (let i = 0; i < Math.ceil(options.bidi / 10); i++) {
      await count(report.bidiEcho, async () => {
        const input = Buffer.alloc(256 * 1024);
        for (let k = 0; k < input.length; k++) input[k] = (k * 31 + i) & 0xff;
        const out: Uint8Array[] = [];
        const session = startExec(host, { zoneId, command: ["echo"] }, { onStdout: (d) => out.push(d) });
        for (let k = 0; k < input.length; k += 16 * 1024) session.write(input.subarray(k, k + 16 * 1024));
        session.endInput();
        const code = await session.exited;
        const got = Buffer.concat(out);
        const digest = (b: Buffer): string => createHash("sha256").update(b).digest("hex");
        if (code !== 0 || digest(got) !== digest(input))
          throw new Error(
            `echo: exit ${code}, ${got.length} of ${input.length} bytes, intact: ${digest(got) === digest(input)}`,
          );
      });
    }
    return { node: process.version, route: host.route, ...report, ms: Math.round(performance.now() - began) };
  } finally {
    host.close();
  }
}

/**
 * An exec stream is open and answering; the test kills the SSH connection (on the `stream open`
 * line). The stream must fail as `lost` — Connect would say Canceled if the channel's end were
 * not turned into an error — and the next unary call must work once the connection is back.
 */
export async function runLoss(options: RoundsOptions, onOpen: () => void): Promise<LossReport> {
  const host = await ProtectHost.open(options.target, {
    ...(options.sshConfig ? { configFile: options.sshConfig, env: {} } : {}),
    socketPath: options.socketPath,
    ...(options.mode ? { channelMode: options.mode } : {}),
    reconnect: { initialDelayMs: 100, maxDelayMs: 500 },
  });
  try {
    let echoed!: () => void;
    const answering = new Promise<void>((r) => (echoed = r));
    const session = startExec(host, { zoneId, command: ["echo"] }, { onStdout: () => echoed() });
    session.write("ping");
    await answering;
    onOpen();
    let failedAt = 0;
    const cutNoticed = performance.now();
    let streamReason: string | undefined;
    let streamMessage = "the stream did not fail";
    try {
      await session.exited;
    } catch (err) {
      failedAt = performance.now();
      streamReason = (err as { reason?: string }).reason;
      streamMessage = (err as Error).message;
    }
    let callAfterReconnect = false;
    try {
      callAfterReconnect = (await host.status({ timeoutMs: 20_000 })).protectVersion === "transport-fixture";
    } catch {
      // reported as false
    }
    return {
      node: process.version,
      streamReason,
      streamMessage,
      msToFail: Math.round(failedAt - cutNoticed),
      callAfterReconnect,
    };
  } finally {
    host.close();
  }
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const options = JSON.parse(process.argv[2] ?? "{}") as RoundsOptions;
  const run: Promise<unknown> = options.loss
    ? runLoss(options, () => process.stdout.write("stream open\n"))
    : runRounds(options);
  run.then(
    (report) => {
      process.stdout.write(`${JSON.stringify(report)}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
