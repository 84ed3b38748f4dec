/// <reference lib="dom" />
// The dashboard in real headless Chromium on seeded data: charts and tables render, filters work,
// it stays readable with no rows and with 10,000 origins. Screenshots go to test-artifacts/.
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Browser } from "playwright-core";
import { messageEvent } from "../../scripts/lib/sample-events.js";
import { ARTIFACTS, launchBrowser } from "../helpers/browser.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { startTestService, type TestService } from "../helpers/service.js";

let db: TestDatabase;
let svc: TestService;
let browser: Browser;
const DAY = Date.parse("2026-11-02T00:00:00Z") / 1000;

before(async () => {
  db = await createTestDatabase();
  svc = await startTestService(db.url, { REPORTER_ENABLED: "false" });
  browser = await launchBrowser();
  // A week of a campaign's email: sends every day, most delivered, some opened and clicked, a few bounces.
  let n = 0;
  for (let day = 0; day < 7; day++) {
    for (let k = 0; k < 12 + day * 2; k++) {
      const id = `dash-${day}-${k}`;
      const t = DAY + day * 86400 + k * 60;
      const metrics = ["sent", ...(k % 9 === 0 ? ["bounced"] : ["delivered", ...(k % 2 === 0 ? ["opened"] : []), ...(k % 4 === 0 ? ["clicked"] : [])])];
      for (const [i, metric] of metrics.entries()) {
        const event = messageEvent({ objectType: k % 5 === 0 ? "sms" : "email", metric, deliveryId: id, timestamp: t + i * 300, origin: { campaign_id: 12, action_id: 120 }, eventId: `dash-${n++}` });
        if (metric === "clicked") Object.assign(event["data"] as object, { href: `https://example.com/article/${k % 3}` });
        assert.equal((await svc.webhook(event)).status, 200);
      }
    }
  }
});
after(async () => {
  await browser?.close();
  await svc.stop();
  await db.drop();
});

describe("dashboard in a browser", () => {
  it("shows the funnel, the daily chart, top links and failure reasons for a campaign and range", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    try {
      const res = await page.goto(`${svc.adminUrl}/reports?from=2026-11-02&to=2026-11-08&campaign=12`);
      assert.equal(res?.status(), 200);
      await page.getByRole("heading", { name: /Deliveries: campaign 12, 2026-11-02 to 2026-11-08/ }).waitFor();
      assert.match((await page.locator("#funnel-title").textContent()) ?? "", /Sent 126/);
      assert.equal(await page.locator("svg polyline").count(), 4, "four daily series");
      assert.ok((await page.locator("section").filter({ hasText: "Top links" }).locator("tbody tr").count()) === 3);
      assert.match((await page.locator("section").filter({ hasText: "Top failure reasons" }).textContent()) ?? "", /550 5\.1\.1 the email account does not exist/);
      const consoleErrors: string[] = [];
      page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
      await page.reload();
      assert.deepEqual(consoleErrors, [], "no CSP violations or errors");
      await page.screenshot({ path: path.join(ARTIFACTS, "dashboard-campaign.png"), fullPage: true });

      // Filtering by channel through the form.
      await page.locator("select[name=channel]").selectOption("sms");
      await page.getByRole("button", { name: "Show" }).click();
      await page.getByRole("heading", { name: /campaign 12, sms/ }).waitFor();
    } finally {
      await page.close();
    }
  });

  it("stays readable with no rows", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      await page.goto(`${svc.adminUrl}/reports?from=2020-01-01&to=2020-01-31`);
      await page.getByText("No deliveries from 2020-01-01 to 2020-01-31.").waitFor();
      await page.getByText("No clicks in this range.").waitFor();
      assert.match((await page.locator("#funnel-title").textContent()) ?? "", /Sent 0/);
      await page.screenshot({ path: path.join(ARTIFACTS, "dashboard-empty.png"), fullPage: true });
      // A bad date does not break the page: it says so and falls back.
      await page.goto(`${svc.adminUrl}/reports?from=someday`);
      await page.getByRole("alert").waitFor();
    } finally {
      await page.close();
    }
  });

  it("stays readable with 10,000 origins", async () => {
    await db.query(`
      INSERT INTO deliveries (delivery_id, channel, newsletter_id, action_id, sent_at, delivered_at, first_event_at, last_event_at, event_count)
      SELECT 'nl-' || i, 'email', i, i * 10, timestamptz '2026-11-05 10:00Z' + i * interval '1 second', timestamptz '2026-11-05 10:01Z' + i * interval '1 second',
             timestamptz '2026-11-05 10:00Z', timestamptz '2026-11-05 10:01Z', 2
      FROM generate_series(1, 10000) i`);
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      const started = Date.now();
      await page.goto(`${svc.adminUrl}/reports?from=2026-11-01&to=2026-11-08`);
      const originRows = await page.locator("section").filter({ hasText: "Top origins" }).locator("tbody tr").count();
      assert.equal(originRows, 15, "the top origins, not ten thousand rows");
      assert.match((await page.locator("#funnel-title").textContent()) ?? "", /Sent 10,126/);
      const size = await page.evaluate(() => document.documentElement.outerHTML.length);
      assert.ok(size < 60_000, `page stays small (${size} bytes)`);
      assert.ok(Date.now() - started < 5000);
      await page.screenshot({ path: path.join(ARTIFACTS, "dashboard-10000-origins.png"), fullPage: true });
      // Any of them is one id away.
      await page.locator("input[name=newsletter]").fill("4242");
      await page.getByRole("button", { name: "Show" }).click();
      await page.getByRole("heading", { name: /newsletter 4242/ }).waitFor();
      assert.match((await page.locator("#funnel-title").textContent()) ?? "", /Sent 1,/);
    } finally {
      await page.close();
    }
  });
});
