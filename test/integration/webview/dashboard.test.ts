/**
 * The dashboard bundle in real Chromium under the production CSP: graphs render, the memory
 * limit line moves when new limits arrive, Resize posts a validated request, the process table
 * sorts, themes switch, a hidden page stops drawing, and scrolling an hour of samples stays
 * above 30 frames per second.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Browser } from "../../harness/browser";
import { buildWebviews, imageStats, openWebview, saveScreenshot } from "./webviewPage";

const MiB = 1024 * 1024;
const T0 = Date.UTC(2025, 5, 1, 12, 0, 0);

function samples(
  rows: number,
  start: number,
  vcpus = 2,
): { times: number[]; columns: Record<string, (number | null)[]> } {
  const times: number[] = [];
  const columns: Record<string, (number | null)[]> = { cpu: [], "mem.used": [], "mem.total": [], procs: [] };
  for (let v = 0; v < vcpus; v++) columns[`cpu.${v}`] = [];
  for (let i = 0; i < rows; i++) {
    times.push(start + i * 1000);
    let sum = 0;
    for (let v = 0; v < vcpus; v++) {
      const value = 50 + 45 * Math.sin(i / (20 + v * 7) + v);
      columns[`cpu.${v}`]!.push(value);
      sum += value;
    }
    columns["cpu"]!.push(sum / vcpus);
    columns["mem.used"]!.push(300 * MiB + 120 * MiB * Math.sin(i / 90));
    columns["mem.total"]!.push(1024 * MiB);
    columns["procs"]!.push(10 + (i % 5));
  }
  return { times, columns };
}

function init(rows: number, options: { vcpus?: number; windowSeconds?: 60 | 900 | 3600 } = {}) {
  return {
    method: "dashboard/init",
    params: {
      state: {
        target: { kind: "zone", hostId: "devhost", zoneId: "z-1234" },
        windowSeconds: options.windowSeconds ?? 900,
      },
      title: "Resources: web (devhost)",
      series: samples(rows, T0, options.vcpus ?? 2),
      limits: { targetMemoryBytes: 512 * MiB, maxMemoryBytes: 1024 * MiB, targetCpus: 2, maxCpus: 4 },
      markers: [
        { time: T0 + 30_000, kind: "state", label: "READY" },
        { time: T0 + 200_000, kind: "oom", label: "OOM", reason: "out of memory" },
      ],
      processes: [
        { pid: 1, command: "/sbin/init", residentBytes: 2 * MiB, lifetimeSeconds: 600 },
        { pid: 42, command: "python3 -m http.server", residentBytes: 30 * MiB, lifetimeSeconds: 120 },
        { pid: 7, command: "stress --cpu 2", residentBytes: 1 * MiB, lifetimeSeconds: 3700 },
      ],
      status: { state: "ok" },
      zoneNames: {},
      canResize: true,
      intervalMs: 1000,
    },
  };
}

const orange: [number, number, number] = [0xd1, 0x86, 0x16];

describe("dashboard webview", () => {
  let browser: Browser;
  let bundles: Awaited<ReturnType<typeof buildWebviews>>;
  const perf: Record<string, unknown> = {};

  before(async () => {
    bundles = await buildWebviews(["dashboard"]);
    browser = await Browser.launch();
  });

  after(async () => {
    await browser?.close();
    await bundles?.dispose();
    const dir = join(import.meta.dirname, "..", "..", ".artifacts");
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "webview-dashboard-perf.json"), JSON.stringify(perf, null, 2));
  });

  it("says ready, draws the graphs from init, and shows the processes sorted", async () => {
    const wp = await openWebview(browser, bundles.dir, "dashboard", "dark");
    await wp.waitForPosted("dashboard/ready");
    await wp.send(init(600));
    await wp.page.locator("[data-chart] canvas").nth(2).waitFor();
    await wp.probe("frames", 2);
    for (const chart of ["cpu", "memory", "processes"]) {
      const share = await wp.probe("paintedShare", chart);
      assert.ok(share > 0.02, `${chart} chart has ${share} painted`);
    }
    assert.equal(await wp.page.textContent("h1"), "Resources: web (devhost)");
    await wp.send({ method: "dashboard/title", params: { title: "Resources: web-renamed (devhost)" } });
    await wp.page.locator("h1", { hasText: "web-renamed" }).waitFor();
    assert.match((await wp.page.textContent("[data-chart=cpu] h2"))!, /2 vCPUs/);
    // biggest resident memory first by default; clicking PID sorts by pid ascending
    const pids = () => wp.page.locator(".processes tbody tr td:first-child").allTextContents();
    assert.deepEqual(await pids(), ["42", "1", "7"]);
    await wp.page.click("button[data-sort=pid]");
    assert.deepEqual(await pids(), ["1", "7", "42"]);
    await wp.page.click("button[data-sort=lifetimeSeconds]");
    assert.deepEqual(await pids(), ["7", "1", "42"]);
    assert.equal(await wp.page.textContent(".processes tbody tr:first-child td:nth-child(4)"), "1 h 01 m");
    assert.deepEqual(wp.cspViolations, []);
    assert.deepEqual(wp.pageErrors, []);
    await wp.page.close();
  });

  it("moves the memory limit line when new limits arrive", async () => {
    const wp = await openWebview(browser, bundles.dir, "dashboard", "dark");
    await wp.waitForPosted("dashboard/ready");
    await wp.send(init(300));
    await wp.page.locator("[data-chart=memory][data-target-y]").waitFor();
    const y = async () => Number(await wp.probe("chartData", "memory", "targetY"));
    const before = await y();
    // the line is really painted in the limit colour (orange #d18616) along that row
    const orangeOnRow = (row: number) => wp.probe("colourOnRow", "memory", row, orange, 35);
    assert.ok((await orangeOnRow(before)) > 50, "target line painted");
    await wp.send({
      method: "dashboard/limits",
      params: {
        limits: { targetMemoryBytes: 900 * MiB, maxMemoryBytes: 1024 * MiB, targetCpus: 3, maxCpus: 4 },
      },
    });
    await wp.probe("frames", 2);
    const after = await y();
    assert.ok(after < before - 20, `line moved up: ${before} → ${after}`);
    assert.ok((await orangeOnRow(after)) > 50, "target line painted at its new place");
    await wp.page.close();
  });

  it("validates Resize input and posts a request the host can answer", async () => {
    const wp = await openWebview(browser, bundles.dir, "dashboard", "dark");
    await wp.waitForPosted("dashboard/ready");
    await wp.send(init(60));
    await wp.page.waitForSelector("form.resize:not([hidden])");
    assert.equal(await wp.page.inputValue("#resize-cpus"), "2", "prefilled from the limits");
    assert.equal(await wp.page.inputValue("#resize-memory"), "512");
    await wp.page.fill("#resize-cpus", "0");
    await wp.page.click("form.resize button[type=submit]");
    assert.match(
      (await wp.page.textContent(".resize-result"))!,
      /Cannot resize: vCPUs must be a whole number/,
    );
    assert.equal(
      (await wp.posted()).filter((m) => m.method === "dashboard/resize").length,
      0,
      "nothing posted for bad input",
    );
    await wp.page.fill("#resize-cpus", "3");
    await wp.page.fill("#resize-memory", "1536");
    await wp.page.click("form.resize button[type=submit]");
    await wp.waitForPosted("dashboard/resize");
    const request = (await wp.posted()).find((m) => m.method === "dashboard/resize")!;
    assert.deepEqual(request.params, { targetCpus: 3, targetMemoryMiB: 1536 });
    assert.equal(typeof request.id, "number");
    await wp.send({
      method: "dashboard/resize/response",
      id: request.id,
      params: { ok: false, message: "Resize failed: zone is not running" },
    });
    await wp.page.locator(".resize-result", { hasText: "zone is not running" }).waitFor();
    await wp.page.close();
  });

  it("shows the new target and max in the Resize form when limits arrive, without clobbering what the user types", async () => {
    const wp = await openWebview(browser, bundles.dir, "dashboard", "dark");
    await wp.waitForPosted("dashboard/ready");
    await wp.send(init(60));
    await wp.page.waitForSelector("form.resize:not([hidden])");
    const fields = async () => [
      await wp.page.inputValue("#resize-cpus"),
      await wp.page.inputValue("#resize-memory"),
    ];
    const current = async () => (await wp.page.textContent(".resize-current"))!;
    const valueIs = async (selector: string, value: string) => {
      const deadline = Date.now() + 5000;
      while ((await wp.page.inputValue(selector)) !== value) {
        if (Date.now() > deadline) assert.fail(`${selector} never showed ${value}`);
        await wp.page.waitForTimeout(20);
      }
    };
    const limits = (targetCpus: number, maxCpus: number, targetMiB: number, maxMiB: number) => ({
      method: "dashboard/limits",
      params: {
        limits: { targetCpus, maxCpus, targetMemoryBytes: targetMiB * MiB, maxMemoryBytes: maxMiB * MiB },
      },
    });
    assert.deepEqual(await fields(), ["2", "512"]);
    assert.equal(await current(), "Now 2 vCPUs (max 4), 512 MiB (max 1.0 GiB)");

    // Resized elsewhere (the tree's Resize Resources…): the form follows.
    await wp.send(limits(3, 4, 900, 1024));
    await valueIs("#resize-memory", "900");
    assert.deepEqual(await fields(), ["3", "900"]);
    assert.equal(await current(), "Now 3 vCPUs (max 4), 900 MiB (max 1.0 GiB)");

    // The user is typing a memory figure when the host reports another change: the typed value stays.
    await wp.page.fill("#resize-memory", "1536");
    await wp.send(limits(4, 8, 960, 2048));
    await valueIs("#resize-cpus", "4");
    assert.deepEqual(await fields(), ["4", "1536"], "vCPUs follow the host, the memory being typed is kept");
    assert.equal(await current(), "Now 4 vCPUs (max 8), 960 MiB (max 2.0 GiB)");

    // Submitted and accepted: the host's next figures fill the form again, including memory.
    await wp.page.click("form.resize button[type=submit]");
    await wp.waitForPosted("dashboard/resize");
    const request = (await wp.posted()).find((m) => m.method === "dashboard/resize")!;
    assert.deepEqual(request.params, { targetCpus: 4, targetMemoryMiB: 1536 });
    await wp.send({
      method: "dashboard/resize/response",
      id: request.id,
      params: { ok: true, result: null },
    });
    await wp.page.locator(".resize-result", { hasText: "Requested" }).waitFor();
    assert.deepEqual(await fields(), ["4", "1536"], "no flash of the old figures before the host applies it");
    await wp.send(limits(4, 8, 1536, 2048));
    await wp.page.locator(".resize-current", { hasText: "1.5 GiB" }).waitFor();
    await wp.send(limits(2, 8, 1024, 2048)); // a later resize from elsewhere reaches both fields
    await valueIs("#resize-memory", "1024");
    assert.deepEqual(await fields(), ["2", "1024"]);
    assert.deepEqual(wp.pageErrors, []);
    await wp.page.close();
  });

  it("draws state and OOM markers on the time axis", async () => {
    const wp = await openWebview(browser, bundles.dir, "dashboard", "dark");
    await wp.waitForPosted("dashboard/ready");
    const message = init(600);
    message.params.markers = [];
    await wp.send(message);
    await wp.page.locator("[data-chart] canvas").nth(2).waitFor();
    await wp.probe("frames", 2);
    const red: [number, number, number] = [0xf1, 0x4c, 0x4c];
    const before = await wp.probe("colourCount", "processes", red, 30);
    await wp.send({
      method: "dashboard/marker",
      params: { marker: { time: T0 + 400_000, kind: "oom", label: "OOM", reason: "out of memory" } },
    });
    await wp.probe("frames", 2);
    const after = await wp.probe("colourCount", "processes", red, 30);
    assert.ok(after - before > 40, `an OOM marker adds a red line (${before} → ${after} red pixels)`);
    await wp.page.close();
  });

  it("freezes the view while paused and follows the newest samples again on Resume", async () => {
    const wp = await openWebview(browser, bundles.dir, "dashboard", "dark");
    await wp.waitForPosted("dashboard/ready");
    await wp.send(init(120));
    await wp.probe("frames", 2);
    const viewEnd = async () => Number(await wp.page.getAttribute(".charts", "data-view-end"));
    const live = await viewEnd();
    assert.equal(live, T0 + 119_000);
    await wp.page.click("#pause");
    for (let i = 0; i < 5; i++)
      await wp.send({
        method: "dashboard/samples",
        params: { series: { times: [T0 + (120 + i) * 1000], columns: { cpu: [10] } } },
      });
    await wp.probe("frames", 3);
    assert.equal(await viewEnd(), live, "paused: the view stays put");
    assert.equal(await wp.page.textContent("#pause"), "Resume");
    await wp.page.click("#pause");
    await wp.probe("frames", 3);
    assert.equal(await viewEnd(), T0 + 124_000, "resumed: the view jumps to the newest sample");
    await wp.page.close();
  });

  it("keeps the chosen window in its persisted state and tells the host", async () => {
    const wp = await openWebview(browser, bundles.dir, "dashboard", "dark");
    await wp.waitForPosted("dashboard/ready");
    await wp.send(init(60));
    await wp.page.click("button[data-window='3600']");
    await wp.waitForPosted("dashboard/windowChanged");
    const state = await wp.probe("state");
    assert.deepEqual(state, {
      target: { kind: "zone", hostId: "devhost", zoneId: "z-1234" },
      windowSeconds: 3600,
    });
    assert.equal(await wp.page.getAttribute("button[data-window='3600']", "aria-pressed"), "true");
    await wp.page.close();
  });

  it("stops drawing while hidden and catches up when shown", async () => {
    const wp = await openWebview(browser, bundles.dir, "dashboard", "dark");
    await wp.waitForPosted("dashboard/ready");
    await wp.send(init(120));
    await wp.probe("frames", 3);
    await wp.probe("setHidden", true);
    const before = await wp.probe("renders");
    for (let i = 0; i < 30; i++)
      await wp.send({
        method: "dashboard/samples",
        params: {
          series: { times: [T0 + (120 + i) * 1000], columns: { cpu: [50], "mem.used": [400 * MiB] } },
        },
      });
    await wp.probe("frames", 5);
    assert.equal(await wp.probe("renders"), before, "no frame drawn while hidden");
    await wp.probe("setHidden", false);
    await wp.probe("frames", 3);
    const after = await wp.probe("renders");
    assert.ok(after > before && after <= before + 2, `one catch-up frame, got ${after - before}`);
    await wp.page.close();
  });

  it("draws the host view with zones stacked", async () => {
    const wp = await openWebview(browser, bundles.dir, "dashboard", "dark");
    await wp.waitForPosted("dashboard/ready");
    const rows = 120;
    const times = Array.from({ length: rows }, (_, i) => T0 + i * 1000);
    const columns: Record<string, number[]> = {
      cpu: times.map((_, i) => 40 + 10 * Math.sin(i / 10)),
      "mem.used": times.map(() => 6 * 1024 * MiB),
      "mem.total": times.map(() => 16 * 1024 * MiB),
      "zone.a.cpu": times.map(() => 10),
      "zone.b.cpu": times.map(() => 20),
      "zone.a.mem": times.map(() => 1024 * MiB),
      "zone.b.mem": times.map(() => 2048 * MiB),
    };
    await wp.send({
      method: "dashboard/init",
      params: {
        ...init(0).params,
        state: { target: { kind: "host", hostId: "devhost" }, windowSeconds: 60 },
        title: "Resources: devhost",
        series: { times, columns },
        limits: null,
        processes: [],
        canResize: false,
        zoneNames: { a: "web", b: "db" },
      },
    });
    await wp.page.locator("[data-chart] canvas").nth(1).waitFor();
    await wp.probe("frames", 2);
    const legend = await wp.page.textContent("[data-chart=memory] .u-legend");
    assert.match(legend!, /web/);
    assert.match(legend!, /db/);
    assert.ok((await wp.probe("paintedShare", "cpu")) > 0.05);
    assert.equal(await wp.page.isHidden("form.resize"), true);
    assert.equal(await wp.page.isHidden(".processes"), true);
    await wp.page.close();
  });

  it("renders in dark and light themes, switching without a reload (screenshots checked)", async () => {
    const wp = await openWebview(browser, bundles.dir, "dashboard", "dark");
    await wp.waitForPosted("dashboard/ready");
    await wp.send(init(900));
    await wp.page.locator("[data-chart] canvas").nth(2).waitFor();
    await wp.probe("frames", 3);
    const dark = await saveScreenshot(wp.page, "webview-dashboard-dark");
    const darkStats = await imageStats(wp, dark);
    await wp.setTheme("light");
    await wp.probe("frames", 3);
    const light = await saveScreenshot(wp.page, "webview-dashboard-light");
    const lightStats = await imageStats(wp, light);
    for (const [name, s] of [
      ["dark", darkStats],
      ["light", lightStats],
    ] as const) {
      assert.ok(s.nonBackground > 0.05, `${name} screenshot has ${s.nonBackground} non-background`);
      assert.ok(s.colours > 50, `${name} screenshot has ${s.colours} colours`);
    }
    // the light theme really changed the page: the background is now white
    assert.equal(await wp.probe("bodyBackground"), "rgb(255, 255, 255)");
    assert.ok(
      (await wp.probe("darkPixels", "cpu", 0x70)) > 100,
      "light theme draws dark axis text and lines",
    );
    assert.deepEqual(wp.cspViolations, []);
    await wp.page.close();
  });

  it("scrolls an hour of 1 s samples at 30 frames per second or better", async () => {
    const wp = await openWebview(browser, bundles.dir, "dashboard", "dark");
    await wp.waitForPosted("dashboard/ready");
    // an hour, 4 vCPU series + total + memory used/visible + processes = 8 series
    const message = init(3600, { vcpus: 4, windowSeconds: 900 });
    const sent = Date.now();
    await wp.send(message);
    await wp.page.locator("[data-chart] canvas").nth(2).waitFor();
    await wp.probe("frames", 2);
    perf["initToFirstFrameMs"] = Date.now() - sent;
    perf["initMessageBytes"] = JSON.stringify(message).length;

    for (const windowSeconds of [900, 60] as const) {
      await wp.page.click(`button[data-window='${windowSeconds}']`);
      await wp.probe("frames", 2);
      const result = await wp.probe("scrollFrames", 180, -8);
      perf[`scroll${windowSeconds}s`] = result;
      console.log(
        `dashboard scroll, ${windowSeconds} s window through 3600 rows × 8 series: ${result.fps.toFixed(1)} fps, p95 frame ${result.p95FrameMs.toFixed(1)} ms, mean render ${result.meanRenderMs.toFixed(2)} ms over ${result.renders} renders`,
      );
      assert.ok(result.renders >= 150, `each frame redrew the view (${result.renders})`);
      assert.ok(result.fps >= 30, `${result.fps.toFixed(1)} fps for the ${windowSeconds} s window`);
    }
    // the view really moved: the scroller left the live end
    assert.ok(Number(await wp.page.inputValue(".scroller")) < 1000);

    // The heaviest case, reported rather than required: the whole hour in view, redrawn every
    // frame because a new sample arrives every frame (60× the real rate).
    await wp.page.click("#live");
    await wp.page.click("button[data-window='3600']");
    await wp.probe("frames", 2);
    const full = await wp.probe("liveFrames", 120, T0 + 3600 * 1000);
    perf["liveRedraw3600s"] = full;
    console.log(
      `dashboard live redraw, 1 h window, a new sample every frame: ${full.fps.toFixed(1)} fps, mean render ${full.meanRenderMs.toFixed(2)} ms over ${full.renders} renders`,
    );
    assert.ok(full.renders >= 100);
    await wp.page.close();
  });
});
