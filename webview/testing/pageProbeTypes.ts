/**
 * What the browser tests may ask a test page (see pageProbes.ts). This file has no DOM types, so
 * Node-side tests can import it; the probes themselves are compiled with the webview's DOM lib.
 */

/** Frame timing of a run of animation frames. */
export interface FrameRun {
  fps: number;
  p95FrameMs: number;
  /** Redraws the dashboard made during the run, and their mean cost (script time). */
  renders: number;
  meanRenderMs: number;
}

export interface ImageStats {
  width: number;
  height: number;
  /** Share of pixels that differ from the most common colour. */
  nonBackground: number;
  colours: number;
  /** The most common colour, "#rrggbb". */
  background: string;
}

export interface PageProbes {
  /** Messages the page posted to its (fake) host. */
  posted(): { method: string; params: unknown; id?: number }[];
  /** The state the page persisted through the fake VS Code API. */
  state(): unknown;
  /** Delivers a message from the host. */
  send(message: unknown): void;
  /** Waits for `count` animation frames. */
  frames(count: number): Promise<void>;
  /** Share of a chart canvas that is painted (not transparent). */
  paintedShare(chart: string): number;
  /** Pixels on canvas rows [row-1, row+1] within `tolerance` of an RGB colour. */
  colourOnRow(chart: string, row: number, rgb: [number, number, number], tolerance: number): number;
  /** Opaque pixels of a chart within `tolerance` of an RGB colour. */
  colourCount(chart: string, rgb: [number, number, number], tolerance: number): number;
  /** Opaque pixels darker than `max` in every channel. */
  darkPixels(chart: string, max: number): number;
  /** A data attribute of a chart element (e.g. "targetY"). */
  chartData(chart: string, key: string): string | undefined;
  /** How many dashboard redraws so far. */
  renders(): number;
  /** Pretends the page was hidden or shown, as VS Code's webview host does. */
  setHidden(hidden: boolean): void;
  /** Scrolls the charts by wheel events, one per frame, timing the frames. */
  scrollFrames(frames: number, deltaX: number): Promise<FrameRun>;
  /** Posts a new sample every frame (a redraw of the whole view each frame), timing the frames. */
  liveFrames(frames: number, startTime: number): Promise<FrameRun>;
  /** Decodes a PNG (base64) and measures how much of it is not background. */
  imageStats(pngBase64: string): Promise<ImageStats>;
  /** The computed background colour of the body. */
  bodyBackground(): string;
  /** The text of every visible row of an xterm.js terminal, trailing spaces trimmed. */
  terminalLines(): string[];
  /** How many bytes of console output the console page has written. */
  consoleShownOffset(): number;
}
