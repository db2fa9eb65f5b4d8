// The terminal's contract with VS Code, against a fake exec boundary: the remote PTY starts at
// the size VS Code opens it with, every resize is sent, the exit code is printed and reported,
// and a lost connection is said in the terminal with Enter starting a new shell.
import { test } from "node:test";
import assert from "node:assert/strict";
import { silentLogger } from "../../../../extension/core/log";
import { ProtectError } from "../../../../extension/core/protect/errors";
import type { ExecRpc } from "../../../../extension/core/terminal/execSession";
import type { ExecOptions, ExecRequest, TerminalSize } from "../../../../extension/core/terminal/execSession";
import { ZonePty } from "../../../../extension/vscode/terminal/zonePty";
import type { PtyBackend, PtyProcess, PtyState } from "../../../../extension/vscode/terminal/zonePty";

class FakeProcess implements PtyProcess {
  readonly input: string[] = [];
  readonly resizes: TerminalSize[] = [];
  cancelled = false;
  readonly exited: Promise<number>;
  exit!: (code: number) => void;
  fail!: (err: Error) => void;

  constructor(
    readonly request: ExecRequest,
    readonly options: ExecOptions,
  ) {
    this.exited = new Promise((resolve, reject) => {
      this.exit = resolve;
      this.fail = reject;
    });
  }

  write(data: Uint8Array | string): void {
    this.input.push(typeof data === "string" ? data : Buffer.from(data).toString("utf8"));
  }

  resize(size: TerminalSize): void {
    this.resizes.push(size);
  }

  cancel(): void {
    this.cancelled = true;
  }

  print(text: string): void {
    this.options.onStdout?.(Buffer.from(text, "utf8"));
  }
}

function setup(shell?: string[]) {
  const processes: FakeProcess[] = [];
  const backend: PtyBackend = {
    host: async () => ({}) as ExecRpc,
    pickShell: async () => ["/bin/bash", "-l"],
    start: (_client, request, options) => {
      const p = new FakeProcess(request, options);
      processes.push(p);
      return p;
    },
    logger: silentLogger,
  };
  const pty = new ZonePty(
    {
      hostId: "h",
      hostLabel: "dev",
      zoneId: "z1",
      zoneName: "web",
      workloadId: "w1",
      workloadName: "app",
      user: "node",
      workingDirectory: "/workspaces/app",
      env: { A: "1" },
      ...(shell ? { shell } : {}),
    },
    backend,
  );
  const written: string[] = [];
  const closed: (number | void)[] = [];
  pty.onDidWrite((t) => written.push(t));
  pty.onDidClose((c) => closed.push(c));
  const until = async (state: PtyState): Promise<void> => {
    for (let i = 0; i < 200 && pty.state !== state; i++) await new Promise((r) => setTimeout(r, 1));
    assert.equal(pty.state, state);
  };
  return { pty, processes, written, closed, until };
}

test("the remote PTY starts at the opened size and every resize reaches it", async () => {
  const { pty, processes, until } = setup();
  pty.open({ rows: 33, columns: 101 });
  await until("running");
  const p = processes[0]!;
  assert.deepEqual(p.request.tty, { rows: 33, columns: 101 });
  assert.deepEqual(p.request.command, ["/bin/bash", "-l"]);
  assert.equal(p.request.workloadId, "w1");
  assert.equal(p.request.user, "node");
  assert.equal(p.request.workingDirectory, "/workspaces/app");
  assert.equal(p.request.env?.["TERM"], "xterm-256color");
  assert.equal(p.request.env?.["A"], "1");
  pty.setDimensions({ rows: 40, columns: 120 });
  pty.setDimensions({ rows: 0, columns: 0 }); // VS Code sends this while hidden: not a size
  pty.setDimensions({ rows: 41, columns: 121 });
  assert.deepEqual(p.resizes, [
    { rows: 40, columns: 120 },
    { rows: 41, columns: 121 },
  ]);
});

test("a size set before the process exists is the one it starts with", async () => {
  const { pty, processes, until } = setup();
  pty.open(undefined);
  pty.setDimensions({ rows: 50, columns: 200 });
  await until("running");
  assert.deepEqual(processes[0]!.request.tty, { rows: 50, columns: 200 });
});

test("input goes to the process; output comes out decoded even when a character is split", async () => {
  const { pty, processes, written, until } = setup(["/bin/sh"]);
  pty.open({ rows: 24, columns: 80 });
  await until("running");
  const p = processes[0]!;
  assert.deepEqual(p.request.command, ["/bin/sh"], "the configured shell, as argv");
  pty.handleInput("echo hi\r");
  assert.deepEqual(p.input, ["echo hi\r"]);
  const euro = Buffer.from("€", "utf8");
  p.options.onStdout?.(euro.subarray(0, 1));
  p.options.onStdout?.(euro.subarray(1));
  assert.equal(written.join(""), "€");
});

test("a clean exit prints the code and closes with it", async () => {
  const { pty, processes, written, closed, until } = setup();
  pty.open({ rows: 24, columns: 80 });
  await until("running");
  processes[0]!.exit(0);
  await until("closed");
  assert.match(written.join(""), /\[process exited with code 0\]/);
  assert.deepEqual(closed, [0]);
});

test("a failing exit stays open with its code until a key is pressed", async () => {
  const { pty, processes, written, closed, until } = setup();
  pty.open({ rows: 24, columns: 80 });
  await until("running");
  processes[0]!.exit(3);
  await until("exited");
  assert.match(written.join(""), /\[process exited with code 3\]/);
  assert.deepEqual(closed, []);
  assert.equal(pty.exitCode, 3);
  pty.handleInput("x");
  assert.deepEqual(closed, [3]);
});

test("a lost connection is said in the terminal; Enter starts a new shell at the current size", async () => {
  const { pty, processes, written, closed, until } = setup();
  pty.open({ rows: 24, columns: 80 });
  await until("running");
  processes[0]!.fail(new ProtectError("lost", "ExecuteZoneCommand on dev: connection reset"));
  await until("lost");
  assert.match(written.join(""), /\[connection to dev lost: ExecuteZoneCommand on dev: connection reset\]/);
  assert.match(written.join(""), /Press Enter/);
  pty.setDimensions({ rows: 30, columns: 90 });
  pty.handleInput("\r");
  await until("running");
  assert.equal(processes.length, 2);
  assert.deepEqual(processes[1]!.request.tty, { rows: 30, columns: 90 });
  assert.match(written.join(""), /Reconnecting to workload app in zone web on dev/);
  assert.deepEqual(closed, []);
});

test("any other key after a loss closes the terminal", async () => {
  const { pty, processes, closed, until } = setup();
  pty.open({ rows: 24, columns: 80 });
  await until("running");
  processes[0]!.fail(new ProtectError("unreachable", "dev is not connected"));
  await until("lost");
  pty.handleInput("q");
  assert.deepEqual(closed, [undefined]);
});

test("closing the terminal cancels the remote process and ignores its late exit", async () => {
  const { pty, processes, written, closed, until } = setup();
  pty.open({ rows: 24, columns: 80 });
  await until("running");
  pty.close();
  assert.equal(processes[0]!.cancelled, true);
  processes[0]!.exit(129);
  await new Promise((r) => setTimeout(r, 10));
  assert.doesNotMatch(written.join(""), /exited/);
  assert.deepEqual(closed, []);
});
