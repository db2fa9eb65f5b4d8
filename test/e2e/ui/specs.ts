/**
 * Playwright specs: what a user sees and does in the workbench. Each spec gets a fresh page
 * (a fresh window, so a fresh extension host) and records timings it measures.
 */
import type { Page } from "playwright-core";
import { eventually, openWorkbench, runCommand, screenshot, viewPane } from "../../harness/browser";
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
    name: "zones view and log channel",
    async run({ page, codeServer, environment, timings }) {
      timings.workbenchReadyMs = await openWorkbench(page, codeServer.folderUrl(environment.workspace));
      await openZonesView(page);
      await screenshot(page, "zones-view");
      await runCommand(page, "Zones: Show Log");
      await eventually("the Styrolite Zones output channel", async () => {
        return (await panelText(page)).includes("Styrolite Zones activated");
      });
      await screenshot(page, "zones-log");
    },
  },
];
