// Terminals on the real dev host (namespace sandboxes, real PTYs, the local socket): job control
// in a TTY exec, a fast command's whole output before its exit status (exec and workload
// console), calls that end right after their last reply although the client never half-closed,
// back-pressure from a client that stops reading, and a hang-up when the client goes away.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import * as http2 from "node:http2";
import { connect as netConnect } from "node:net";
import { join } from "node:path";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { WorkloadState } from "../../../extension/proto/gen/protect/control/v1/common_pb";
import {
  ExecuteZoneCommandReplySchema,
  ExecuteZoneCommandRequestSchema,
} from "../../../extension/proto/gen/protect/control/v1/control_pb";
import type { ExecuteZoneCommandRequest } from "../../../extension/proto/gen/protect/control/v1/control_pb";
import type { StartedDevHost } from "../../harness/devHost";
import type { UnixClient } from "./client";
import { runExec, waitForWorkload } from "./helpers";
import type { ExecInit, ExecStart } from "./helpers";
import { startZoneFixture } from "./zoneFixture";
import type { ZoneFixture } from "./zoneFixture";

let host: StartedDevHost;
let conn: UnixClient;
let digest: string;
let zoneId: string;
let work: string;
let fixture: ZoneFixture | undefined;

before(async () => {
  fixture = await startZoneFixture({ name: "terminals" });
  ({ host, conn, digest, zoneId, work } = fixture);
});

after(async () => {
  await fixture?.stop();
});

const tty = { rows: 24, columns: 100 };

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function runningWorkload(name: string): Promise<string> {
  const { workloadId } = await conn.client.createWorkload({
    spec: { name, zoneId, image: { digest }, process: { command: ["sleep", "600"] } },
  });
  await waitForWorkload(conn.client, workloadId, [WorkloadState.CREATED]);
  await conn.client.startWorkload({ workloadId });
  await waitForWorkload(conn.client, workloadId, [WorkloadState.RUNNING]);
  return workloadId;
}

/** Fields of /proc/<pid>/stat as a process printed them: pid, pgrp, session, tty_nr, tpgid. */
function statOf(line: string): { pid: number; pgrp: number; session: number; ttyNr: number; tpgid: number } {
  const rest = line.slice(line.lastIndexOf(")") + 2).split(" ");
  return {
    pid: Number(line.split(" ")[0]),
    pgrp: Number(rest[2]),
    session: Number(rest[3]),
    ttyNr: Number(rest[4]),
    tpgid: Number(rest[5]),
  };
}

for (const where of ["zone", "workload"] as const) {
  test(`an interactive shell in a TTY exec (${where}) leads its own session on the terminal: job control works, 'exit 7' is 7`, async () => {
    const workloadId = where === "workload" ? await runningWorkload("job-control") : undefined;
    const start: ExecStart = { command: ["sh"], tty, ...(workloadId ? { workloadId } : {}) };
    const r = await runExec(conn.client, zoneId, start, async (send, output) => {
      send({
        request: { case: "stdin", value: { stdin: Buffer.from('echo "shell=$$"; cat /proc/self/stat\n') } },
      });
      await until(() => /\d+ \(cat\)[^\n]*\n/.test(output()), "cat's stat line");
      send({ request: { case: "stdin", value: { stdin: Buffer.from("exit 7\n") } } });
    });
    assert.doesNotMatch(r.stdout, /Cannot set tty process group|can't access tty|job control turned off/i);
    assert.equal(r.exitCode, 7, r.stdout);
    const shell = Number(/shell=(\d+)/.exec(r.stdout)?.[1]);
    const cat = statOf(/\d+ \(cat\)[^\r\n]*/.exec(r.stdout)![0]);
    assert.equal(cat.session, shell, "the shell is the session leader, with a pid of the zone's namespace");
    assert.notEqual(cat.ttyNr, 0, "the PTY is the session's controlling terminal");
    assert.equal(cat.pgrp, cat.pid, "the shell put its job in a process group of its own");
    assert.equal(cat.tpgid, cat.pgrp, "and made it the terminal's foreground group");
    if (workloadId) await conn.client.destroyWorkload({ workloadId });
  });
}

test("a fast TTY command's output arrives whole before its exit status (20 runs, 100 KB each)", async () => {
  const short: number[] = [];
  for (let i = 0; i < 20; i++) {
    const r = await runExec(conn.client, zoneId, {
      command: ["sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x; echo; echo END-MARK"],
      tty,
    });
    assert.equal(r.exitCode, 0);
    if (!r.stdout.endsWith("x\r\nEND-MARK\r\n") || r.stdout.length !== 100_012)
      short.push(100_012 - r.stdout.length);
  }
  assert.deepEqual(short, [], "runs that lost the end of their output (bytes missing)");
});

test("TTY workloads' consoles hold every byte they printed before they exited (3 rounds of 6 at once)", async () => {
  const bytes = 300_000;
  for (let round = 0; round < 3; round++) {
    // A bulk exec alongside keeps the dev host busy, so its reads of the consoles lag behind
    // the writers as they do on a loaded host: the end of each burst is still in the kernel
    // when the workload exits.
    const stopBusy = new AbortController();
    const busy = (async () => {
      let bytes = 0;
      const requests = execRequests(
        startOf(["cat", "/dev/zero"], false),
        new Promise(() => undefined),
      ) as AsyncIterable<ExecuteZoneCommandRequest>;
      try {
        for await (const r of conn.client.executeZoneCommand(requests, { signal: stopBusy.signal }))
          if (r.reply.case === "output") bytes += r.reply.value.stdout.length;
      } catch (err) {
        if (!(err instanceof ConnectError && err.code === Code.Canceled)) throw err;
      }
      return bytes;
    })();
    const outcomes = await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        const { workloadId } = await conn.client.createWorkload({
          spec: {
            name: `burst-${round}-${i}`,
            zoneId,
            image: { digest },
            process: {
              command: ["sh", "-c", `head -c ${bytes} /dev/zero | tr '\\0' z; echo; echo END-MARK`],
              tty: true,
            },
          },
        });
        await waitForWorkload(conn.client, workloadId, [WorkloadState.CREATED]);
        await conn.client.startWorkload({ workloadId });
        await waitForWorkload(conn.client, workloadId, [WorkloadState.COMPLETED, WorkloadState.FAILED]);
        let out = "";
        for await (const r of conn.client.attachWorkloadConsole(
          (async function* () {
            yield { workloadId };
          })(),
        ))
          out += Buffer.from(r.stdout).toString();
        await conn.client.destroyWorkload({ workloadId });
        return out;
      }),
    );
    stopBusy.abort();
    assert.ok((await busy) > 0);
    const short = outcomes
      .filter((out) => out.length !== bytes + 12 || !out.endsWith("z\r\nEND-MARK\r\n"))
      .map((out) => bytes + 12 - out.length);
    assert.deepEqual(short, [], `round ${round}: consoles that lost the end of their output (bytes missing)`);
  }
});

/** Requests for an exec: `start`, then nothing; the request side stays open until `close` resolves. */
async function* execRequests(start: ExecInit, close: Promise<void>): AsyncGenerator<ExecInit> {
  yield start;
  await close;
}

function startOf(command: string[], withTty: boolean): ExecInit {
  return {
    request: {
      case: "start",
      value: { zoneId, process: { command, tty: withTty, ...(withTty ? { terminalSize: tty } : {}) } },
    },
  };
}

test("a client that never half-closes gets every reply and the exit code, and the call ends right after it", async () => {
  for (const withTty of [false, true]) {
    let release: () => void = () => undefined;
    const close = new Promise<void>((r) => (release = r));
    let out = "";
    let exitCode: number | undefined;
    let exitedAt = 0;
    try {
      const replies = conn.client.executeZoneCommand(
        execRequests(
          startOf(["sh", "-c", "seq 1 20000; exit 3"], withTty),
          close,
        ) as AsyncIterable<ExecuteZoneCommandRequest>,
      );
      for await (const r of replies) {
        if (r.reply.case === "output") out += Buffer.from(r.reply.value.stdout).toString();
        if (r.reply.case === "exited") {
          exitCode = r.reply.value.exitCode;
          exitedAt = performance.now();
        }
      }
    } finally {
      release();
    }
    const endedMs = performance.now() - exitedAt;
    assert.equal(exitCode, 3);
    assert.match(out, withTty ? /\r\n19999\r\n20000\r\n$/ : /\n19999\n20000\n$/);
    // The dev host used to wait 250 ms for a half-close that this client never sends.
    assert.ok(endedMs < 150, `the call ended ${endedMs.toFixed(0)} ms after 'exited'`);
  }
});

/**
 * ExecuteZoneCommand over a bare HTTP/2 stream (no Connect client, no compression offered), so
 * that "not reading" means exactly this: paused, the stream's flow-control window closes after
 * 64 KiB. (With gzip accepted, a server that compresses fits tens of MB of zeros in that window,
 * which would hide what the dev host itself buffers.)
 */
function rawExec(start: ExecInit): {
  paused(): Promise<void>;
  resume(): void;
  done: Promise<{ bytes: number; exitCode: number | undefined }>;
} {
  const session = http2.connect("http://localhost", { createConnection: () => netConnect(host.socketPath) });
  session.on("error", () => undefined);
  const stream = session.request({
    ":method": "POST",
    ":path": "/protect.control.v1.ControlService/ExecuteZoneCommand",
    "content-type": "application/grpc+proto",
    te: "trailers",
  });
  const message = toBinary(ExecuteZoneCommandRequestSchema, create(ExecuteZoneCommandRequestSchema, start));
  const envelope = Buffer.alloc(5);
  envelope.writeUInt32BE(message.length, 1);
  stream.write(Buffer.concat([envelope, message])); // the request side stays open: no half-close
  let firstData: () => void = () => undefined;
  const gotData = new Promise<void>((r) => (firstData = r));
  let buffered = Buffer.alloc(0);
  let bytes = 0;
  let exitCode: number | undefined;
  stream.on("data", (d: Buffer) => {
    buffered = Buffer.concat([buffered, d]);
    while (buffered.length >= 5 && buffered.length >= 5 + buffered.readUInt32BE(1)) {
      const reply = fromBinary(
        ExecuteZoneCommandReplySchema,
        buffered.subarray(5, 5 + buffered.readUInt32BE(1)),
      );
      buffered = buffered.subarray(5 + buffered.readUInt32BE(1));
      if (reply.reply.case === "output") bytes += reply.reply.value.stdout.length;
      if (reply.reply.case === "exited") exitCode = reply.reply.value.exitCode;
    }
    firstData();
  });
  const done = new Promise<{ bytes: number; exitCode: number | undefined }>((resolve, reject) => {
    stream.on("error", reject);
    stream.on("close", () => {
      session.close();
      resolve({ bytes, exitCode });
    });
  });
  return {
    paused: async () => {
      await gotData;
      stream.pause();
    },
    resume: () => stream.resume(),
    done,
  };
}

test("a client that stops reading holds the command up (back-pressure), then gets every byte", async () => {
  for (const withTty of [false, true]) {
    const marker = join(work, `finished-${withTty ? "tty" : "pipes"}`);
    const size = 20_000_000;
    const script = withTty
      ? `head -c ${size} /dev/zero | tr '\\0' y; echo finished > "$1"`
      : `head -c ${size} /dev/zero; echo finished > "$1"`;
    const exec = rawExec(startOf(["sh", "-c", script, "sh", marker], withTty));
    await exec.paused();
    await new Promise((r) => setTimeout(r, 1500));
    assert.ok(
      !existsSync(marker),
      `the command wrote all ${size} bytes while nobody read them: the dev host buffered them`,
    );
    exec.resume();
    const { bytes, exitCode } = await exec.done;
    assert.equal(exitCode, 0);
    assert.equal(bytes, size);
    assert.equal(readFileSync(marker, "utf8"), "finished\n");
  }
});

test("a client that goes away hangs its exec up: the process in the zone gets SIGHUP (TTY and pipes)", async () => {
  for (const withTty of [true, false]) {
    const marker = join(work, `hup-${withTty ? "tty" : "pipes"}`);
    const abort = new AbortController();
    let out = "";
    const script = "trap 'echo hup > \"$1\"; exit 0' HUP; echo ready; while :; do sleep 0.05; done";
    const call = (async () => {
      for await (const r of conn.client.executeZoneCommand(
        execRequests(
          startOf(["sh", "-c", script, "sh", marker], withTty),
          new Promise(() => undefined),
        ) as AsyncIterable<ExecuteZoneCommandRequest>,
        { signal: abort.signal },
      )) {
        if (r.reply.case === "output") out += Buffer.from(r.reply.value.stdout).toString();
      }
    })();
    await until(() => out.includes("ready"), "the command to start");
    abort.abort();
    await assert.rejects(call, (err: unknown) => err instanceof ConnectError && err.code === Code.Canceled);
    await until(() => existsSync(marker), `SIGHUP to reach the ${withTty ? "TTY" : "piped"} command`, 3_000);
    assert.equal(readFileSync(marker, "utf8"), "hup\n");
  }
});
