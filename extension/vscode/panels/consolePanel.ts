/**
 * The console panel's host side: an xterm.js webview attached to a zone's kernel console
 * (AttachZoneConsole, replayable history, no resize) or a workload's console
 * (AttachWorkloadConsole, with resize).
 *
 * Output is addressed by absolute byte offset (see webview/console/protocol.ts). A source gives
 * every chunk its offset — `ConsoleTranscript` below does that bookkeeping, including lining up
 * the history a stream replays after a reconnect with what was already received — and the
 * panel tracks how far it has delivered to its webview, so nothing is shown twice.
 *
 * Like the dashboard, this file imports vscode types only; VS Code comes in as `PanelEnvironment`.
 *
 * Wiring (composition root):
 *   const consoles = ctx.register(new ConsolePanels(env, deps));
 *   ctx.register(vscode.window.registerWebviewPanelSerializer(ConsolePanel.viewType, consoles.serializer));
 *   consoles.show({ kind: "zone", hostId, zoneId });
 * and package.json needs the activation event `onWebviewPanel:zones.console`.
 */
import type * as vscode from "vscode";
import type { DisposableLike } from "../../core/lifecycle";
import type { Event } from "../../core/events";
import { messageOf } from "../../core/errors";
import {
  ConsoleInitNotification,
  ConsoleStatusNotification,
  DiscontinuityNotification,
  OutputNotification,
  consoleSchemas,
  type ConsoleState,
  type ConsoleStatusPayload,
  type ConsoleTarget,
  type ConsoleWebviewMessage,
} from "../../../webview/console/protocol";
import { PanelHost, PanelRegistry, webviewOptions, type PanelEnvironment } from "./panelHost";

/** Output at an absolute position in the console's byte stream. */
export interface ConsoleChunk {
  offset: number;
  data: Uint8Array;
  /** Bytes before this chunk may be missing (history dropped, or a replay that did not line up). */
  gapBefore?: boolean;
}

export type ConsoleStatus = ConsoleStatusPayload;

/**
 * A console stream as the panel sees it. Implementations sit on ProtectHost streams and own
 * reconnecting; `ConsoleTranscript` gives them offsets and replay.
 */
export interface ConsoleSource extends DisposableLike {
  readonly title: string;
  /** Whether terminal resizes reach the other side (terminal_resize). */
  readonly canResize: boolean;
  readonly canWrite: boolean;
  /** Whether the stream is a terminal (PTY); if not, a bare LF in its output starts a new line. */
  readonly isTerminal: boolean;
  readonly status: ConsoleStatus;
  readonly onStatus: Event<ConsoleStatus>;
  /** Live output, in order, with absolute offsets (a chunk may overlap what came before). */
  readonly onOutput: Event<ConsoleChunk>;
  /** Output the source still holds from `fromOffset` on; may start later when older bytes are gone. */
  replay(fromOffset: number): ConsoleChunk[];
  write(data: string): Promise<void>;
  resize(cols: number, rows: number): Promise<void>;
}

export interface ConsoleDependencies {
  /** Opens (or joins) the console of a target; undefined when the target is unknown. Disposed with the panel. */
  open(target: ConsoleTarget): ConsoleSource | undefined;
  /** The clipboard (vscode.env.clipboard). */
  clipboard: { writeText(text: string): Thenable<void> };
}

/** Largest output message; bigger chunks are split so one message stays cheap to post. */
const maxChunkBytes = 256 * 1024;

export class ConsolePanel extends PanelHost<ConsoleState, ConsoleWebviewMessage> {
  static readonly viewType = "zones.console";

  readonly #deps: ConsoleDependencies;
  readonly #source: ConsoleSource | undefined;
  /** End offset of the output this webview document has been sent. */
  #delivered = 0;

  static create(
    env: PanelEnvironment,
    deps: ConsoleDependencies,
    state: ConsoleState,
    viewColumn?: vscode.ViewColumn,
  ): ConsolePanel {
    const panel = env.window.createWebviewPanel(
      ConsolePanel.viewType,
      "Console",
      {
        viewColumn: viewColumn ?? -1 /* ViewColumn.Active; the enum is a runtime value */,
        preserveFocus: false,
      },
      webviewOptions(env.extensionUri),
    );
    return new ConsolePanel(env, deps, panel, state);
  }

  constructor(
    env: PanelEnvironment,
    deps: ConsoleDependencies,
    panel: vscode.WebviewPanel,
    state: ConsoleState,
  ) {
    super(env, panel, state, "console", consoleSchemas.webviewMessage);
    this.#deps = deps;
    this.#source = deps.open(state.target);
    if (this.#source) {
      this.register(this.#source);
      this.register(this.#source.onOutput((chunk) => this.#deliver(chunk)));
      this.register(
        this.#source.onStatus((status) => this.post(ConsoleStatusNotification.create({ status }))),
      );
    }
    panel.title = this.#title();
    this.open({
      title: panel.title,
      script: "console.js",
      styles: ["xterm.css", "console.css"],
      noncedStyles: true,
    });
  }

  protected onMessage(message: ConsoleWebviewMessage): void {
    switch (message.method) {
      case "console/ready":
        this.#onReady(message.params.shownOffset);
        break;
      case "console/input":
        if (this.#source?.canWrite) void this.#call("input", () => this.#source!.write(message.params.data));
        break;
      case "console/resize":
        // The zone kernel console has no size: a resize there changes only the local view.
        if (this.#source?.canResize)
          void this.#call("resize", () => this.#source!.resize(message.params.cols, message.params.rows));
        break;
      case "console/copy":
        void this.#call("copy", async () => this.#deps.clipboard.writeText(message.params.text));
        break;
    }
  }

  #title(): string {
    const t = this.state.target;
    return (
      this.#source?.title ??
      (t.kind === "zone"
        ? `Console: zone ${t.zoneId.slice(0, 8)}`
        : `Console: workload ${t.workloadId.slice(0, 8)}`)
    );
  }

  async #call(what: string, action: () => Promise<unknown>): Promise<void> {
    try {
      await action();
    } catch (err) {
      this.log.warn(`console: ${what} failed: ${messageOf(err)}`);
    }
  }

  #onReady(shownOffset: number): void {
    this.markReady();
    const source = this.#source;
    const status: ConsoleStatus = source?.status ?? {
      state: "ended",
      message: "This console's host or zone is not known.",
    };
    this.send(
      ConsoleInitNotification.create({
        state: this.state,
        title: this.#title(),
        canResize: source?.canResize ?? false,
        canWrite: source?.canWrite ?? false,
        convertEol: !(source?.isTerminal ?? false),
        status,
      }),
    );
    // The webview tells how much it already shows (zero when its document is new).
    this.#delivered = shownOffset;
    if (source) for (const chunk of source.replay(shownOffset)) this.#deliver(chunk);
    this.flushHeld();
  }

  /** Sends the part of a chunk the webview has not had yet. */
  #deliver(chunk: ConsoleChunk): void {
    if (!this.isReady || this.isDisposed) return; // `ready` replays from the source
    const end = chunk.offset + chunk.data.length;
    const skipped = chunk.offset > this.#delivered;
    const broken = chunk.gapBefore === true && chunk.offset === this.#delivered && this.#delivered > 0;
    if (skipped || broken) {
      const reason = chunk.gapBefore
        ? "Output may be missing here: the console was disconnected."
        : "Older output is no longer available.";
      this.send(DiscontinuityNotification.create({ offset: chunk.offset, reason }));
      this.#delivered = chunk.offset;
    }
    if (end <= this.#delivered) return; // already shown
    for (let from = this.#delivered - chunk.offset; from < chunk.data.length; from += maxChunkBytes) {
      const to = Math.min(chunk.data.length, from + maxChunkBytes);
      this.send(
        OutputNotification.create({
          offset: chunk.offset + from,
          data: Buffer.from(chunk.data.subarray(from, to)).toString("base64"),
        }),
      );
    }
    this.#delivered = end;
  }
}

/** Opens one console per target, reveals it when asked again, restores panels after a reload. */
export class ConsolePanels extends PanelRegistry<ConsoleState, ConsolePanel> {
  readonly #env: PanelEnvironment;
  readonly #deps: ConsoleDependencies;

  constructor(env: PanelEnvironment, deps: ConsoleDependencies) {
    super(
      env.logger,
      "console",
      consoleSchemas.state,
      (panel, state) => new ConsolePanel(env, deps, panel, state),
      targetKey,
    );
    this.#env = env;
    this.#deps = deps;
  }

  show(target: ConsoleTarget, viewColumn?: vscode.ViewColumn): ConsolePanel {
    return this.showOrCreate(target, viewColumn, () =>
      ConsolePanel.create(this.#env, this.#deps, { target }, viewColumn),
    );
  }
}

function targetKey(target: ConsoleTarget): string {
  return target.kind === "zone"
    ? `zone:${target.hostId}:${target.zoneId}`
    : `workload:${target.hostId}:${target.workloadId}`;
}

// ── transcript: offsets, history, and replay alignment ───────────────────────────────────────

/**
 * The bytes a console has produced, with absolute offsets, keeping the most recent
 * `capacity` bytes for replay. Sources append what their stream delivers; after a reconnect
 * that replays history (AttachZoneConsole with replay_history), they call `beginReplay()` and
 * the transcript drops the part of the replay it already has.
 *
 * Lining up: the replay is the tail of the same byte stream, so the bytes we hold end somewhere
 * inside it. The alignment is the longest prefix of the replay that is a suffix of what we hold
 * (KMP, linear time); failing that, the last place where our final bytes occur whole inside the
 * replay. When neither exists the chunk is marked `gapBefore`.
 */
export class ConsoleTranscript {
  readonly capacity: number;
  #chunks: ConsoleChunk[] = [];
  #held = 0;
  #end = 0;
  #replaying: Uint8Array[] | null = null;
  #replayBytes = 0;

  /** The daemon keeps 1 MiB of console history; holding the same lets a replay always line up. */
  constructor(capacity = 1024 * 1024) {
    this.capacity = capacity;
  }

  /** Offset just past the last byte. */
  get endOffset(): number {
    return this.#end;
  }

  /** Offset of the oldest byte still held. */
  get startOffset(): number {
    return this.#end - this.#held;
  }

  get isReplaying(): boolean {
    return this.#replaying !== null;
  }

  /** The next bytes from the stream. Returns what is new, ready to deliver (empty while lining up a replay). */
  append(data: Uint8Array): ConsoleChunk[] {
    if (data.length === 0) return [];
    if (this.#replaying) {
      this.#replaying.push(data);
      this.#replayBytes += data.length;
      // Once the replay is at least as long as what we hold, the alignment can be decided.
      return this.#replayBytes >= this.#held ? this.endReplay() : [];
    }
    return [this.#push(data, false)];
  }

  /** A stream was reopened with its history replayed: what follows overlaps what we hold. */
  beginReplay(): void {
    if (!this.#replaying) {
      this.#replaying = [];
      this.#replayBytes = 0;
    }
  }

  /**
   * Decides the alignment with the replay received so far (the source calls this when the
   * replay is over, e.g. after a short quiet spell) and returns the new bytes.
   */
  endReplay(): ConsoleChunk[] {
    const parts = this.#replaying;
    if (!parts) return [];
    this.#replaying = null;
    const replay = concat(parts, this.#replayBytes);
    this.#replayBytes = 0;
    if (replay.length === 0) return [];
    const held = this.#heldBytes();
    if (held.length === 0) return [this.#push(replay, false)];
    const overlap = alignReplay(held, replay);
    if (overlap === null) return [this.#push(replay, true)];
    const fresh = replay.subarray(overlap);
    return fresh.length ? [this.#push(fresh, false)] : [];
  }

  /** Held output from `fromOffset` on (from the oldest held byte when that is later). */
  replay(fromOffset: number): ConsoleChunk[] {
    const out: ConsoleChunk[] = [];
    for (const chunk of this.#chunks) {
      const end = chunk.offset + chunk.data.length;
      if (end <= fromOffset) continue;
      const skip = Math.max(0, fromOffset - chunk.offset);
      const piece: ConsoleChunk = { offset: chunk.offset + skip, data: chunk.data.subarray(skip) };
      if (chunk.gapBefore && skip === 0) piece.gapBefore = true;
      out.push(piece);
    }
    return out;
  }

  #push(data: Uint8Array, gapBefore: boolean): ConsoleChunk {
    const chunk: ConsoleChunk = { offset: this.#end, data: data.slice() };
    if (gapBefore) chunk.gapBefore = true;
    this.#chunks.push(chunk);
    this.#end += data.length;
    this.#held += data.length;
    while (this.#held > this.capacity && this.#chunks.length > 0) {
      const first = this.#chunks[0]!;
      const excess = this.#held - this.capacity;
      if (first.data.length <= excess) {
        this.#chunks.shift();
        this.#held -= first.data.length;
      } else {
        this.#chunks[0] = { offset: first.offset + excess, data: first.data.slice(excess) };
        this.#held -= excess;
      }
    }
    return chunk;
  }

  #heldBytes(): Uint8Array {
    return concat(
      this.#chunks.map((c) => c.data),
      this.#held,
    );
  }
}

/** Minimum overlap found by searching (rather than prefix-matching) for it to be trusted. */
const minSearchOverlap = 32;

/**
 * How many leading bytes of `replay` we already hold, or null when the two cannot be lined up.
 * Exported for tests.
 */
export function alignReplay(held: Uint8Array, replay: Uint8Array): number | null {
  // 1. The replay starts inside what we hold: its longest prefix that is a suffix of `held`.
  //    A short match may be chance ("\r\n"), so it counts only if it covers the whole replay.
  const prefix = longestPrefixSuffix(replay, held);
  if (prefix > 0 && (prefix >= Math.min(minSearchOverlap, held.length) || prefix === replay.length))
    return prefix;
  // 2. The replay starts before what we hold: where our last bytes occur whole inside it.
  return lastOccurrenceEnd(replay, held.subarray(held.length - Math.min(held.length, 4096)));
}

/** Length of the longest prefix of `pattern` that is a suffix of `text` (KMP). */
function longestPrefixSuffix(pattern: Uint8Array, text: Uint8Array): number {
  const failure = prefixFunction(pattern);
  let q = 0;
  for (let i = 0; i < text.length; i++) {
    while (q > 0 && (q === pattern.length || pattern[q] !== text[i])) q = failure[q - 1]!;
    if (pattern[q] === text[i]) q++;
  }
  return q;
}

/** End index of the last occurrence of `pattern` in `text`, or null (KMP). */
function lastOccurrenceEnd(text: Uint8Array, pattern: Uint8Array): number | null {
  if (pattern.length === 0 || pattern.length > text.length) return null;
  const failure = prefixFunction(pattern);
  let q = 0;
  let last: number | null = null;
  for (let i = 0; i < text.length; i++) {
    while (q > 0 && pattern[q] !== text[i]) q = failure[q - 1]!;
    if (pattern[q] === text[i]) q++;
    if (q === pattern.length) {
      last = i + 1;
      q = failure[q - 1]!;
    }
  }
  return last;
}

function prefixFunction(pattern: Uint8Array): Int32Array {
  const failure = new Int32Array(pattern.length);
  let k = 0;
  for (let i = 1; i < pattern.length; i++) {
    while (k > 0 && pattern[k] !== pattern[i]) k = failure[k - 1]!;
    if (pattern[k] === pattern[i]) k++;
    failure[i] = k;
  }
  return failure;
}

function concat(parts: Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
