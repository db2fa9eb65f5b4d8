/**
 * Playwright specs: what a user sees and does in the workbench. Each spec gets a fresh page
 * (a fresh window, so a fresh extension host) and records timings it measures.
 */
import * as assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { eventually, openWorkbench, runCommand, screenshot, treeTexts, viewPane } from "../../harness/browser";
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
    name: "host connected over ssh, status bar, log channel",
    async run({ page, codeServer, environment, timings }) {
      timings.workbenchReadyMs = await openWorkbench(page, codeServer.folderUrl(environment.workspace));
      const opened = Date.now();
      await openZonesView(page);
      const host = await eventually(
        "the host connected",
        async () => {
          const texts = await treeTexts(page, "Hosts");
          return texts.find((t) => t.startsWith(environment.hostId.replace(/^unix:\/\//, "")) && t.includes("dev host"));
        },
        30_000,
      );
      timings.viewOpenToHostConnectedMs = Date.now() - opened;
      assert.match(host, /dev host \d/);
      const status = page.locator(".statusbar-item", { hasText: "zones" }).first();
      assert.match(await status.innerText(), /1\/1 · \d+ zones?/);
      await screenshot(page, "host-connected");
      await runCommand(page, "Zones: Show Log");
      await eventually("the Styrolite Zones log", async () => (await panelText(page)).includes("activated"));
      await screenshot(page, "zones-log");
    },
  },
];
