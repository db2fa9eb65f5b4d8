/**
 * Playwright specs: what a user sees and does in the workbench. Each spec gets a fresh page
 * (a fresh window, so a fresh extension host) and records timings it measures.
 */
import * as assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { eventually, openWorkbench, screenshot, treeItems, treeTexts, viewPane } from "../../harness/browser";
import type { CodeServer } from "../../harness/codeServer";
import type { E2eEnvironment } from "../environment";

/** What a UI spec runs with. */
export interface UiSpecContext {
  page: Page;
  codeServer: CodeServer;
  environment: E2eEnvironment;
  timings: Record<string, number>;
}

/** One named UI spec. */
export interface UiSpec {
  name: string;
  run(ctx: UiSpecContext): Promise<void>;
}

/** Clicks the "Zones" activity-bar entry and waits for the Hosts view. */
export async function openZonesView(page: Page): Promise<void> {
  await page.locator(".activitybar .action-item a[aria-label^='Zones']").click();
  await viewPane(page, "Hosts").waitFor({ state: "visible" });
}

/** Text of the bottom panel; Monaco draws spaces as no-break spaces. */
export async function panelText(page: Page): Promise<string> {
  return (await page.locator(".part.panel").innerText()).replace(/\u00a0/g, " ");
}

export const uiSpecs: UiSpec[] = [
  {
    name: "zones view, failed host with actions, status bar, log channel",
    async run({ page, codeServer, environment, timings }) {
      timings.workbenchReadyMs = await openWorkbench(page, codeServer.folderUrl(environment.workspace));
      const opened = Date.now();
      await openZonesView(page);
      // The configured host's socket does not exist: the host shows the reason and what to do.
      const rows = await eventually("the failed host with its actions", async () => {
        const texts = await treeTexts(page, "Hosts");
        return texts.some((t) => t.startsWith("Retry")) && texts.includes("Show Log") ? texts : undefined;
      });
      timings.viewToHostFailureShownMs = Date.now() - opened;
      assert.ok(rows[0]?.includes(environment.missingSocket ?? "no-daemon.socket"), `host row: ${rows[0]}`);
      assert.ok(!rows.includes("Edit SSH Config"), "a socket host has no ssh config to edit");
      const status = page.locator(".statusbar-item", { hasText: "zones" });
      assert.match(await status.first().innerText(), /0\/1 · 0 zones/);
      await screenshot(page, "zones-view-failed-host");
      await treeItems(page, "Hosts", "Show Log").click();
      await eventually("the Styrolite Zones log", async () => (await panelText(page)).includes("Styrolite Zones") && (await panelText(page)).includes("activated"));
      await screenshot(page, "zones-log");
    },
  },
];
