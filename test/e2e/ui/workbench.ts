/**
 * Workbench helpers for the UI specs beyond test/harness/browser.ts: context menus on tree rows,
 * notification buttons, the integrated terminal's screen, webview frames, colour themes, and a
 * non-blank check of screenshots (decoded in the page: no image library needed here).
 */
import type { Frame, Locator, Page } from "playwright-core";
import { answerQuickInput, eventually, runCommand } from "../../harness/browser";

/** Picks an entry of an open context menu (hover, then Enter: a click landing as it opens is lost). */
export async function chooseContextMenu(page: Page, row: Locator, entry: string): Promise<void> {
  await row.click({ button: "right" });
  const item = page.locator(".context-view .action-label", { hasText: entry }).first();
  await item.waitFor({ state: "visible" });
  await item.hover();
  await page.keyboard.press("Enter");
}

/**
 * Clicks a button of the notification whose message contains `text`: on its toast, or — when
 * the workbench already tucked the toast away — in the notification center.
 */
export async function clickNotificationButton(
  page: Page,
  text: string | RegExp,
  button: string,
  timeoutMs = 30_000,
): Promise<void> {
  const item = page.locator(".notification-list-item", { hasText: text }).first();
  const started = Date.now();
  let centerOpened = false;
  while (!(await item.isVisible())) {
    if (Date.now() > started + timeoutMs) {
      const shown = await page.locator(".notifications-toasts, .notifications-center").allInnerTexts();
      throw new Error(`no notification matching ${String(text)}; shown: ${JSON.stringify(shown)}`);
    }
    // Headless, the workbench keeps notifications in the center without toasting them: look there.
    if (!centerOpened && Date.now() > started + 300) {
      await runCommand(page, "Notifications: Show Notifications");
      centerOpened = true;
    }
    await page.waitForTimeout(50);
  }
  await item.hover();
  await item.locator("a.monaco-button", { hasText: button }).first().click();
  // The center would cover the panel; its chevron hides it.
  const hide = page.locator(".notifications-center .codicon-notifications-hide").first();
  if (await hide.isVisible()) await hide.click();
}

/** The rows of the visible integrated terminal, top to bottom (DOM renderer; trailing blanks trimmed). */
export async function terminalScreen(page: Page): Promise<string> {
  const rows = page.locator(".part.panel .xterm-rows").filter({ visible: true }).first();
  return ((await rows.innerText().catch(() => "")) ?? "").replace(/\u00a0/g, " ");
}

/** Types into the visible terminal (focused first). */
export async function typeInTerminal(page: Page, text: string): Promise<void> {
  // Opening a second terminal hides the first between finding and clicking it: find the visible
  // one again on every try rather than waiting on an element that went away.
  const deadline = Date.now() + 15_000;
  for (;;) {
    const terminal = page.locator(".part.panel .xterm").filter({ visible: true }).first();
    try {
      await terminal.click({ timeout: 1_000 });
      break;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
  }
  await page.keyboard.type(text);
}

/** The frame of the webview whose document has `selector` (a webview is an iframe in an iframe). */
export async function webviewFrame(page: Page, selector: string, timeoutMs = 20_000): Promise<Frame> {
  return eventually(
    `a webview with ${selector}`,
    async () => {
      for (const frame of page.frames()) {
        if (frame === page.mainFrame()) continue;
        if (
          (await frame
            .locator(selector)
            .count()
            .catch(() => 0)) > 0
        )
          return frame;
      }
      return undefined;
    },
    timeoutMs,
    100,
  );
}

/** The iframe element (in the workbench) that shows `frame`, for screenshots of just the panel. */
export async function webviewElement(page: Page, frame: Frame): Promise<Locator> {
  const outer = frame.parentFrame();
  const element = await (outer ?? frame).frameElement();
  const box = await element.boundingBox();
  if (!box) throw new Error("the webview is not visible");
  // A locator for the outermost iframe of this webview: its position identifies it.
  const iframes = page.locator("iframe.webview");
  for (let i = 0; i < (await iframes.count()); i++) {
    const b = await iframes.nth(i).boundingBox();
    if (b && Math.abs(b.x - box.x) < 2 && Math.abs(b.y - box.y) < 2 && Math.abs(b.width - box.width) < 2)
      return iframes.nth(i);
  }
  throw new Error("no iframe.webview holds that frame");
}

/** Switches the colour theme through "Preferences: Color Theme", as a user does. */
export async function setColorTheme(page: Page, theme: string): Promise<void> {
  await runCommand(page, "Preferences: Color Theme");
  await answerQuickInput(page, theme, theme);
  await page.locator(".quick-input-widget").waitFor({ state: "hidden" });
}

/** How an image looks: share of pixels unlike the most common colour, that colour, and its brightness. */
export interface ImageLook {
  width: number;
  height: number;
  nonBackground: number;
  background: string;
  brightness: number;
}

/** Decodes a PNG in the page (createImageBitmap is not subject to the workbench's CSP) and measures it. */
/**
 * Runs in the page (no DOM types here, so it travels as source): decodes the PNG with
 * createImageBitmap, which the workbench's CSP allows, and counts colours on a canvas.
 */
const measureInPage = `async (base64) => {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  const bitmap = await createImageBitmap(new Blob([bytes], { type: "image/png" }));
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext("2d");
  ctx.drawImage(bitmap, 0, 0);
  const data = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
  const counts = new Map();
  for (let i = 0; i < data.length; i += 4) {
    const key = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  let background = 0;
  let most = 0;
  for (const [key, n] of counts) if (n > most) { background = key; most = n; }
  const total = data.length / 4;
  const r = background >> 16, g = (background >> 8) & 255, b = background & 255;
  return { width: bitmap.width, height: bitmap.height, nonBackground: (total - most) / total, background: "#" + background.toString(16).padStart(6, "0"), brightness: (r * 299 + g * 587 + b * 114) / 1000 };
}`;

/** Decodes a PNG in the page and measures how much of it is drawn. */
export async function imageLook(page: Page, png: Buffer): Promise<ImageLook> {
  return page.evaluate<ImageLook>(`(${measureInPage})(${JSON.stringify(png.toString("base64"))})`);
}

/**
 * What the window shows that a failure message needs: an open modal, quick input, the last lines
 * of the visible terminal and the notifications. CI keeps only the summary, not the screenshot.
 */
export async function describeWindow(page: Page): Promise<string> {
  const visibleText = async (selector: string): Promise<string | undefined> => {
    const found = page.locator(selector).filter({ visible: true }).first();
    if (!(await found.count().catch(() => 0))) return undefined;
    const text = await found.innerText({ timeout: 1000 }).catch(() => "");
    return (
      text
        .replace(/\u00a0/g, " ")
        .replace(/\s*\n\s*/g, " | ")
        .trim() || undefined
    );
  };
  const terminal = (await terminalScreen(page))
    .split("\n")
    .map((l) => l.trimEnd())
    .filter(Boolean)
    .slice(-8);
  const parts = [
    ["modal", await visibleText(".monaco-dialog-box")],
    ["quick input", await visibleText(".quick-input-widget")],
    ["notifications", await visibleText(".notifications-toasts")],
    [
      "terminal (last lines)",
      terminal.length ? `\n${terminal.map((l) => `    ${l}`).join("\n")}` : undefined,
    ],
  ] as const;
  return (
    parts
      .filter(([, text]) => text !== undefined)
      .map(([what, text]) => `${what}: ${text}`)
      .join("\n") || "(no modal, quick input, notification or terminal shown)"
  );
}

/**
 * Closes editors and terminals a spec opened: the workspace is shared by every window, and the
 * next one would restore its webview panels (their serializers work) and steal focus.
 */
export async function closeEverything(page: Page, terminals = false): Promise<void> {
  await runCommand(page, "View: Close All Editors", 5000).catch(() => undefined);
  if (terminals) await runCommand(page, "Terminal: Kill All Terminals", 5000).catch(() => undefined);
}

/** After a failed spec: dismiss what is open (a modal, a quick input), then close everything. */
export async function tidyWindow(page: Page): Promise<void> {
  for (let i = 0; i < 3; i++) await page.keyboard.press("Escape").catch(() => undefined);
  await closeEverything(page, true);
}
