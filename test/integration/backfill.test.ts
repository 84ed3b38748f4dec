// `npm run backfill` against the fake App API, as an operator runs it (a real process, a real
// PostgreSQL): 5,000 messages over several pages and two windows fill `deliveries` exactly; a second run
// changes nothing; webhooks for the same deliveries afterwards double no count, and reports count the
// backfilled deliveries; replay rebuilds the same rows from the backfilled events; an interrupted run
// goes on from its checkpoint; 429s are honoured and the limit holds for two processes at once; a wrong
// key is one line; a dry run writes nothing; an erased person comes back without personal data.
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { FakeAppApi, makeMessages, type AppMessage } from "../../scripts/lib/fake-app-api.js";
import { messageEvent } from "../../scripts/lib/sample-events.js";
import { loadConfig } from "../../src/core/config.js";
import { PROJECT_ROOT } from "../../src/core/paths.js";
import { subjectHash } from "../../src/events/erasures.js";
import { replayProjections } from "../../src/events/replay.js";
import * as reportsRepository from "../../src/reports/reports.repository.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { cleanEnv } from "../helpers/process.js";
import { startTestService, TEST_KEY } from "../helpers/service.js";
import { waitFor } from "../helpers/wait.js";

const FROM = "2026-03-01";
const TO = "2026-03-10";
const START = Date.parse(`${FROM}T00:00:00Z`) / 1000;
const END = Date.parse(`${TO}T00:00:00Z`) / 1000 + 86400;

let fake: FakeAppApi;
let db: TestDatabase;
const messages: AppMessage[] = makeMessages({ from: START + 60, to: END - 60, count: 5000, prefix: "bf" });

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}
interface Summary {
  run_id: string | null;
  interrupted: boolean;
  messages_read: number;
  deliveries_missing: number;
  deliveries_created: number;
  metrics_missing: number;
  metrics_added: number;
  already_present: number;
  resumed_from: { messages_read: number } | null;
}

const env = (url: string, extra: Record<string, string> = {}) =>
  cleanEnv({ DATABASE_URL: url, CIO_WEBHOOK_SIGNING_KEYS: TEST_KEY, CIO_APP_API_KEY: fake.apiKey, CIO_APP_API_URL: fake.url, ...extra });

async function backfill(url: string, args: string[], extra: Record<string, string> = {}): Promise<Run> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ["--import", "tsx", "scripts/backfill.ts", ...args], { cwd: PROJECT_ROOT, env: env(url, extra), timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
const summary = (r: Run): Summary => {
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Summary;
};

/** What each message's delivery row must hold, straight from the App API's fields. */
function expectedRow(m: AppMessage) {
  const t = (name: string) => m.metrics[name] ?? null;
  const bounced = t("bounced") !== null;
  return {
    delivery_id: m.id,
    channel: m.type === "twilio" ? "sms" : m.type,
    campaign_id: m["campaign_id"],
    action_id: m["action_id"],
    recipient: m["recipient"],
    customer_id: m["customer_id"],
    email: (m["customer_identifiers"] as { email: string }).email,
    subject: m["subject"] ?? null,
    failure_message: bounced ? m["failure_message"] : null,
    sent: t("sent"),
    delivered: t("delivered"),
    bounced: t("bounced"),
    opened: t("opened"),
    human_opened: t("human_opened"),
    clicked: t("clicked"),
    human_clicked: t("human_clicked"),
    opens_human: t("human_opened") === null ? 0 : 1,
    clicks_human: t("human_clicked") === null ? 0 : 1,
    status: bounced ? "bounced" : t("clicked") !== null ? "clicked" : t("opened") !== null ? "opened" : "delivered",
  };
}
const ROW_SQL = `SELECT delivery_id, channel, campaign_id::int, action_id::int, recipient, customer_id, identifiers ->> 'email' AS email, subject, failure_message,
  extract(epoch FROM sent_at)::int AS sent, extract(epoch FROM delivered_at)::int AS delivered, extract(epoch FROM bounced_at)::int AS bounced,
  extract(epoch FROM opened_at)::int AS opened, extract(epoch FROM human_opened_at)::int AS human_opened,
  extract(epoch FROM clicked_at)::int AS clicked, extract(epoch FROM human_clicked_at)::int AS human_clicked, opens_human, clicks_human, status
  FROM deliveries`;
/** Events a message stands for: its metrics, an opened at the human open's instant and prefetch_opened not apart. */
const eventsOf = (m: AppMessage) => Object.keys(m.metrics).filter((k) => k !== "prefetch_opened" && !(k === "opened" && m.metrics["opened"] === m.metrics["human_opened"]) && !(k === "clicked" && m.metrics["clicked"] === m.metrics["human_clicked"])).length;
const EXPECTED_EVENTS = messages.reduce((n, m) => n + eventsOf(m), 0);
/** The whole deliveries table, every column, as one digest. */
const tableDigest = async (d: TestDatabase) => (await d.query<{ md5: string }>("SELECT md5(string_agg(t::text, '|' ORDER BY delivery_id)) FROM deliveries t"))[0]!.md5;

before(async () => {
  fake = await FakeAppApi.start();
  fake.add(messages);
  db = await createTestDatabase();
});
after(async () => {
  await fake.close();
  await db.drop();
});

describe("npm run backfill", () => {
  it("fills deliveries exactly from 5,000 messages over several pages and four windows read at once", async () => {
    const output = await backfill(db.url, ["--from", FROM, "--to", TO, "--json"]);
    const first = summary(output);
    assert.match(output.stderr, /^backfill: 100% 5,000 messages \([\d,]+\/s\) · [\d,]+ metrics added · 5,000 deliveries created · 0 already present · windows 4\/4 done$/m, "plain progress lines in a log");
    assert.equal(first.messages_read, 5000);
    assert.equal(first.deliveries_created, 5000);
    assert.equal(first.metrics_added, EXPECTED_EVENTS);
    assert.equal(first.already_present, 0);
    assert.equal(first.interrupted, false);

    const rows = await db.query(`${ROW_SQL} ORDER BY delivery_id`);
    const expected = messages.map(expectedRow).sort((a, b) => (a.delivery_id < b.delivery_id ? -1 : 1));
    assert.equal(rows.length, 5000);
    assert.deepEqual(rows, expected);
    const [events] = await db.query<{ n: number; ids: number }>("SELECT count(*)::int AS n, count(*) FILTER (WHERE event_id LIKE 'backfill:%')::int AS ids FROM delivery_events WHERE source = 'backfill'");
    assert.deepEqual(events, { n: EXPECTED_EVENTS, ids: EXPECTED_EVENTS });
    const [run] = await db.query("SELECT status, messages_read, deliveries_created, metrics_added, checkpoint FROM backfill_runs WHERE id = $1", [first.run_id]);
    assert.deepEqual(run, { status: "done", messages_read: 5000, deliveries_created: 5000, metrics_added: EXPECTED_EVENTS, checkpoint: null });

    // What the fake saw: Bearer auth, pages of 1,000 under cursors, windows within 6 months.
    const pages = fake.log.filter((r) => r.path === "/v1/messages");
    assert.equal(pages.length, 8, "two pages in each window of 1,250 messages");
    assert.ok(pages.every((r) => r.status === 200 && r.authorization === `Bearer ${fake.apiKey}` && r.query["limit"] === "1000"));
    assert.equal(pages.filter((r) => r.query["start"]).length, 4, "second pages follow the cursor");
    const windows = [...new Set(pages.map((r) => `${r.query["start_ts"]}-${r.query["end_ts"]}`))].sort();
    assert.deepEqual(windows.map((w) => w.split("-").map(Number)).map(([a, b]) => b! - a!), [216000, 216000, 216000, 216000], "four windows of 2.5 days");
    // Read at once: one reader alone would ask for its window's second page right after the first. The
    // exact order of the four first pages depends on the shared rate limit's slots (a late start gives
    // its slot up and takes another), so only the reading together is asserted, not an order.
    const firstSecondPage = pages.findIndex((r) => r.query["start"]);
    const startedBefore = new Set(pages.slice(0, firstSecondPage).map((r) => r.query["start_ts"]));
    assert.ok(startedBefore.size >= 2, `windows read at once: ${startedBefore.size} window(s) had started before the first second page`);
  });

  it("changes nothing the second time", async () => {
    const before = await tableDigest(db);
    const [{ n: eventsBefore }] = (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM delivery_events")) as [{ n: number }];
    const second = summary(await backfill(db.url, ["--from", FROM, "--to", TO, "--json"]));
    assert.deepEqual([second.messages_read, second.deliveries_created, second.metrics_added, second.already_present], [5000, 0, 0, EXPECTED_EVENTS]);
    assert.equal(await tableDigest(db), before, "every column of every row as it was, updated_at included");
    assert.equal((await db.query<{ n: number }>("SELECT count(*)::int AS n FROM delivery_events"))[0]!.n, eventsBefore);
  });

  it("replay rebuilds the same rows from the backfilled events", async () => {
    const report = await replayProjections(db.pool, { dryRun: true });
    assert.equal(report.events, EXPECTED_EVENTS);
    assert.deepEqual([report.deliveries.added, report.deliveries.removed, report.deliveries.changed], [0, 0, 0], JSON.stringify(report.deliveries.columns));
  });

  it("counts a webhook that comes later for a backfilled metric once, and reports count backfilled deliveries", async () => {
    const svc = await startTestService(db.url, { REPORTER_ENABLED: "false" });
    try {
      const funnel = async () => (await (await fetch(`${svc.adminUrl}/reports/api/funnel?from=${FROM}&to=${TO}`)).json()) as { rows: Array<Record<string, number>> };
      const counts = (await funnel()).rows[0]!;
      const has = (name: string) => messages.filter((m) => m.metrics[name] !== undefined).length;
      assert.deepEqual(
        [counts["deliveries"], counts["sent"], counts["delivered"], counts["bounced"], counts["opened"], counts["human_opened"], counts["human_clicked"]],
        [5000, 5000, has("delivered"), has("bounced"), has("opened"), has("human_opened"), has("human_clicked")],
      );
      // The rollup agrees with the funnel computed straight from the events.
      const [fromEvents] = await reportsRepository.funnelFromEvents(db.pool, { from: FROM, to: TO });
      for (const k of ["deliveries", "sent", "delivered", "bounced", "opened", "human_opened", "clicked", "human_clicked"]) assert.equal(fromEvents![k], counts[k], k);
      // Webhooks for deliveries that were backfilled: the same metrics at the same times (their webhooks
      // arriving late), plus a second, later open for one of them.
      const opened = messages.filter((m) => m.metrics["human_clicked"] !== undefined).slice(0, 20);
      const before = new Map((await db.query<{ delivery_id: string; event_count: number }>("SELECT delivery_id, event_count FROM deliveries WHERE delivery_id = ANY($1)", [opened.map((m) => m.id)])).map((r) => [r.delivery_id, r.event_count]));
      for (const m of opened) {
        for (const metric of ["sent", "delivered", "opened", "clicked"]) {
          const event = messageEvent({ objectType: "email", metric, deliveryId: m.id, timestamp: m.metrics[metric === "opened" ? "human_opened" : metric === "clicked" ? "human_clicked" : metric]!, origin: { campaign_id: m["campaign_id"], action_id: m["action_id"] } });
          assert.equal((await svc.webhook(event)).status, 200);
        }
      }
      const again = messages.find((m) => m.id === opened[0]!.id)!;
      assert.equal((await svc.webhook(messageEvent({ objectType: "email", metric: "opened", deliveryId: again.id, timestamp: again.metrics["human_opened"]! + 3600 }))).status, 200);
      const rows = await db.query<{ delivery_id: string; opens_human: number; clicks_human: number; opens_machine: number; event_count: number; human_opened: number }>(
        "SELECT delivery_id, opens_human, clicks_human, opens_machine, event_count, extract(epoch FROM human_opened_at)::int AS human_opened FROM deliveries WHERE delivery_id = ANY($1)",
        [opened.map((m) => m.id)],
      );
      for (const r of rows) {
        const m = opened.find((x) => x.id === r.delivery_id)!;
        const second = r.delivery_id === again.id;
        assert.equal(r.opens_human, second ? 2 : 1, `${r.delivery_id}: the backfilled open and its webhook are one open${second ? "; a later open is a second" : ""}`);
        assert.equal(r.clicks_human, 1, `${r.delivery_id}: one click`);
        assert.equal(r.opens_machine, 0);
        assert.equal(r.human_opened, m.metrics["human_opened"], "the first time stays");
        assert.equal(r.event_count, before.get(r.delivery_id)! + (second ? 5 : 4), "every event is kept");
      }
      assert.deepEqual((await funnel()).rows[0], counts, "the funnel is unchanged: webhooks for backfilled metrics add no delivery and no metric");
    } finally {
      await svc.stop();
    }
  });

  it("reads and compares only with --dry-run", async () => {
    const own = await createTestDatabase();
    try {
      const dry = summary(await backfill(own.url, ["--from", FROM, "--to", "2026-03-02", "--json", "--dry-run"]));
      const inRange = messages.filter((m) => m.created < START + 2 * 86400).length;
      assert.deepEqual([dry.run_id, dry.messages_read, dry.deliveries_missing, dry.metrics_added], [null, inRange, inRange, 0]);
      assert.ok(dry.metrics_missing > inRange);
      assert.deepEqual(await own.query("SELECT (SELECT count(*)::int FROM deliveries) AS d, (SELECT count(*)::int FROM delivery_events) AS e, (SELECT count(*)::int FROM backfill_runs) AS r"), [{ d: 0, e: 0, r: 0 }]);
      const text = await backfill(own.url, ["--from", FROM, "--to", "2026-03-02", "--dry-run"]);
      assert.match(text.stdout, /^Dry run \(nothing written\): messages created 2026-03-01 to 2026-03-02/);
      assert.match(text.stdout, new RegExp(`deliveries to create +${inRange.toLocaleString("en-US")}`));
    } finally {
      await own.drop();
    }
  });

  it("goes on from its checkpoint after being killed, reading only what was not committed", async () => {
    const own = await createTestDatabase();
    fake.latencyMs = 250;
    try {
      const child = spawn(process.execPath, ["--import", "tsx", "scripts/backfill.ts", "--from", FROM, "--to", TO, "--json"], { cwd: PROJECT_ROOT, env: env(own.url), stdio: "ignore" });
      const exited = new Promise((resolve) => child.on("exit", resolve));
      await waitFor("a page committed", async () => (await own.query<{ n: number }>("SELECT coalesce(max(messages_read), 0)::int AS n FROM backfill_runs"))[0]!.n >= 1000, 60_000, 20);
      child.kill("SIGKILL");
      await exited;
      const [cut] = await own.query<{ status: string; messages_read: number; checkpoint: { cursors: Record<string, string>; done: number[] } }>("SELECT status, messages_read, checkpoint FROM backfill_runs");
      assert.equal(cut!.status, "running");
      assert.ok(cut!.messages_read < 5000, `killed part of the way (${cut!.messages_read} read)`);
      const [{ n: committedEvents }] = (await own.query<{ n: number }>("SELECT count(*)::int AS n FROM delivery_events")) as [{ n: number }];
      const saved = Object.values(cut!.checkpoint.cursors);
      const seen = fake.log.length;

      fake.latencyMs = 0;
      const resumed = summary(await backfill(own.url, ["--from", FROM, "--to", TO, "--json"]));
      assert.equal(resumed.run_id !== null, true);
      assert.equal(resumed.resumed_from!.messages_read, cut!.messages_read);
      assert.equal(resumed.messages_read + cut!.messages_read, 5000, "each message read once in all: the checkpoint holds exactly what was committed");
      const starts = fake.log.slice(seen).filter((r) => r.path === "/v1/messages").map((r) => r.query["start"]);
      for (const cursor of saved) assert.ok(starts.includes(cursor), "windows in progress go on from their saved cursor");
      const rows = await own.query(`${ROW_SQL} ORDER BY delivery_id`);
      assert.deepEqual(rows, messages.map(expectedRow).sort((a, b) => (a.delivery_id < b.delivery_id ? -1 : 1)));
      const [{ n: events }] = (await own.query<{ n: number }>("SELECT count(*)::int AS n FROM delivery_events")) as [{ n: number }];
      assert.equal(events, EXPECTED_EVENTS);
      assert.equal(resumed.metrics_added, EXPECTED_EVENTS - committedEvents);
      assert.deepEqual(await own.query("SELECT status, messages_read FROM backfill_runs"), [{ status: "done", messages_read: 5000 }]);
    } finally {
      fake.latencyMs = 0;
      await own.drop();
    }
  });

  it("stops after the page being written on Ctrl-C, exits 130, and the same command goes on", async () => {
    const own = await createTestDatabase();
    fake.latencyMs = 250;
    try {
      const child = spawn(process.execPath, ["--import", "tsx", "scripts/backfill.ts", "--from", FROM, "--to", TO, "--json"], { cwd: PROJECT_ROOT, env: env(own.url), stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      child.stdout!.on("data", (c: Buffer) => (stdout += c.toString()));
      const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
      await waitFor("a page committed", async () => (await own.query<{ n: number }>("SELECT coalesce(max(messages_read), 0)::int AS n FROM backfill_runs"))[0]!.n >= 1000, 60_000, 20);
      child.kill("SIGINT");
      assert.equal(await exited, 130);
      const out = JSON.parse(stdout) as Summary;
      assert.equal(out.interrupted, true);
      const [run] = await own.query<{ status: string; messages_read: number }>("SELECT status, messages_read FROM backfill_runs");
      assert.equal(run!.status, "running", "kept to go on with");
      assert.equal(run!.messages_read, out.messages_read, "what it says it read is what was committed");
      fake.latencyMs = 0;
      const rest = summary(await backfill(own.url, ["--from", FROM, "--to", TO, "--json"]));
      assert.equal(rest.messages_read + out.messages_read, 5000);
    } finally {
      fake.latencyMs = 0;
      await own.drop();
    }
  });

  it("stores an erased person's messages without their personal data", async () => {
    const own = await createTestDatabase();
    try {
      const person = messages[0]!;
      const email = (person["customer_identifiers"] as { email: string }).email;
      // The erasure secret is derived from the signing key, in the service and in the command alike.
      const secret = loadConfig({ CIO_WEBHOOK_SIGNING_KEYS: TEST_KEY, DATABASE_URL: own.url }).erasureSecret;
      await own.query("INSERT INTO erasures (subject_hash, identifier_kind, changes) VALUES ($1, 'email', '{}')", [subjectHash(secret, "email", email)]);
      summary(await backfill(own.url, ["--from", FROM, "--to", "2026-03-01", "--json"]));
      const mine = await own.query("SELECT recipient, identifiers, customer_id, sent_at IS NOT NULL AS sent FROM deliveries WHERE email IS NULL AND recipient IS NULL");
      assert.ok(mine.length > 0 && mine.every((r) => r["sent"] === true && r["identifiers"] === null && r["customer_id"] === null), "their deliveries are counted, without who they were");
      assert.deepEqual(await own.query("SELECT 1 FROM delivery_events WHERE payload::text LIKE $1", [`%${email}%`]), [], "no payload names them");
    } finally {
      await own.drop();
    }
  });
});

describe("the App API's limits", () => {
  let many: FakeAppApi;
  const manyMessages = makeMessages({ from: START, to: END - 1, count: 30_000, prefix: "many" });
  before(async () => {
    many = await FakeAppApi.start();
    many.add(manyMessages);
  });
  after(async () => {
    await many.close();
  });

  it("honours a 429's Retry-After, and Customer.io's own limit when ours is set too high", async () => {
    const own = await createTestDatabase();
    try {
      fake.fail({ status: 429, retryAfter: 2 }, 1);
      const seen = fake.log.length;
      summary(await backfill(own.url, ["--from", FROM, "--to", "2026-03-01", "--json"]));
      const log = fake.log.slice(seen);
      assert.equal(log[0]!.status, 429);
      assert.ok(log[1]!.at - log[0]!.at >= 1900, `the next request waited for Retry-After (${log[1]!.at - log[0]!.at} ms)`);

      // Ours at 10/s against a workspace limited to 2/s (a bucket of 2): the four windows' first pages
      // alone overflow it, however slowly a loaded machine writes pages; each 429 pauses every reader.
      const again = await createTestDatabase();
      many.rateLimit = 2;
      try {
        const start = many.log.length;
        const fast = summary(await backfill(again.url, ["--from", FROM, "--to", "2026-03-05", "--json"], { CIO_APP_API_URL: many.url }));
        const inRange = manyMessages.filter((m) => m.created < START + 5 * 86400).length;
        assert.equal(fast.deliveries_created, inRange, "everything in, 429s or not");
        assert.ok(many.log.slice(start).some((r) => r.status === 429), "the fake did refuse some requests");
      } finally {
        many.rateLimit = 10;
        await again.drop();
      }
    } finally {
      await own.drop();
    }
  });

  it("holds 10 requests/s for two processes backfilling at once", async () => {
    const own = await createTestDatabase();
    try {
      const start = many.log.length;
      const both = await Promise.all([
        backfill(own.url, ["--from", FROM, "--to", "2026-03-05", "--json"], { CIO_APP_API_URL: many.url }),
        backfill(own.url, ["--from", "2026-03-06", "--to", TO, "--json"], { CIO_APP_API_URL: many.url }),
      ]);
      const read = both.map(summary).reduce((n, s) => n + s.messages_read, 0);
      assert.equal(read, 30_000);
      const log = many.log.slice(start).filter((r) => r.path === "/v1/messages");
      assert.deepEqual(log.filter((r) => r.status !== 200).map((r) => r.status), [], "no 429: the two share one limit");
      let busiest = 0;
      for (let i = 0, j = 0; i < log.length; i++) {
        while (log[i]!.at - log[j]!.at >= 1000) j++;
        busiest = Math.max(busiest, i - j + 1);
      }
      assert.ok(busiest <= 11, `at most one over the limit in any second (slots are reserved in PostgreSQL), got ${busiest}`);
      assert.ok(log.length >= 30, `${log.length} requests`);
      const span = (log[log.length - 1]!.at - log[0]!.at) / 1000;
      assert.ok((log.length - 1) / span <= 10.5, `${((log.length - 1) / span).toFixed(1)} requests/s overall`);
    } finally {
      await own.drop();
    }
  });
});

describe("mistakes", () => {
  it("a wrong App API key is one line, exit 1, the run kept as failed, the key never printed", async () => {
    const own = await createTestDatabase();
    try {
      const r = await backfill(own.url, ["--from", FROM, "--to", FROM], { CIO_APP_API_KEY: "wrong-key-123" });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /npm run backfill: .*HTTP 401/);
      assert.doesNotMatch(r.stderr + r.stdout, /wrong-key-123/);
      assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
      assert.deepEqual(await own.query("SELECT status FROM backfill_runs"), [{ status: "failed" }]);
    } finally {
      await own.drop();
    }
  });

  it("without CIO_APP_API_KEY it says where to get one; bad dates and types are usage errors", async () => {
    const none = await backfill(db.url, ["--from", FROM, "--to", TO], { CIO_APP_API_KEY: "" });
    assert.equal(none.code, 1);
    assert.match(none.stderr, /CIO_APP_API_KEY is not set: create an App API key in Customer\.io/);
    for (const [args, message] of [
      [["--from", "2026-02-30", "--to", TO], /--from must be a date like 2026-01-31, not "2026-02-30"/],
      [["--from", TO, "--to", FROM], /--to \(2026-03-01\) is before --from \(2026-03-10\)/],
      [["--to", TO], /--from is required/],
      [["--from", FROM, "--to", TO, "--type", "fax"], /--type must be one of email, push, twilio/],
    ] as const) {
      const r = await backfill(db.url, [...args]);
      assert.equal(r.code, 64, args.join(" "));
      assert.match(r.stderr, message);
    }
  });
});
