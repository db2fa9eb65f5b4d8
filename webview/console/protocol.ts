/**
 * The console panel's protocol: the one contract between its host
 * (extension/vscode/panels/consolePanel.ts) and its webview (webview/console/main.ts).
 *
 * Output is addressed by byte offset in the console's whole output stream, so nothing is shown
 * twice: the host assigns every chunk its offset (aligning a stream's replayed history after a
 * reconnect), tracks how far it has delivered to this webview, and sends only what lies beyond;
 * the webview also drops any byte below the offset it has already written. A webview that is
 * created again (VS Code destroys hidden ones) says in `ready` how far it got — zero when fresh
 * — and the host replays what it still holds from there.
 */
import * as z from "zod";
import { IpcCommand, IpcNotification } from "../common/ipc";

/** What a console panel is attached to. */
export type ConsoleTarget =
  { kind: "zone"; hostId: string; zoneId: string } | { kind: "workload"; hostId: string; workloadId: string };

/** The UI state a panel persists across window reloads. */
export interface ConsoleState {
  target: ConsoleTarget;
}

export type ConsoleStatusPayload =
  | { state: "connecting" }
  | { state: "connected" }
  | { state: "reconnecting"; message: string }
  | { state: "ended"; message: string; exitCode?: number };

export interface ConsoleInitParams {
  state: ConsoleState;
  title: string;
  /** Whether a terminal resize reaches the other side (workload consoles yes, zone kernel console no). */
  canResize: boolean;
  /** Whether input is accepted. */
  canWrite: boolean;
  /**
   * Whether a bare LF starts a new line. True for streams that are not a terminal (the dev
   * host's zone console is a pipe); a PTY's output goes to xterm untouched.
   */
  convertEol: boolean;
  status: ConsoleStatusPayload;
}

/** Bytes of output at an absolute offset; `data` is base64 (messages are JSON-serialised). */
export interface OutputParams {
  offset: number;
  data: string;
}

// ── host → webview ───────────────────────────────────────────────────────────────────────────
export const ConsoleInitNotification = new IpcNotification<"console/init", ConsoleInitParams>("console/init");
export const OutputNotification = new IpcNotification<"console/output", OutputParams>("console/output");
/**
 * Output between the webview's offset and `offset` is gone (the host's history no longer holds
 * it, or a reconnect could not line up with what was shown): the webview says so in the terminal.
 */
export const DiscontinuityNotification = new IpcNotification<
  "console/discontinuity",
  { offset: number; reason: string }
>("console/discontinuity");
export const ConsoleStatusNotification = new IpcNotification<
  "console/status",
  { status: ConsoleStatusPayload }
>("console/status");

// ── webview → host ───────────────────────────────────────────────────────────────────────────
/** Loaded and listening; `shownOffset` is how many bytes of output it already displays. */
export const ConsoleReadyCommand = new IpcCommand<"console/ready", { shownOffset: number }>("console/ready");
/** Keyboard input (xterm's onData), as text. */
export const InputCommand = new IpcCommand<"console/input", { data: string }>("console/input");
/** The terminal's size changed (after fit). */
export const ResizeCommand = new IpcCommand<"console/resize", { cols: number; rows: number }>(
  "console/resize",
);
/** Put the selection on the clipboard (the host owns the clipboard). */
export const CopyCommand = new IpcCommand<"console/copy", { text: string }>("console/copy");

/** Limits the host enforces on what the webview sends. */
export const consoleLimits = {
  maxInputChars: 64 * 1024,
  maxCopyChars: 4 * 1024 * 1024,
  maxCols: 1000,
  maxRows: 500,
} as const;

// ── validation (host side) ───────────────────────────────────────────────────────────────────
// Built in one function whose call is marked pure, so the webview bundle drops zod entirely.

function buildSchemas() {
  const hostIdSchema = z.string().min(1).max(512);
  const idSchema = z.string().min(1).max(256);
  return {
    /** Every message the webview may send. Anything else is ignored and logged. */
    webviewMessage: z.discriminatedUnion("method", [
      z
        .object({
          method: z.literal(ConsoleReadyCommand.method),
          params: z.object({ shownOffset: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER) }).strict(),
        })
        .strict(),
      z
        .object({
          method: z.literal(InputCommand.method),
          params: z.object({ data: z.string().min(1).max(consoleLimits.maxInputChars) }).strict(),
        })
        .strict(),
      z
        .object({
          method: z.literal(ResizeCommand.method),
          params: z
            .object({
              cols: z.number().int().min(1).max(consoleLimits.maxCols),
              rows: z.number().int().min(1).max(consoleLimits.maxRows),
            })
            .strict(),
        })
        .strict(),
      z
        .object({
          method: z.literal(CopyCommand.method),
          params: z.object({ text: z.string().max(consoleLimits.maxCopyChars) }).strict(),
        })
        .strict(),
    ]),
    /** The persisted state, checked before a restored panel trusts it. */
    state: z
      .object({
        target: z.discriminatedUnion("kind", [
          z.object({ kind: z.literal("zone"), hostId: hostIdSchema, zoneId: idSchema }).strict(),
          z.object({ kind: z.literal("workload"), hostId: hostIdSchema, workloadId: idSchema }).strict(),
        ]),
      })
      .strict(),
  };
}

/** The host side's validators: `webviewMessage` for every incoming message, `state` for restored panels. */
export const consoleSchemas = /* @__PURE__ */ buildSchemas();

export type ConsoleWebviewMessage = z.infer<typeof consoleSchemas.webviewMessage>;
