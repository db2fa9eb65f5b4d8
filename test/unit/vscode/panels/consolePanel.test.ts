import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Emitter } from "../../../../extension/core/events";
import {
  alignReplay,
  ConsolePanel,
  ConsolePanels,
  ConsoleTranscript,
  type ConsoleChunk,
  type ConsoleSource,
  type ConsoleStatus,
} from "../../../../extension/vscode/panels/consolePanel";
import type { ConsoleTarget } from "../../../../webview/console/protocol";
import { settle } from "../../metrics/fakeClock";
import {
  asPanel,
  FakePanel,
  fakeEnvironment,
  randomValue,
  seededRandom,
  type Posted,
} from "../../../harness/fakeVscode";

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (chunks: { data: Uint8Array }[]): string =>
  chunks.map((c) => new TextDecoder().decode(c.data)).join("");

describe("ConsoleTranscript", () => {
  it("numbers live output by byte offset and replays from any offset", () => {
    const t = new ConsoleTranscript();
    assert.deepEqual(
      t.append(enc("boot\n")).map((c) => c.offset),
      [0],
    );
    assert.deepEqual(
      t.append(enc("login: ")).map((c) => c.offset),
      [5],
    );
    assert.equal(t.endOffset, 12);
    assert.equal(dec(t.replay(0)), "boot\nlogin: ");
    assert.equal(dec(t.replay(7)), "gin: ");
    assert.deepEqual(t.replay(12), []);
  });

  it("keeps only its capacity, dropping the oldest bytes", () => {
    const t = new ConsoleTranscript(10);
    t.append(enc("0123456789"));
    t.append(enc("abcde"));
    assert.equal(t.startOffset, 5);
    assert.equal(dec(t.replay(0)), "56789abcde");
    assert.equal(t.replay(0)[0]!.offset, 5);
  });

  it("drops the already-seen part of a replayed history after a reconnect", () => {
    const t = new ConsoleTranscript();
    t.append(enc("[    0.000] Linux version 6.1\n[    0.100] init: starting\n"));
    t.append(enc("login: "));
    // the stream dropped; the zone printed more meanwhile; the new stream replays its whole history first
    t.beginReplay();
    const history =
      "[    0.000] Linux version 6.1\n[    0.100] init: starting\nlogin: [   42.000] eth0: link up\n";
    const out = t.append(enc(history));
    assert.equal(dec(out), "[   42.000] eth0: link up\n");
    assert.equal(
      out[0]!.offset,
      enc("[    0.000] Linux version 6.1\n[    0.100] init: starting\nlogin: ").length,
    );
    assert.equal(out[0]!.gapBefore, undefined);
    assert.equal(dec(t.append(enc("more\n"))), "more\n", "live again after the replay");
  });

  it("lines up a replay that starts before what it holds (the daemon's ring is longer)", () => {
    const t = new ConsoleTranscript(64);
    const stream = Array.from({ length: 20 }, (_, i) => `line ${i} ${"x".repeat(i)}\n`).join("");
    t.append(enc(stream));
    t.beginReplay();
    const out = t.append(enc(stream + "new line\n"));
    assert.equal(dec(out), "new line\n");
  });

  it("waits for enough replay to decide, and can be told the replay is over", () => {
    const t = new ConsoleTranscript();
    t.append(enc("abcdefghij".repeat(10)));
    t.beginReplay();
    assert.deepEqual(t.append(enc("abcdefghij".repeat(5))), [], "still lining up");
    assert.ok(t.isReplaying);
    const out = t.endReplay();
    assert.deepEqual(out, [], "a replay that is all old output adds nothing");
    assert.equal(t.isReplaying, false);
  });

  it("marks a gap when the replay has nothing in common with what it holds", () => {
    const t = new ConsoleTranscript();
    t.append(enc("old output that the host no longer has\n"));
    t.beginReplay();
    t.append(enc("completely different text\n"));
    const out = t.endReplay();
    assert.equal(out.length, 1);
    assert.equal(out[0]!.gapBefore, true);
    assert.equal(dec(out), "completely different text\n");
    assert.equal(t.replay(0)[1]!.gapBefore, true, "the gap is remembered for later replays");
  });

  it("does not trust a short chance overlap", () => {
    const held = enc("some earlier output\r\n");
    const replay = enc("\r\nunrelated history, much longer than the chance match\r\n");
    assert.equal(alignReplay(held, replay), null);
    assert.equal(alignReplay(enc("abc"), enc("abc")), 3, "a replay wholly contained counts");
  });
});

/** A console source driven by the test. */
class FakeSource implements ConsoleSource {
  readonly title = "Console: web";
  readonly isTerminal = false;
  readonly transcript = new ConsoleTranscript();
  status: ConsoleStatus = { state: "connected" };
  readonly #onStatus = new Emitter<ConsoleStatus>();
  readonly onStatus = this.#onStatus.event;
  readonly #onOutput = new Emitter<ConsoleChunk>();
  readonly onOutput = this.#onOutput.event;
  writes: string[] = [];
  resizes: [number, number][] = [];
  disposed = false;
  constructor(
    readonly canResize: boolean,
    readonly canWrite = true,
  ) {}
  emit(text: string): void {
    for (const chunk of this.transcript.append(enc(text))) this.#onOutput.fire(chunk);
  }
  reconnectWithHistory(history: string): void {
    this.transcript.beginReplay();
    this.emit(history);
    for (const chunk of this.transcript.endReplay()) this.#onOutput.fire(chunk);
  }
  setStatus(status: ConsoleStatus): void {
    this.status = status;
    this.#onStatus.fire(status);
  }
  replay(fromOffset: number): ConsoleChunk[] {
    return this.transcript.replay(fromOffset);
  }
  async write(data: string): Promise<void> {
    this.writes.push(data);
  }
  async resize(cols: number, rows: number): Promise<void> {
    this.resizes.push([cols, rows]);
  }
  dispose(): void {
    this.disposed = true;
  }
}

function setup(canResize = false) {
  const source = new FakeSource(canResize);
  const copied: string[] = [];
  const { env, panels, logs } = fakeEnvironment();
  const deps = {
    open: (_t: ConsoleTarget) => source,
    clipboard: { writeText: async (t: string) => void copied.push(t) },
  };
  const panel = ConsolePanel.create(env, deps, { target: { kind: "zone", hostId: "devhost", zoneId: "z1" } });
  return { source, copied, env, deps, panel, fake: panels[0]!, logs };
}

/** What the webview would show: output messages decoded in order, gaps marked. */
function screenText(posted: Posted[]): string {
  let shown = 0;
  let text = "";
  for (const m of posted) {
    if (m.method === "console/discontinuity") {
      text += "⟨gap⟩";
      shown = m.params.offset as number;
    }
    if (m.method !== "console/output") continue;
    const bytes = Buffer.from(m.params.data as string, "base64");
    const offset = m.params.offset as number;
    const skip = Math.max(0, shown - offset);
    text += bytes.subarray(skip).toString("utf8");
    shown = Math.max(shown, offset + bytes.length);
  }
  return text;
}

describe("ConsolePanel", () => {
  it("serves the xterm page under a CSP that allows only nonce'd styles besides its own files", () => {
    const { fake, panel } = setup();
    const csp = /content="([^"]+)"/.exec(fake.webview.html)![1]!;
    const nonce = /script-src 'nonce-([^']+)'/.exec(csp)![1]!;
    assert.match(
      csp,
      new RegExp(`style-src https://webview\\.test 'nonce-${nonce.replace(/[+/=]/g, "\\$&")}'`),
    );
    assert.doesNotMatch(csp, /unsafe/);
    assert.ok(fake.webview.html.includes("dist/webview/console.js"));
    assert.ok(!fake.webview.html.includes("z1"));
    panel.dispose();
  });

  it("sends nothing before ready, then init and the history, then live output once", async () => {
    const { source, fake, panel } = setup();
    source.emit("boot line 1\r\n");
    assert.equal(fake.webview.posted.length, 0);
    fake.webview.send({ method: "console/ready", params: { shownOffset: 0 } });
    assert.equal(fake.webview.posted[0]!.method, "console/init");
    assert.deepEqual(fake.webview.posted[0]!.params.status, { state: "connected" });
    source.emit("boot line 2\r\n");
    assert.equal(screenText(fake.webview.posted), "boot line 1\r\nboot line 2\r\n");
    panel.dispose();
    assert.equal(source.disposed, true, "the source goes with the panel");
  });

  it("after a reconnect with history replay, shows only what is new", () => {
    const { source, fake, panel } = setup();
    fake.webview.send({ method: "console/ready", params: { shownOffset: 0 } });
    source.emit("Linux version 6.1\r\n");
    source.emit("login: ");
    source.setStatus({ state: "reconnecting", message: "SSH connection lost" });
    source.reconnectWithHistory("Linux version 6.1\r\nlogin: root\r\n# ");
    source.setStatus({ state: "connected" });
    assert.equal(screenText(fake.webview.posted), "Linux version 6.1\r\nlogin: root\r\n# ");
    const statuses = fake.webview.ofMethod("console/status").map((m) => m.params.status.state as string);
    assert.deepEqual(statuses, ["reconnecting", "connected"]);
    panel.dispose();
  });

  it("gives a re-created webview the history it lacks, and one that kept its screen only the rest", () => {
    const { source, fake, panel } = setup();
    fake.webview.send({ method: "console/ready", params: { shownOffset: 0 } });
    source.emit("first\r\n");
    fake.setVisible(false);
    source.emit("while hidden\r\n");
    fake.setVisible(true);
    const before = fake.webview.posted.length;
    fake.webview.send({ method: "console/ready", params: { shownOffset: 0 } });
    assert.equal(screenText(fake.webview.posted.slice(before)), "first\r\nwhile hidden\r\n");
    const again = fake.webview.posted.length;
    fake.webview.send({ method: "console/ready", params: { shownOffset: 7 } });
    assert.equal(screenText(fake.webview.posted.slice(again)), "while hidden\r\n");
    panel.dispose();
  });

  it("tells the webview when older output is gone", () => {
    const source = new FakeSource(false);
    (source as unknown as { transcript: ConsoleTranscript }).transcript = new ConsoleTranscript(8);
    const { env, panels } = fakeEnvironment();
    const panel = ConsolePanel.create(
      env,
      { open: () => source, clipboard: { writeText: async () => {} } },
      { target: { kind: "zone", hostId: "h", zoneId: "z" } },
    );
    source.emit("0123456789abcdef");
    panels[0]!.webview.send({ method: "console/ready", params: { shownOffset: 0 } });
    const gap = panels[0]!.webview.ofMethod("console/discontinuity")[0]!;
    assert.equal(gap.params.offset, 8);
    assert.equal(screenText(panels[0]!.webview.posted), "⟨gap⟩89abcdef");
    panel.dispose();
  });

  it("forwards input, copies to the clipboard, and resizes only where the stream supports it", async () => {
    const zone = setup(false);
    zone.fake.webview.send({ method: "console/ready", params: { shownOffset: 0 } });
    zone.fake.webview.send({ method: "console/input", params: { data: "ls\r" } });
    zone.fake.webview.send({ method: "console/resize", params: { cols: 120, rows: 40 } });
    zone.fake.webview.send({ method: "console/copy", params: { text: "selected" } });
    await settle();
    assert.deepEqual(zone.source.writes, ["ls\r"]);
    assert.deepEqual(zone.source.resizes, [], "the zone console has no size");
    assert.deepEqual(zone.copied, ["selected"]);
    assert.equal(zone.fake.webview.ofMethod("console/init")[0]!.params.canResize, false);
    zone.panel.dispose();

    const workload = setup(true);
    workload.fake.webview.send({ method: "console/resize", params: { cols: 120, rows: 40 } });
    await settle();
    assert.deepEqual(workload.source.resizes, [[120, 40]]);
    workload.panel.dispose();
  });

  it("restores from valid state and closes a panel restored with bad state", async () => {
    const { env } = fakeEnvironment();
    const source = new FakeSource(true);
    const consoles = new ConsolePanels(env, { open: () => source, clipboard: { writeText: async () => {} } });
    const good = new FakePanel(ConsolePanel.viewType, "old", {});
    await consoles.serializer.deserializeWebviewPanel(asPanel(good), {
      target: { kind: "workload", hostId: "h", workloadId: "w1" },
    });
    assert.equal(good.disposed, false);
    assert.equal(consoles.openPanels.length, 1);
    const bad = new FakePanel(ConsolePanel.viewType, "old", {});
    await consoles.serializer.deserializeWebviewPanel(asPanel(bad), {
      target: { kind: "workload", hostId: "h" },
      history: "x",
    });
    assert.equal(bad.disposed, true);
    consoles.show({ kind: "workload", hostId: "h", workloadId: "w1" });
    assert.equal(good.revealed, 1);
    consoles.dispose();
    assert.equal(good.disposed, true);
  });
});

function validByHand(m: unknown): boolean {
  if (typeof m !== "object" || m === null || Array.isArray(m)) return false;
  const o = m as Record<string, unknown>;
  const plain = (v: unknown): v is Record<string, unknown> =>
    typeof v === "object" && v !== null && !Array.isArray(v);
  const p = o["params"];
  if (Object.keys(o).sort().join() !== "method,params" || !plain(p)) return false;
  const keys = Object.keys(p).sort().join();
  const int = (v: unknown, lo: number, hi: number) =>
    typeof v === "number" && Number.isInteger(v) && v >= lo && v <= hi;
  switch (o["method"]) {
    case "console/ready":
      return keys === "shownOffset" && int(p["shownOffset"], 0, Number.MAX_SAFE_INTEGER);
    case "console/input":
      return (
        keys === "data" && typeof p["data"] === "string" && p["data"].length >= 1 && p["data"].length <= 65536
      );
    case "console/resize":
      return keys === "cols,rows" && int(p["cols"], 1, 1000) && int(p["rows"], 1, 500);
    case "console/copy":
      return keys === "text" && typeof p["text"] === "string" && p["text"].length <= 4 * 1024 * 1024;
    default:
      return false;
  }
}

function mutated(rand: () => number): unknown {
  const bases: (() => Record<string, unknown>)[] = [
    () => ({ method: "console/ready", params: { shownOffset: 0 } }),
    () => ({ method: "console/input", params: { data: "ls\r" } }),
    () => ({ method: "console/resize", params: { cols: 80, rows: 24 } }),
    () => ({ method: "console/copy", params: { text: "x" } }),
  ];
  const m = bases[Math.floor(rand() * bases.length)]!();
  const params = m["params"] as Record<string, unknown>;
  const bad = [
    0,
    -1,
    1.5,
    1001,
    501,
    NaN,
    Infinity,
    "80",
    null,
    true,
    [],
    {},
    "",
    "x".repeat(70_000),
    2 ** 60,
  ];
  switch (Math.floor(rand() * 7)) {
    case 0:
      delete m["params"];
      break;
    case 1:
      m["params"] = [null, 1, "x", [], false][Math.floor(rand() * 5)];
      break;
    case 2:
      m["id"] = randomValue(rand);
      break;
    case 3:
      params["extra"] = randomValue(rand);
      break;
    case 4:
      m["method"] = ["console/Input", "console/output", "console/init", "dashboard/resize", ""][
        Math.floor(rand() * 5)
      ];
      break;
    case 5:
      for (const k of Object.keys(params)) params[k] = bad[Math.floor(rand() * bad.length)];
      break;
    default:
      return randomValue(rand);
  }
  return m;
}

describe("ConsolePanel fuzz", () => {
  it("survives 10 000 random and malformed messages without writing, resizing or copying", async () => {
    const { source, copied, panel, fake, logs } = setup(true);
    const rand = seededRandom(424242);
    let sent = 0;
    while (sent < 10_000) {
      const message = mutated(rand);
      if (validByHand(message)) continue;
      assert.doesNotThrow(() => panel.handleMessage(message));
      fake.webview.send(message);
      sent++;
    }
    await settle();
    assert.deepEqual(source.writes, []);
    assert.deepEqual(source.resizes, []);
    assert.deepEqual(copied, []);
    assert.equal(fake.webview.posted.length, 0, "no malformed ready was taken for a real one");
    assert.ok(logs.filter((l) => l.startsWith("warn:")).length < 60);
    fake.webview.send({ method: "console/input", params: { data: "ok" } });
    await settle();
    assert.deepEqual(source.writes, ["ok"], "still works afterwards");
    panel.dispose();
  });
});
