/**
 * Debian's Chromium driven by playwright-core, and helpers that act on the VS Code workbench the
 * way a user does: palette commands, tree items in our view, screenshots kept as test artifacts.
 * playwright-core downloads no browser; Chromium gets a temporary profile and HOME.
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import type { BrowserContext, Locator, Page } from "playwright-core";
import type { CodeServer } from "./codeServer";

/** Where screenshots and logs of e2e runs go (git-ignored). */
export const artifactsDir = join(import.meta.dirname, "..", ".artifacts");

const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** A headless Chromium with a throwaway profile; `close()` removes the profile too. */
export class Browser {
  private constructor(
    readonly context: BrowserContext,
    private readonly profileDir: string,
  ) {}

  static async launch(): Promise<Browser> {
    const profileDir = await mkdtemp(join(tmpdir(), "zones-chromium-"));
    await mkdir(join(profileDir, "home"), { recursive: true });
    const context = await chromium.launchPersistentContext(join(profileDir, "profile"), {
      executablePath: chromiumPath,
      headless: true,
      viewport: { width: 1400, height: 900 },
      env: { ...process.env, HOME: join(profileDir, "home") },
      // Our runners stop the browser themselves on Ctrl-C, after which they stop the dev host and
      // sshd; Playwright's own handler would exit the process before that could happen.
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    return new Browser(context, profileDir);
  }

  async newPage(): Promise<Page> {
    const page = await this.context.newPage();
    page.setDefaultTimeout(15_000);
    return page;
  }

  async close(): Promise<void> {
    await this.context.close().catch(() => undefined);
    await rm(this.profileDir, { recursive: true, force: true });
  }
}

/**
 * Signs the browser in to code-server the way `npm start` tells a user to: by opening its
 * one-click login page. The session cookie then serves every page of the browser's context.
 */
export async function logIn(page: Page, codeServer: CodeServer): Promise<void> {
  await page.goto(await codeServer.writeLoginPage("/healthz"));
  await page.waitForURL(`${codeServer.url}/healthz`);
}

/** Opens a workbench URL and waits until the workbench is drawn; returns the time it took. */
export async function openWorkbench(page: Page, url: string, timeoutMs = 60_000): Promise<number> {
  const started = Date.now();
  await page.goto(url);
  await page.locator(".monaco-workbench").waitFor({ state: "visible", timeout: timeoutMs });
  return Date.now() - started;
}

/** Saves a full-page screenshot as test/.artifacts/<name>.png and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(artifactsDir, { recursive: true });
  const path = join(artifactsDir, `${name.replace(/[^\w.-]+/g, "-")}.png`);
  await page.screenshot({ path });
  return path;
}

/** Where the README's pictures live (checked in). */
export const readmeMediaDir = join(import.meta.dirname, "..", "..", "media", "screenshots");

/**
 * A screenshot the README shows: saved with the test artifacts, and with
 * ZONES_README_SCREENSHOTS=1 also over media/screenshots/<name>.png, so the README follows
 * the UI when it changes (run the e2e tier with it and commit the pictures).
 */
export async function readmeScreenshot(page: Page, name: string): Promise<string> {
  const path = await screenshot(page, `readme-${name}`);
  if (process.env.ZONES_README_SCREENSHOTS === "1") {
    await mkdir(readmeMediaDir, { recursive: true });
    await page.screenshot({ path: join(readmeMediaDir, `${name}.png`) });
  }
  return path;
}

/**
 * Runs a command from the palette by its title. An extension's commands show up only once it
 * is activated, so this keeps reopening the palette until the command is listed.
 */
export async function runCommand(page: Page, title: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const input = page.locator(".quick-input-widget input.input");
  for (;;) {
    await focusWorkbench(page);
    await page.keyboard.press("F1");
    try {
      await input.waitFor({ state: "visible", timeout: 3000 });
    } catch (err) {
      if (Date.now() > deadline) throw err;
      continue;
    }
    await input.fill(`>${title}`);
    const row = page.locator(".quick-input-list .monaco-list-row:visible", { hasText: title }).first();
    try {
      await row.waitFor({ state: "visible", timeout: 2000 });
      // The palette filters fuzzily: make sure the row's label is the command, not a neighbour.
      const label = (await row.locator(".label-name").first().textContent())?.trim() ?? "";
      if (label.endsWith(title)) {
        await row.click();
        return;
      }
    } catch {
      // not registered yet
    }
    await page.keyboard.press("Escape");
    if (Date.now() > deadline) throw new Error(`command "${title}" never appeared in the palette`);
    await page.waitForTimeout(500);
  }
}

/**
 * Takes keyboard focus out of a webview: keys typed in one go to its page (our console's xterm
 * keeps F1 for itself), not to the workbench's keybindings.
 */
export async function focusWorkbench(page: Page): Promise<void> {
  await page.evaluate("document.activeElement instanceof HTMLIFrameElement && document.activeElement.blur()");
}

/** The modal dialog of the workbench (VS Code draws `{ modal: true }` messages in the page). */
export function modalDialog(page: Page): Locator {
  return page.locator(".monaco-dialog-box");
}

/** Text of the open modal dialog: message and detail, with Monaco's no-break spaces normalised. */
export async function modalText(page: Page): Promise<string> {
  return (await modalDialog(page).innerText()).replace(/\u00a0/g, " ");
}

/** Clicks a button of the open modal dialog by its label. */
export async function clickDialogButton(page: Page, label: string): Promise<void> {
  await modalDialog(page).locator(".dialog-buttons a.monaco-button", { hasText: label }).first().click();
  await modalDialog(page).waitFor({ state: "hidden" });
}

/** Types into the open quick pick / input box and accepts it. */
export async function answerQuickInput(page: Page, text: string, expectRow?: string): Promise<void> {
  const input = page.locator(".quick-input-widget input.input");
  await input.waitFor({ state: "visible" });
  await input.fill(text);
  if (expectRow)
    await page
      .locator(".quick-input-list .monaco-list-row:visible", { hasText: expectRow })
      .first()
      .waitFor({ state: "visible" });
  await page.keyboard.press("Enter");
}

/** The pane of a view in the side bar, found by its title (e.g. "Hosts"). */
export function viewPane(page: Page, title: string): Locator {
  return page.locator(".pane", { has: page.locator(".pane-header", { hasText: title }) });
}

/** Tree rows of a view; `label` narrows to rows whose label contains it. */
export function treeItems(page: Page, viewTitle: string, label?: string): Locator {
  const rows = viewPane(page, viewTitle).locator(".monaco-list-row[role=treeitem]");
  return label === undefined ? rows : rows.filter({ has: page.locator(".label-name", { hasText: label }) });
}

/** Text of the visible tree rows of a view (label and description), top to bottom. */
export async function treeTexts(page: Page, viewTitle: string): Promise<string[]> {
  // One read of all rows: the tree re-renders under us, and a row read by index may be gone.
  return (await treeItems(page, viewTitle).allInnerTexts()).map((t) => t.replace(/\s+/g, " ").trim());
}

/** Polls `probe` until it returns a truthy value, or fails with `what`. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined | false | null>,
  timeoutMs = 15_000,
  everyMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ""}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
