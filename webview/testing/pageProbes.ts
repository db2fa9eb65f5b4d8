/**
 * In-page helpers for the browser tests (test/integration/webview). Not part of any shipped
 * bundle: the test harness builds this file and injects it into the test page only.
 */
import type { FrameRun, ImageStats, PageProbes } from "./pageProbeTypes";

interface TestWindow {
  __posted: { method: string; params: unknown; id?: number }[];
  __state: unknown;
  zonesDashboardStats?: { renders: number; totalRenderMs: number };
  zonesProbes: PageProbes;
}

const w = window as unknown as TestWindow;

function canvasOf(chart: string): HTMLCanvasElement {
  const canvas = document.querySelector<HTMLCanvasElement>(`[data-chart="${chart}"] canvas`);
  if (!canvas) throw new Error(`no canvas for chart ${chart}`);
  return canvas;
}

function pixels(canvas: HTMLCanvasElement, y = 0, height = canvas.height): Uint8ClampedArray {
  return canvas.getContext("2d")!.getImageData(0, y, canvas.width, height).data;
}

function nextFrame(): Promise<number> {
  return new Promise((resolve) => requestAnimationFrame(resolve));
}

async function timeFrames(frames: number, each: (i: number) => void): Promise<FrameRun> {
  const stats = w.zonesDashboardStats;
  const rendersBefore = stats?.renders ?? 0;
  const renderMsBefore = stats?.totalRenderMs ?? 0;
  const stamps: number[] = [];
  for (let i = 0; i < frames; i++) {
    stamps.push(await nextFrame());
    each(i);
  }
  const intervals = stamps
    .slice(1)
    .map((t, i) => t - stamps[i]!)
    .sort((a, b) => a - b);
  const renders = (stats?.renders ?? 0) - rendersBefore;
  return {
    fps: ((stamps.length - 1) / (stamps.at(-1)! - stamps[0]!)) * 1000,
    p95FrameMs: intervals[Math.floor(intervals.length * 0.95)] ?? 0,
    renders,
    meanRenderMs: ((stats?.totalRenderMs ?? 0) - renderMsBefore) / Math.max(1, renders),
  };
}

w.zonesProbes = {
  posted: () => w.__posted,
  state: () => w.__state,
  send: (message) => window.postMessage(message, "*"),
  frames: async (count) => {
    for (let i = 0; i < count; i++) await nextFrame();
  },
  paintedShare: (chart) => {
    const data = pixels(canvasOf(chart));
    let painted = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) painted++;
    return painted / (data.length / 4);
  },
  colourOnRow: (chart, row, [r, g, b], tolerance) => {
    const data = pixels(canvasOf(chart), row - 1, 3);
    let hits = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (
        data[i + 3]! > 128 &&
        Math.abs(data[i]! - r) <= tolerance &&
        Math.abs(data[i + 1]! - g) <= tolerance &&
        Math.abs(data[i + 2]! - b) <= tolerance
      )
        hits++;
    }
    return hits;
  },
  colourCount: (chart, [r, g, b], tolerance) => {
    const data = pixels(canvasOf(chart));
    let hits = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (
        data[i + 3]! > 128 &&
        Math.abs(data[i]! - r) <= tolerance &&
        Math.abs(data[i + 1]! - g) <= tolerance &&
        Math.abs(data[i + 2]! - b) <= tolerance
      )
        hits++;
    }
    return hits;
  },
  darkPixels: (chart, max) => {
    const data = pixels(canvasOf(chart));
    let dark = 0;
    for (let i = 0; i < data.length; i += 4)
      if (data[i + 3]! > 200 && data[i]! <= max && data[i + 1]! <= max && data[i + 2]! <= max) dark++;
    return dark;
  },
  chartData: (chart, key) => document.querySelector<HTMLElement>(`[data-chart="${chart}"]`)?.dataset[key],
  renders: () => w.zonesDashboardStats?.renders ?? 0,
  setHidden: (hidden) => {
    Object.defineProperty(document, "hidden", { configurable: true, get: () => hidden });
    document.dispatchEvent(new Event("visibilitychange"));
  },
  scrollFrames: (frames, deltaX) => {
    const target = document.querySelector(".charts")!;
    // like a trackpad: a little horizontal scroll each frame
    return timeFrames(frames, () =>
      target.dispatchEvent(new WheelEvent("wheel", { deltaX, bubbles: true, cancelable: true })),
    );
  },
  liveFrames: (frames, startTime) => {
    let t = startTime;
    const MiB = 1024 * 1024;
    return timeFrames(frames, () => {
      t += 1000;
      const columns = {
        cpu: [50],
        "cpu.0": [60],
        "cpu.1": [40],
        "cpu.2": [30],
        "cpu.3": [70],
        "mem.used": [400 * MiB],
        "mem.total": [1024 * MiB],
        procs: [12],
      };
      window.postMessage({ method: "dashboard/samples", params: { series: { times: [t], columns } } }, "*");
    });
  },
  imageStats: async (pngBase64): Promise<ImageStats> => {
    const bytes = Uint8Array.from(atob(pngBase64), (c) => c.charCodeAt(0));
    const bitmap = await createImageBitmap(new Blob([bytes], { type: "image/png" }));
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const ctx = canvas.getContext("2d")!;
    ctx.drawImage(bitmap, 0, 0);
    const data = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
    const counts = new Map<number, number>();
    for (let i = 0; i < data.length; i += 4) {
      const key = (data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    const total = data.length / 4;
    let background = 0;
    let most = 0;
    for (const [colour, count] of counts) {
      if (count > most) {
        most = count;
        background = colour;
      }
    }
    return {
      width: bitmap.width,
      height: bitmap.height,
      nonBackground: (total - most) / total,
      colours: counts.size,
      background: `#${background.toString(16).padStart(6, "0")}`,
    };
  },
  bodyBackground: () => getComputedStyle(document.body).backgroundColor,
  terminalLines: () => {
    const rows = document.querySelectorAll(".xterm-rows > div");
    return [...rows].map((row) => (row.textContent ?? "").replace(/\s+$/, ""));
  },
  consoleShownOffset: () =>
    (window as unknown as { zonesConsole?: { shownOffset(): number } }).zonesConsole?.shownOffset() ?? -1,
};
