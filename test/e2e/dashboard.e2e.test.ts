/// <reference lib="dom" />
// The dashboard in real headless Chromium, as a new user sees it on a laptop (1280 px) and a phone
// (390 px), with data and empty: every series in its own colour, whole-number y ticks on their grid
// lines, links and failure reasons that never break inside a word, chart labels at a readable size, bars
// when there are few days, a banner that reads as a sentence, and an HTML 503 page when the database is
// down. Screenshots go to test-artifacts/ (look at them).
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Browser, BrowserContextOptions, Page } from "playwright-core";
import { messageEvent } from "../../scripts/lib/sample-events.js";
import { ARTIFACTS, contrastRatio, launchBrowser } from "../helpers/browser.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { startTestService, type TestService } from "../helpers/service.js";
import { TcpProxy } from "../helpers/tcp-proxy.js";

let db: TestDatabase;
let svc: TestService;
let browser: Browser;
const DAY = Date.parse("2026-11-02T00:00:00Z") / 1000;
const LONG_LINK = "https://shop.example.com/collections/spring-sale/products/extra-long-product-handle?utm_source=customerio&utm_medium=email&utm_campaign=spring_sale_2026_final_version_b&cio_id=abcdefghijklmnopqrstuvwxyz0123456789";
const LONG_REASON = "550 5.7.26 Unauthenticated email from example.com is not accepted due to the domain's DMARC policy; please contact the administrator of example.com if this was legitimate mail";

const LAPTOP: BrowserContextOptions = { viewport: { width: 1280, height: 1000 } };
const PHONE: BrowserContextOptions = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
const WIDTHS = [["1280", LAPTOP], ["390", PHONE]] as const;

before(async () => {
  db = await createTestDatabase();
  svc = await startTestService(db.url, { REPORTER_ENABLED: "false" });
  browser = await launchBrowser();
  // A week of a campaign's email: sends every day, most delivered, some opened and clicked, a few
  // bounces; some clicks on a long tracking link, one bounce with a long DMARC message, and attempts
  // that were retried and then delivered (transient failures).
  let n = 0;
  const send = async (event: Record<string, unknown>) => assert.equal((await svc.webhook(event)).status, 200);
  for (let day = 0; day < 7; day++) {
    for (let k = 0; k < 12 + day * 2; k++) {
      const id = `dash-${day}-${k}`;
      const t = DAY + day * 86400 + k * 60;
      const metrics = ["sent", ...(k % 9 === 0 ? ["bounced"] : ["delivered", ...(k % 2 === 0 ? ["opened"] : []), ...(k % 4 === 0 ? ["clicked"] : []), ...(k % 8 === 0 ? ["converted"] : [])])];
      for (const [i, metric] of metrics.entries()) {
        const event = messageEvent({ objectType: k % 5 === 0 ? "sms" : "email", metric, deliveryId: id, timestamp: t + i * 300, origin: { campaign_id: 12, action_id: 120 }, eventId: `dash-${n++}` });
        if (metric === "clicked") Object.assign(event["data"] as object, { href: k % 3 === 0 ? LONG_LINK : `https://example.com/article/${k % 3}` });
        if (metric === "bounced" && day === 3) Object.assign(event["data"] as object, { failure_message: LONG_REASON });
        await send(event);
      }
    }
    const retried = `dash-retry-${day}`;
    await send(messageEvent({ objectType: "email", metric: "attempted", deliveryId: retried, timestamp: DAY + day * 86400, origin: { campaign_id: 12, action_id: 120 }, extra: { failure_message: "421 4.7.0 Try again later, closing connection" } }));
    await send(messageEvent({ objectType: "email", metric: "sent", deliveryId: retried, timestamp: DAY + day * 86400 + 600, origin: { campaign_id: 12, action_id: 120 } }));
    await send(messageEvent({ objectType: "email", metric: "delivered", deliveryId: retried, timestamp: DAY + day * 86400 + 660, origin: { campaign_id: 12, action_id: 120 } }));
  }
  // Campaign 13 sent on one day only; campaign 14 on 20 days of a 30-day range.
  await db.query(`
    INSERT INTO deliveries (delivery_id, channel, campaign_id, action_id, sent_at, delivered_at, opened_at, human_opened_at, first_event_at, last_event_at, event_count)
    SELECT 'one-' || i, 'email', 13, 130, timestamptz '2026-11-08 10:00Z', timestamptz '2026-11-08 10:01Z', o, o, timestamptz '2026-11-08 10:00Z', timestamptz '2026-11-08 10:01Z', 2
    FROM generate_series(1, 40) i, LATERAL (SELECT CASE WHEN i % 2 = 0 THEN timestamptz '2026-11-08 11:00Z' END AS o) x`);
  await db.query(`
    INSERT INTO deliveries (delivery_id, channel, campaign_id, action_id, sent_at, delivered_at, opened_at, human_opened_at, clicked_at, human_clicked_at, converted_at, first_event_at, last_event_at, event_count)
    SELECT 'many-' || d || '-' || i, 'email', 14, 140, t, t + interval '1 minute', o, o, c, c, CASE WHEN i % 10 = 0 THEN t + interval '3 hours' END, t, t, 2
    FROM generate_series(0, 19) d, generate_series(1, 10 + d) i, LATERAL (SELECT timestamptz '2026-10-15 09:00Z' + d * interval '1 day' AS t) x,
      LATERAL (SELECT CASE WHEN i % 2 = 0 THEN t + interval '1 hour' END AS o, CASE WHEN i % 5 = 0 THEN t + interval '2 hours' END AS c) y`);
});
after(async () => {
  await browser?.close();
  await svc.stop();
  await db.drop();
});

const consoleErrors = new WeakMap<Page, string[]>();
async function open(options: BrowserContextOptions, url: string): Promise<Page> {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  const errors: string[] = [];
  consoleErrors.set(page, errors);
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  const res = await page.goto(url);
  assert.equal(res?.status(), 200, url);
  return page;
}
/** Closes the page's context, after checking nothing (a CSP violation, say) was logged as an error. */
async function close(page: Page): Promise<void> {
  const errors = consoleErrors.get(page) ?? [];
  await page.context().close();
  assert.deepEqual(errors, [], "no CSP violations or errors in the console");
}
const shoot = (page: Page, name: string) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });

/** Line breaks inside a word (a letter or digit on both sides) in the matching cells, and how many cells wrap at all. */
function wordBreaks(page: Page, selector: string): Promise<{ breaks: string[]; wrapped: number; cells: number }> {
  return page.evaluate((sel) => {
    const breaks: string[] = [];
    let wrapped = 0;
    const cells = [...document.querySelectorAll(sel)];
    for (const cell of cells) {
      const chars: Array<{ c: string; top: number }> = [];
      const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode() as Text | null; node; node = walker.nextNode() as Text | null) {
        for (let i = 0; i < node.data.length; i++) {
          const range = document.createRange();
          range.setStart(node, i);
          range.setEnd(node, i + 1);
          const rect = range.getClientRects()[0];
          if (rect && rect.width > 0) chars.push({ c: node.data[i]!, top: Math.round(rect.top) });
        }
      }
      let lines = 1;
      for (let i = 1; i < chars.length; i++) {
        if (chars[i]!.top > chars[i - 1]!.top + 2) {
          lines++;
          const [before, next] = [chars[i - 1]!.c, chars[i]!.c];
          if (/[\p{L}\p{N}]/u.test(before) && /[\p{L}\p{N}]/u.test(next)) breaks.push(`${cell.textContent?.slice(0, 40)}…: "${before}|${next}"`);
        }
      }
      if (lines > 1) wrapped++;
    }
    return { breaks, wrapped, cells: cells.length };
  }, selector);
}

/** The smallest size, in CSS pixels as drawn, of any visible text in main: HTML text, or SVG text times its scale. */
function smallestText(page: Page): Promise<{ px: number; text: string }> {
  return page.evaluate(() => {
    let smallest = { px: Infinity, text: "" };
    const walker = document.createTreeWalker(document.querySelector("main")!, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const el: Element = node.parentElement!;
      if (!node.textContent?.trim() || el.closest(".sr-only, title")) continue;
      const box = el.getBoundingClientRect();
      if (box.width === 0 || box.height === 0) continue;
      let px = parseFloat(getComputedStyle(el).fontSize);
      if (el instanceof SVGGraphicsElement) px *= el.getScreenCTM()?.a ?? 1;
      if (px < smallest.px) smallest = { px, text: node.textContent.trim().slice(0, 30) };
    }
    return smallest;
  });
}

/** The colour of each series where it is drawn: funnel bars, chart marks and legend swatches. */
function seriesColours(page: Page): Promise<{ funnel: string[]; legend: string[]; marks: Record<string, string[]> }> {
  // No named functions inside evaluate(): the test's compiler wraps them in a helper the page lacks.
  return page.evaluate(() => {
    const marks: Record<string, string[]> = {};
    for (const m of document.querySelectorAll(".chart .mark")) {
      const style = getComputedStyle(m);
      const colour = m.tagName === "rect" ? style.fill : style.stroke;
      const key = m.getAttribute("data-series")!;
      marks[key] = [...new Set([...(marks[key] ?? []), colour])];
    }
    return {
      funnel: [...document.querySelectorAll(".funnel .bar")].map((el) => getComputedStyle(el).backgroundColor),
      legend: [...document.querySelectorAll(".legend .swatch")].map((el) => getComputedStyle(el).backgroundColor),
      marks,
    };
  });
}

/** The page's width, sections whose content is wider than they are, and cells whose content is cut off. */
function overflow(page: Page): Promise<{ page: number; sections: string[]; cells: number }> {
  return page.evaluate(() => ({
    page: document.documentElement.scrollWidth,
    sections: [...document.querySelectorAll("section")].filter((s) => s.scrollWidth > s.clientWidth + 1).map((s) => s.querySelector("h2")?.textContent ?? "?"),
    cells: [...document.querySelectorAll("td")].filter((td) => td.scrollWidth > td.clientWidth + 1).length,
  }));
}

/** Each y tick's value, and how far its label's middle is from its grid line, in pixels. */
function yTicks(page: Page): Promise<Array<{ value: string; offset: number }>> {
  return page.evaluate(() => {
    const labels = [...document.querySelectorAll(".ytick")];
    const lines = [...document.querySelectorAll(".chart .gridline")];
    return labels.map((label, i) => {
      const l = label.getBoundingClientRect();
      const g = lines[i]!.getBoundingClientRect();
      return { value: label.textContent ?? "", offset: Math.abs(l.top + l.height / 2 - (g.top + g.height / 2)) };
    });
  });
}

describe("dashboard in a browser", () => {
  for (const [width, options] of WIDTHS) {
    it(`at ${width} px with data: own colours per series, whole-number ticks, no word broken, readable labels`, async () => {
      const page = await open(options, `${svc.adminUrl}/reports?from=2026-11-02&to=2026-11-08&campaign=12`);
      try {
        await page.getByRole("heading", { name: /Deliveries: campaign 12, 2026-11-02 to 2026-11-08/ }).waitFor();
        assert.match((await page.locator("#funnel-title").textContent()) ?? "", /Sent 133, Delivered 1\d\d,/);
        assert.equal(await page.locator(".chart").getAttribute("data-kind"), "bars", "seven days: bars, not lines");

        const colours = await seriesColours(page);
        assert.equal(colours.funnel.length, 5);
        assert.equal(new Set(colours.funnel).size, 5, `every funnel step has its own colour: ${colours.funnel.join(", ")}`);
        assert.deepEqual(colours.legend, colours.funnel, "the legend uses the funnel's colours, in its order");
        for (const [i, key] of ["sent", "delivered", "human_opened", "human_clicked", "converted"].entries()) {
          assert.deepEqual(colours.marks[key], [colours.legend[i]], `${key} is drawn in its legend colour`);
        }
        for (const c of colours.legend) assert.ok(contrastRatio(c, "rgb(255, 255, 255)") >= 3, `${c} stands out from white`);

        const ticks = await yTicks(page);
        assert.ok(ticks.length >= 2);
        const values = ticks.map((t) => Number(t.value.replaceAll(",", "")));
        for (const v of values) assert.ok(Number.isInteger(v), `tick ${v} is a whole number`);
        assert.equal(values[0], 0);
        const step = values[1]! - values[0]!;
        assert.ok(values.every((v, i) => v === i * step), `evenly spaced: ${values.join(", ")}`);
        for (const t of ticks) assert.ok(t.offset <= 1.5, `label ${t.value} sits on its grid line (off by ${t.offset.toFixed(1)} px)`);

        for (const selector of ["td.href", "td.reason"]) {
          const found = await wordBreaks(page, selector);
          assert.ok(found.cells > 0, selector);
          assert.deepEqual(found.breaks, [], `${selector}: no line break inside a word`);
          if (width === "390") assert.ok(found.wrapped > 0, `${selector}: long ones do wrap on a phone`);
        }
        const link = page.locator("td.href span[title]").first();
        assert.equal(await link.getAttribute("title"), LONG_LINK, "the shortened link's full text is on hover");
        assert.match((await page.locator("section").filter({ hasText: "Top failure reasons" }).textContent()) ?? "", /550 5\.1\.1 the email account does not exist/);
        const transient = (await page.locator("section").filter({ hasText: "Transient failures" }).textContent()) ?? "";
        assert.match(transient, /421 4\.7\.0 try again later.*delivered/, "retried attempts are listed apart, with where they stand now");
        assert.doesNotMatch((await page.locator("section").filter({ hasText: "Top failure reasons" }).textContent()) ?? "", /421/, "and not as failures");

        const smallest = await smallestText(page);
        assert.ok(smallest.px >= 12, `every label is at least 12 px; "${smallest.text}" is ${smallest.px.toFixed(1)} px`);
        assert.deepEqual(await overflow(page), { page: Number(width), sections: [], cells: 0 }, "no sideways scrolling, nothing sticking out of its box");
        await shoot(page, `dashboard-${width}-data`);
      } finally {
        await close(page);
      }
    });

    it(`at ${width} px empty: says so, and stays readable`, async () => {
      const page = await open(options, `${svc.adminUrl}/reports?from=2020-01-01&to=2020-01-31`);
      try {
        await page.getByText("No deliveries from 2020-01-01 to 2020-01-31.").waitFor();
        await page.getByText("No clicks in this range.").waitFor();
        await page.getByText("No failures in this range.").waitFor();
        assert.match((await page.locator("#funnel-title").textContent()) ?? "", /Sent 0/);
        const smallest = await smallestText(page);
        assert.ok(smallest.px >= 12, `"${smallest.text}" is ${smallest.px.toFixed(1)} px`);
        assert.deepEqual(await overflow(page), { page: Number(width), sections: [], cells: 0 });
        await shoot(page, `dashboard-${width}-empty`);
      } finally {
        await close(page);
      }
    });
  }

  it("shows one day of data in a 30-day range as bars for that day, not a flat line with a spike", async () => {
    const page = await open(PHONE, `${svc.adminUrl}/reports?from=2026-10-10&to=2026-11-08&campaign=13`);
    try {
      assert.equal(await page.locator(".chart").getAttribute("data-kind"), "bars-days-with-data");
      assert.equal(await page.locator(".chart polyline").count(), 0, "no line");
      const bars = await page.locator(".chart rect.mark").evaluateAll((rects) => rects.map((r) => r.getBoundingClientRect().toJSON() as DOMRect));
      assert.equal(bars.length, 3, "sent, delivered and opened that day");
      for (const b of bars) assert.ok(b.width >= 10 && b.height > 50, `a bar you can see: ${b.width.toFixed(1)} × ${b.height.toFixed(1)} px`);
      const label = page.locator(".xtick");
      assert.deepEqual(await label.allTextContents(), ["Nov 8"], "labelled with its day");
      const box = (await label.boundingBox())!;
      const middle = bars[0]!.left + 2.5 * bars[0]!.width; // the group has a slot for each of the five series
      assert.ok(Math.abs(box.x + box.width / 2 - middle) < 4, "the label sits under the bars");
      await page.getByText("Only the day with deliveries is shown; the other 29 days of the range had none.").waitFor();
      await shoot(page, "dashboard-390-one-day");
    } finally {
      await close(page);
    }
  });

  it("draws many days of data as one line per series, with a point on each day", async () => {
    const page = await open(LAPTOP, `${svc.adminUrl}/reports?from=2026-10-10&to=2026-11-08&campaign=14`);
    try {
      assert.equal(await page.locator(".chart").getAttribute("data-kind"), "lines");
      assert.equal(await page.locator(".chart polyline").count(), 5);
      assert.equal(await page.locator(".chart path.point").count(), 5);
      const colours = await seriesColours(page);
      assert.equal(new Set(Object.values(colours.marks).flat()).size, 5, "lines and points keep their series' colours");
      const smallest = await smallestText(page);
      assert.ok(smallest.px >= 12);
      await shoot(page, "dashboard-1280-lines");
    } finally {
      await close(page);
    }
  });

  it("names a bad parameter in a banner that reads as sentences, and filters through the form", async () => {
    const page = await open(PHONE, `${svc.adminUrl}/reports?from=someday`);
    try {
      const banner = ((await page.getByRole("alert").textContent()) ?? "").trim();
      assert.match(banner, /^from must be a date like 2026-11-01, got "someday"\. Showing the last 30 days instead\.$/);
      await shoot(page, "dashboard-390-bad-parameter");
    } finally {
      await close(page);
    }
    const form = await open(LAPTOP, `${svc.adminUrl}/reports?from=2026-11-02&to=2026-11-08&campaign=12`);
    try {
      await form.locator("select[name=channel]").selectOption("sms");
      await form.getByRole("button", { name: "Show" }).click();
      await form.getByRole("heading", { name: /campaign 12, sms/ }).waitFor();
    } finally {
      await close(form);
    }
  });

  it("stays readable with 10,000 origins", async () => {
    await db.query(`
      INSERT INTO deliveries (delivery_id, channel, newsletter_id, action_id, sent_at, delivered_at, first_event_at, last_event_at, event_count)
      SELECT 'nl-' || i, 'email', i, i * 10, timestamptz '2026-11-05 10:00Z' + i * interval '1 second', timestamptz '2026-11-05 10:01Z' + i * interval '1 second',
             timestamptz '2026-11-05 10:00Z', timestamptz '2026-11-05 10:01Z', 2
      FROM generate_series(1, 10000) i`);
    const started = Date.now();
    const page = await open(LAPTOP, `${svc.adminUrl}/reports?from=2026-11-01&to=2026-11-08`);
    try {
      const originRows = await page.locator("section").filter({ hasText: "Top origins" }).locator("tbody tr").count();
      assert.equal(originRows, 15, "the top origins, not ten thousand rows");
      assert.match((await page.locator("#funnel-title").textContent()) ?? "", /Sent 10,\d{3},/);
      const size = await page.evaluate(() => document.documentElement.outerHTML.length);
      assert.ok(size < 60_000, `page stays small (${size} bytes)`);
      assert.ok(Date.now() - started < 5000);
      await shoot(page, "dashboard-10000-origins");
      // Any of them is one id away.
      await page.locator("input[name=newsletter]").fill("4242");
      await page.getByRole("button", { name: "Show" }).click();
      await page.getByRole("heading", { name: /newsletter 4242/ }).waitFor();
      assert.match((await page.locator("#funnel-title").textContent()) ?? "", /Sent 1,/);
    } finally {
      await close(page);
    }
  });
});

describe("dashboard with the database down", () => {
  it("answers an HTML 503 page that says what is wrong, at both widths", async () => {
    const own = await createTestDatabase();
    const { proxy, url } = await TcpProxy.forUrl(own.url);
    const local = await startTestService(url, { REPORTER_ENABLED: "false", DB_CONNECT_TIMEOUT_MS: "300" });
    try {
      proxy.setMode("refuse");
      for (const [width, options] of WIDTHS) {
        const context = await browser.newContext(options);
        const page = await context.newPage();
        try {
          const res = await page.goto(`${local.adminUrl}/reports`);
          assert.equal(res?.status(), 503);
          await page.getByRole("heading", { name: "The database is not answering" }).waitFor();
          assert.match((await page.locator("main").textContent()) ?? "", /Nothing is lost; try again in a minute/);
          await shoot(page, `dashboard-${width}-503`);
        } finally {
          await context.close();
        }
      }
    } finally {
      proxy.setMode("pass");
      await local.stop();
      await proxy.close();
      await own.drop();
    }
  });
});

describe("dashboard: silent webhooks and the last reconciliation", () => {
  it("shows the banner and the last run, readable at 1280 and 390 px", async () => {
    const own = await createTestDatabase();
    // Reconciliation on (an App API key), never scheduled during the test; the state it left is set below.
    const local = await startTestService(own.url, { REPORTER_ENABLED: "false", CIO_APP_API_KEY: "app-key", CIO_APP_API_URL: "http://127.0.0.1:9/v1", RECONCILE_SCHEDULE: "0 0 0 1 1 *" });
    try {
      await own.query(`UPDATE webhook_heartbeat SET last_received_at = now() - interval '3 hours 5 minutes'`);
      assert.equal((await local.post("/api/v1/metrics", { delivery_id: "dash-relayed", metric: "opened", timestamp: Math.floor(Date.now() / 1000) })).status, 200);
      await own.query(`
        INSERT INTO backfill_runs (kind, status, window_from, window_to, messages_read, deliveries_missing, deliveries_created, metrics_missing, metrics_added, metrics_present, missing_by_metric, newest_message_at, cause, started_at, finished_at)
        VALUES ('reconcile', 'done', now() - interval '49 hours', now() - interval '1 hour', 12480, 312, 312, 1104, 1104, 30211, '{"sent": 312, "delivered": 301, "opened": 420, "clicked": 71}', now() - interval '70 minutes',
          'an outage: no webhooks arrived for messages sent from 2026-12-02 03:00 to 2026-12-02 07:00 UTC, while those before and after arrived (the service was down or refusing them for longer than Customer.io retries, 7 days, or the webhook was off meanwhile)',
          now() - interval '15 minutes', now() - interval '14 minutes')`);
      for (const [width, options] of WIDTHS) {
        const page = await open(options, `${local.adminUrl}/reports`);
        try {
          const banner = ((await page.getByRole("alert").textContent()) ?? "").trim();
          assert.match(banner, /^No reporting webhooks since \d{4}-\d\d-\d\d \d\d:\d\d UTC, while deliveries are still being made \(your app relayed metrics as late as .* UTC; Customer\.io's App API lists messages sent as late as .* UTC\): check the webhook in Customer\.io/);
          const colours = await page.locator(".banner").evaluate((el) => ({ fg: getComputedStyle(el).color, bg: getComputedStyle(el).backgroundColor }));
          assert.ok(contrastRatio(colours.fg, colours.bg) >= 4.5, "the banner's text reads on its background");
          const panel = page.locator("section").filter({ hasText: "Checked against Customer.io" });
          const text = (await panel.textContent()) ?? "";
          assert.match(text, /Last check \d{4}-\d\d-\d\d \d\d:\d\d UTC: messages sent from .* UTC to .* UTC\. Missing here and filled now: opened 420, sent 312, delivered 301, clicked 71\. Likely cause: an outage: no webhooks arrived for messages sent from 2026-12-02 03:00 to 2026-12-02 07:00 UTC/);
          assert.match(text, /12,480messages checked312deliveries missing1,104metrics missing · 3\.53%1,104metrics filled/);
          assert.match(text, /Last reporting webhook: .* UTC \(3 h [45] min ago\)\./);
          assert.equal(await panel.locator("p.gap").count(), 1, "a gap above the threshold stands out");
          for (const selector of [".banner p", ".complete p"]) assert.deepEqual((await wordBreaks(page, selector)).breaks, [], `${selector}: no line break inside a word`);
          const split = await page.locator(".banner .nowrap, .complete .nowrap").evaluateAll((spans) => spans.filter((s) => s.getClientRects().length > 1).map((s) => s.textContent));
          assert.deepEqual(split, [], "no date or time broken across lines");
          const smallest = await smallestText(page);
          assert.ok(smallest.px >= 12, `"${smallest.text}" is ${smallest.px.toFixed(1)} px`);
          assert.deepEqual(await overflow(page), { page: Number(width), sections: [], cells: 0 }, "no sideways scrolling");
          await shoot(page, `dashboard-${width}-silence-and-reconciliation`);
        } finally {
          await close(page);
        }
      }
    } finally {
      await local.stop();
      await own.drop();
    }
  });

  it("says how to turn reconciliation on when it is off, and shows no banner while webhooks arrive", async () => {
    const page = await open(PHONE, `${svc.adminUrl}/reports?from=2026-11-02&to=2026-11-08`);
    try {
      assert.equal(await page.locator(".banner").count(), 0);
      const text = (await page.locator("section").filter({ hasText: "Checked against Customer.io" }).textContent()) ?? "";
      assert.match(text, /Not checked: set CIO_APP_API_KEY \(an App API key\) to compare the last 48 hours with Customer\.io every hour and fill what webhooks missed; npm run backfill fills older history\./);
      assert.match(text, /Last reporting webhook: \d{4}-\d\d-\d\d \d\d:\d\d UTC \(.*\)\./);
      await shoot(page, "dashboard-390-reconciliation-off");
    } finally {
      await close(page);
    }
  });
});
