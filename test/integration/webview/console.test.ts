/**
 * The console bundle (xterm.js) in real Chromium under the production CSP: output shows, a
 * replay after a reconnect does not duplicate lines, input/resize/copy reach the host, search
 * and clear work, and both themes render (screenshots checked).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Browser } from "../../harness/browser";
import {
  buildWebviews,
  imageStats,
  openWebview,
  saveScreenshot,
  type ThemeName,
  type WebviewPage,
} from "./webviewPage";

const b64 = (s: string): string => Buffer.from(s, "utf8").toString("base64");
const output = (offset: number, text: string) => ({
  method: "console/output",
  params: { offset, data: b64(text) },
});
const init = (canResize = true) => ({
  method: "console/init",
  params: {
    state: { target: { kind: "zone", hostId: "devhost", zoneId: "z1" } },
    title: "Console: web",
    canResize,
    canWrite: true,
    convertEol: false,
    status: { state: "connected" },
  },
});

describe("console webview", () => {
  let browser: Browser;
  let bundles: Awaited<ReturnType<typeof buildWebviews>>;

  before(async () => {
    bundles = await buildWebviews(["console"]);
    browser = await Browser.launch();
  });

  after(async () => {
    await browser?.close();
    await bundles?.dispose();
  });

  async function open(theme: ThemeName = "dark"): Promise<WebviewPage> {
    const wp = await openWebview(browser, bundles.dir, "console", theme);
    await wp.waitForPosted("console/ready");
    return wp;
  }

  async function lines(wp: WebviewPage): Promise<string[]> {
    await wp.probe("frames", 2);
    return (await wp.probe("terminalLines")).filter((l) => l !== "");
  }

  it("says ready with nothing shown, reports its size, and shows output", async () => {
    const wp = await open();
    const ready = (await wp.posted()).find((m) => m.method === "console/ready")!;
    assert.deepEqual(ready.params, { shownOffset: 0 });
    await wp.send(init());
    await wp.waitForPosted("console/resize");
    const size = (await wp.posted()).find((m) => m.method === "console/resize")!.params as {
      cols: number;
      rows: number;
    };
    assert.ok(size.cols > 40 && size.rows > 10, `fitted to the page: ${JSON.stringify(size)}`);
    await wp.send(
      output(0, "[    0.000000] Linux version 6.1.0\r\n[    0.420000] init: starting\r\nlogin: "),
    );
    assert.deepEqual(await lines(wp), [
      "[    0.000000] Linux version 6.1.0",
      "[    0.420000] init: starting",
      "login:",
    ]);
    assert.equal(await wp.page.textContent(".title"), "Console: web");
    assert.deepEqual(wp.cspViolations, [], "xterm's run-time styles carry the nonce");
    assert.deepEqual(wp.pageErrors, []);
    await wp.page.close();
  });

  it("does not duplicate lines when the host replays history after a reconnect", async () => {
    const wp = await open();
    await wp.send(init());
    const boot = "[    0.000000] Linux version 6.1.0\r\n[    0.420000] init: starting\r\n";
    await wp.send(output(0, boot));
    await wp.send({
      method: "console/status",
      params: { status: { state: "reconnecting", message: "SSH connection lost" } },
    });
    assert.match((await wp.page.textContent(".status"))!, /Reconnecting: SSH connection lost/);
    // the same bytes again from offset 0, and what came after
    await wp.send(output(0, boot + "login: root\r\n"));
    await wp.send(output(boot.length, "login: root\r\n# "));
    await wp.send({ method: "console/status", params: { status: { state: "connected" } } });
    assert.deepEqual(await lines(wp), [
      "[    0.000000] Linux version 6.1.0",
      "[    0.420000] init: starting",
      "login: root",
      "#",
    ]);
    assert.equal(await wp.probe("consoleShownOffset"), boot.length + "login: root\r\n# ".length);
    // a gap the host could not fill is said out loud
    await wp.send({
      method: "console/discontinuity",
      params: { offset: 10_000, reason: "Output may be missing here: the console was disconnected." },
    });
    await wp.send(output(10_000, "back\r\n"));
    const after = await lines(wp);
    assert.ok(after.some((l) => l.includes("Output may be missing here")));
    assert.equal(after.at(-1), "back");
    await wp.page.close();
  });

  it("sends typed input, copies the selection, finds text and clears", async () => {
    const wp = await open();
    await wp.send(init());
    await wp.send(output(0, "alpha beta\r\ngamma login delta\r\n"));
    await wp.probe("frames", 2);
    await wp.page.click(".console-host");
    await wp.page.keyboard.type("ls");
    await wp.page.keyboard.press("Enter");
    await wp.waitForPosted("console/input", 3);
    const inputs = (await wp.posted())
      .filter((m) => m.method === "console/input")
      .map((m) => (m.params as { data: string }).data);
    assert.equal(inputs.join(""), "ls\r");

    await wp.page.fill("input.search", "login");
    await wp.page.press("input.search", "Enter");
    await wp.page.click("#copy");
    await wp.waitForPosted("console/copy");
    const copy = (await wp.posted()).find((m) => m.method === "console/copy")!;
    assert.deepEqual(copy.params, { text: "login" }, "search selects the match; Copy sends the selection");

    await wp.page.fill("input.search", "nowhere-to-be-found");
    await wp.page.press("input.search", "Enter");
    assert.equal(await wp.page.getAttribute("input.search", "class"), "search not-found");

    await wp.page.click("#clear");
    assert.deepEqual(await lines(wp), [], "cleared");
    await wp.page.close();
  });

  it("starts a new line at a bare LF only when the stream is not a terminal", async () => {
    for (const convertEol of [true, false]) {
      const wp = await open();
      await wp.send({ method: "console/init", params: { ...init().params, convertEol } });
      await wp.send(output(0, "first\nsecond\n"));
      const shown = await lines(wp);
      assert.deepEqual(shown, convertEol ? ["first", "second"] : ["first", "     second"]);
      await wp.page.close();
    }
  });

  it("does not report sizes when the stream cannot resize", async () => {
    const wp = await open();
    await wp.send(init(false));
    await wp.probe("frames", 3);
    await wp.page.setViewportSize({ width: 900, height: 500 });
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await wp.posted()).filter((m) => m.method === "console/resize").length, 0);
    await wp.page.setViewportSize({ width: 1400, height: 900 });
    await wp.page.close();
  });

  it("renders in dark and light themes (screenshots checked)", async () => {
    for (const theme of ["dark", "light"] as const) {
      const wp = await open(theme);
      await wp.send(init());
      const colourful = Array.from(
        { length: 30 },
        (_, i) =>
          `\x1b[3${i % 8}m[${String(i).padStart(4)}.000000] kernel: message number ${i} from the zone console\x1b[0m\r\n`,
      ).join("");
      await wp.send(output(0, colourful + "login: "));
      await wp.probe("frames", 3);
      const png = await saveScreenshot(wp.page, `webview-console-${theme}`);
      const stats = await imageStats(wp, png);
      assert.ok(stats.nonBackground > 0.03, `${theme}: ${stats.nonBackground} non-background`);
      assert.ok(stats.colours > 20, `${theme}: ${stats.colours} colours`);
      assert.equal(
        stats.background,
        theme === "dark" ? "#181818" : "#ffffff",
        "terminal background from the theme",
      );
      assert.deepEqual(wp.cspViolations, []);
      await wp.page.close();
    }
  });
});
