/// <reference lib="dom" />
// The unsubscribe page in real headless Chromium: open, confirm, see the confirmation, undo; the same
// with the keyboard only; readable contrast; no horizontal scrolling on a phone. A screenshot of each
// page goes to test-artifacts/ (not committed).
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Browser, Page } from "playwright-core";
import { deliveryId, messageEvent } from "../../scripts/lib/sample-events.js";
import { ARTIFACTS, contrastRatio, launchBrowser } from "../helpers/browser.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { startTestService, type TestService } from "../helpers/service.js";

let db: TestDatabase;
let svc: TestService;
let browser: Browser;

before(async () => {
  db = await createTestDatabase();
  svc = await startTestService(db.url, { UNSUBSCRIBE_BRAND_NAME: "Acme News", UNSUBSCRIBE_SUPPORT_URL: "mailto:help@example.com", REPORTER_ENABLED: "false" });
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await svc.stop();
  await db.drop();
});

async function knownDelivery(): Promise<string> {
  const id = deliveryId();
  assert.equal((await svc.webhook(messageEvent({ objectType: "email", metric: "sent", deliveryId: id }))).status, 200);
  return id;
}

const state = async (id: string) => (await db.query<{ unsubscribe: boolean; method: string }>("SELECT unsubscribe, method FROM unsubscribes WHERE delivery_id = $1 ORDER BY id", [id]));

async function checkReadable(page: Page): Promise<void> {
  const button = page.locator("button").first();
  const [fg, bg] = await button.evaluate((el) => [getComputedStyle(el).color, getComputedStyle(el).backgroundColor]);
  assert.ok(contrastRatio(fg, bg) >= 4.5, `button contrast ${contrastRatio(fg, bg).toFixed(2)}`);
  const [text, main] = await page.locator("p").first().evaluate((el) => [getComputedStyle(el).color, getComputedStyle(el.closest("main")!).backgroundColor]);
  assert.ok(contrastRatio(text, main) >= 4.5, `text contrast ${contrastRatio(text, main).toFixed(2)}`);
}

describe("unsubscribe page in a browser", () => {
  it("open, confirm, see the confirmation, undo", async () => {
    const id = await knownDelivery();
    const page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
    try {
      await page.goto(`${svc.url}/unsubscribe/${id}`);
      assert.equal(await page.locator("html").getAttribute("lang"), "en");
      assert.match((await page.locator("h1").textContent()) ?? "", /Unsubscribe from Acme News\?/);
      assert.match((await page.locator("main").textContent()) ?? "", /t\*\*\*@example\.com/);
      await checkReadable(page);
      await page.screenshot({ path: path.join(ARTIFACTS, "unsubscribe-1-confirm.png"), fullPage: true });

      await page.getByRole("button", { name: "Unsubscribe" }).click();
      await page.getByRole("heading", { name: "You're unsubscribed" }).waitFor();
      assert.deepEqual(await state(id), [{ unsubscribe: true, method: "page" }]);
      await checkReadable(page);
      await page.screenshot({ path: path.join(ARTIFACTS, "unsubscribe-2-done.png"), fullPage: true });

      await page.getByRole("button", { name: "Resubscribe" }).click();
      await page.getByRole("heading", { name: "You're subscribed again" }).waitFor();
      assert.deepEqual(await state(id), [{ unsubscribe: true, method: "page" }, { unsubscribe: false, method: "page" }]);
      await page.screenshot({ path: path.join(ARTIFACTS, "unsubscribe-3-resubscribed.png"), fullPage: true });

      // Coming back to the link shows the current state.
      await page.getByRole("button", { name: "Unsubscribe after all" }).click();
      await page.goto(`${svc.url}/unsubscribe/${id}`);
      await page.getByRole("heading", { name: "You're unsubscribed" }).waitFor();
    } finally {
      await page.close();
    }
  });

  it("works with the keyboard alone, with a visible focus", async () => {
    const id = await knownDelivery();
    const page = await browser.newPage();
    try {
      await page.goto(`${svc.url}/unsubscribe/${id}`);
      await page.keyboard.press("Tab");
      assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Unsubscribe");
      const outline = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
      assert.notEqual(outline, "none", "the focused button shows an outline");
      await page.keyboard.press("Enter");
      await page.getByRole("heading", { name: "You're unsubscribed" }).waitFor();
      await page.keyboard.press("Tab");
      assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Resubscribe");
      await page.keyboard.press("Enter");
      await page.getByRole("heading", { name: "You're subscribed again" }).waitFor();
      assert.deepEqual((await state(id)).map((r) => r.unsubscribe), [true, false]);
    } finally {
      await page.close();
    }
  });

  it("fits a phone screen, and shows a helpful page for a broken link", async () => {
    const page = await browser.newPage({ viewport: { width: 360, height: 640 }, isMobile: true });
    try {
      await page.goto(`${svc.url}/unsubscribe/${await knownDelivery()}`);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.equal(overflow, 0, "no horizontal scrolling");
      const buttonHeight = await page.locator("button").evaluate((el) => el.getBoundingClientRect().height);
      assert.ok(buttonHeight >= 44, "a comfortable touch target");
      await page.screenshot({ path: path.join(ARTIFACTS, "unsubscribe-4-mobile.png"), fullPage: true });

      const res = await page.goto(`${svc.url}/unsubscribe/${encodeURIComponent("<script>alert(1)</script>")}`);
      assert.equal(res?.status(), 400);
      await page.getByRole("heading", { name: "This unsubscribe link doesn't look right" }).waitFor();
      await page.screenshot({ path: path.join(ARTIFACTS, "unsubscribe-5-invalid.png"), fullPage: true });
    } finally {
      await page.close();
    }
  });
});
