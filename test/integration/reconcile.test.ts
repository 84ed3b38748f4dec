// Hourly reconciliation against the fake App API, and noticing silent webhooks, in the real service:
// a first run on empty tables fills everything and blames a webhook that is off; deliveries and opens
// removed on purpose are found and filled, blamed on unticked events, and recorded; a third run finds
// nothing; one instance at a time does the work; the cron job runs it; silence is reported (once per
// period, and only while deliveries are still being made), and the reports API and dashboard say so.
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { FakeAppApi, makeMessages } from "../../scripts/lib/fake-app-api.js";
import { messageEvent } from "../../scripts/lib/sample-events.js";
import { createLogger } from "../../src/core/logger.js";
import { replayProjections } from "../../src/events/replay.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { startTestService, type TestService } from "../helpers/service.js";
import { waitFor } from "../helpers/wait.js";

let fake: FakeAppApi;
let db: TestDatabase;
let svc: TestService;
const lines: Array<Record<string, unknown>> = [];
const logged = (level: string, pattern: RegExp) => lines.filter((l) => l["level"] === level && pattern.test(String(l["msg"])));

const NOW = Date.now();
// Messages from 40 to 2 hours ago: inside the default window (48 hours ending an hour ago).
const messages = makeMessages({ from: Math.floor(NOW / 1000) - 40 * 3600, to: Math.floor(NOW / 1000) - 2 * 3600, count: 1200, prefix: "rc" });
const NEVER = "0 0 0 1 1 *"; // the tests run the job themselves
const env = () => ({ REPORTER_ENABLED: "false", CIO_APP_API_KEY: fake.apiKey, CIO_APP_API_URL: fake.url, RECONCILE_SCHEDULE: NEVER, LOG_LEVEL: "info" });
const digest = async () => (await db.query<{ md5: string }>("SELECT md5(string_agg(t::text, '|' ORDER BY delivery_id)) FROM (SELECT delivery_id, channel, status, sent_at, delivered_at, opened_at, human_opened_at, clicked_at, bounced_at, opens_human, clicks_human, recipient FROM deliveries) t"))[0]!.md5;

before(async () => {
  fake = await FakeAppApi.start();
  fake.add(messages);
  db = await createTestDatabase();
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  svc = await startTestService(db.url, env(), createLogger("info", sink));
});
after(async () => {
  await svc.stop();
  await fake.close();
  await db.drop();
});

describe("reconciliation", () => {
  let filled: string;

  it("fills everything on empty tables, records the run, and blames a webhook that is off", async () => {
    const outcome = await svc.service.reconciler!.runOnce();
    assert.equal(outcome.ran, true);
    const [run] = await db.query("SELECT kind, status, messages_read, deliveries_missing, deliveries_created, metrics_missing = metrics_added AS all_filled, cause FROM backfill_runs");
    assert.deepEqual({ ...run, cause: undefined }, { kind: "reconcile", status: "done", messages_read: 1200, deliveries_missing: 1200, deliveries_created: 1200, all_filled: true, cause: undefined });
    assert.match(String(run!["cause"]), /the reporting webhook is most likely off/);
    const [error] = logged("error", /^reconciliation: 1200 deliveries and \d+ metrics \(sent 1200, delivered \d+, opened \d+/);
    assert.ok(error, "an error: far above the threshold");
    assert.match(String(error["msg"]), /Likely cause: no webhook arrived for nearly any of these messages/);
    const window = error["window"] as { from: string; to: string };
    assert.ok(Math.abs(Date.parse(window.to) - (Date.now() - 3_600_000)) < 120_000, `the window ends an hour ago: ${window.to}`);
    assert.equal(Date.parse(window.to) - Date.parse(window.from), 48 * 3_600_000, "and is 48 hours long");
    assert.equal((await db.query<{ n: number }>("SELECT count(*)::int AS n FROM deliveries"))[0]!.n, 1200);
    filled = await digest();
  });

  it("finds deliveries and opens removed on purpose, fills them, blames unticked events, and records the run", async () => {
    const gone = messages.filter((_, i) => i % 40 === 5).map((m) => m.id);
    const goneEvents = (await db.query("DELETE FROM delivery_events WHERE delivery_id = ANY($1) RETURNING 1", [gone])).length;
    const opens = (await db.query("DELETE FROM delivery_events WHERE metric = 'opened' RETURNING 1")).length;
    await replayProjections(db.pool);
    assert.equal((await db.query<{ n: number }>("SELECT count(*)::int AS n FROM deliveries"))[0]!.n, 1200 - gone.length);
    assert.notEqual(await digest(), filled);

    const outcome = await svc.service.reconciler!.runOnce();
    assert.equal(outcome.ran, true);
    const run = outcome.run!;
    assert.equal(run.deliveries_missing, gone.length);
    assert.equal(run.deliveries_created, gone.length);
    assert.equal(run.metrics_missing, run.metrics_added, "everything missing was filled");
    assert.equal(run.metrics_missing, goneEvents + opens, "exactly the metrics whose events were removed");
    assert.ok(run.missing_by_metric["opened"]! > 0 && run.missing_by_metric["sent"] === gone.length, JSON.stringify(run.missing_by_metric));
    assert.match(run.cause!, /^some events are not ticked in the reporting webhook's settings: opened never arrive while .*delivered.*sent do/);
    assert.equal(await digest(), filled, "every row as the first run made it");
    const [error] = logged("error", new RegExp(`^reconciliation: ${gone.length} deliveries and ${run.metrics_missing} metrics`));
    assert.ok(error, "logged as an error, with what was missing");
    assert.match(String(error!["msg"]), /Likely cause: some events are not ticked/);

    const api = (await (await fetch(`${svc.adminUrl}/reports/api/reconciliation`)).json()) as { reconciliation: { enabled: boolean; last_run: Record<string, unknown> } };
    assert.equal(api.reconciliation.enabled, true);
    assert.deepEqual(
      [api.reconciliation.last_run["id"], api.reconciliation.last_run["messages_checked"], api.reconciliation.last_run["deliveries_missing"], api.reconciliation.last_run["metrics_added"], api.reconciliation.last_run["alert"]],
      [run.id, 1200, gone.length, run.metrics_added, true],
    );
    const page = await (await fetch(`${svc.adminUrl}/reports`)).text();
    assert.match(page, /Checked against Customer\.io/);
    assert.match(page, /Likely cause: some events are not ticked/);
  });

  it("finds nothing missing the next time, and says so", async () => {
    const outcome = await svc.service.reconciler!.runOnce();
    assert.deepEqual([outcome.run!.deliveries_missing, outcome.run!.metrics_missing, outcome.run!.cause], [0, 0, null]);
    assert.equal(logged("info", /^reconciliation: nothing missing$/).length, 1);
  });

  it("runs on one instance at a time", async () => {
    const other = await startTestService(db.url, env());
    try {
      const before = (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM backfill_runs"))[0]!.n;
      const both = await Promise.all([svc.service.reconciler!.runOnce(), other.service.reconciler!.runOnce()]);
      assert.deepEqual(both.map((o) => o.ran).sort(), [false, true]);
      assert.equal((await db.query<{ n: number }>("SELECT count(*)::int AS n FROM backfill_runs"))[0]!.n, before + 1);
    } finally {
      await other.stop();
    }
  });

  it("runs on RECONCILE_SCHEDULE", async () => {
    const before = (await db.query<{ id: string }>("SELECT max(id)::text AS id FROM backfill_runs"))[0]!.id;
    const scheduled = await startTestService(db.url, { ...env(), RECONCILE_SCHEDULE: "* * * * * *" });
    try {
      await waitFor("a scheduled run", async () => (await db.query("SELECT 1 FROM backfill_runs WHERE id > $1 AND status = 'done'", [before])).length > 0, 15_000, 50);
    } finally {
      await scheduled.stop();
    }
  });
});

describe("silent webhooks", () => {
  const status = async () => (await (await fetch(`${svc.adminUrl}/reports/api/reconciliation`)).json()) as { webhooks: { silent: boolean; last_received_at: string | null; message: string | null } };

  it("records when a webhook arrived", async () => {
    assert.equal((await svc.webhook(messageEvent({ objectType: "email", metric: "sent", deliveryId: "silence-1" }))).status, 200);
    const at = await waitFor("the heartbeat", async () => (await status()).webhooks.last_received_at);
    assert.ok(Math.abs(Date.parse(at) - Date.now()) < 10_000);
  });

  it("is not reported for a quiet workspace: silence alone is no evidence", async () => {
    await db.query("UPDATE webhook_heartbeat SET last_received_at = now() - interval '3 hours', silence_reported_at = NULL");
    await db.query("UPDATE backfill_runs SET newest_message_at = now() - interval '4 hours'");
    const s = await svc.service.checkSilence();
    assert.equal(s!.silent, false);
    assert.ok(s!.quietMinutes >= 179);
    assert.equal(logged("error", /^No reporting webhooks/).length, 0);
    assert.equal((await status()).webhooks.silent, false);
  });

  it("is reported once per period when metrics are still relayed, and shown on the dashboard", async () => {
    assert.equal((await svc.post("/api/v1/metrics", { delivery_id: "silence-1", metric: "opened", timestamp: Math.floor(Date.now() / 1000) })).status, 200);
    const s = await svc.service.checkSilence();
    assert.equal(s!.silent, true);
    await svc.service.checkSilence();
    const errors = logged("error", /^No reporting webhooks since .* UTC, while deliveries are still being made \(your app relayed metrics as late as .*\): check the webhook in Customer\.io/);
    assert.equal(errors.length, 1, "once per period, however often it is checked");
    assert.equal((await status()).webhooks.silent, true);
    const page = await (await fetch(`${svc.adminUrl}/reports`)).text();
    assert.match(page, /<div class="banner" role="alert"><p><strong>No reporting webhooks since <span class="nowrap">\d{4}-\d\d-\d\d \d\d:\d\d UTC<\/span><\/strong>, while deliveries are still being made/);
  });

  it("counts a message the last reconciliation read after the last webhook as evidence too", async () => {
    await db.query("DELETE FROM outbox");
    await db.query("UPDATE webhook_heartbeat SET silence_reported_at = now() - interval '2 hours'");
    assert.equal((await svc.service.checkSilence())!.silent, false, "no relay, and the last run's newest message is older than the last webhook");
    await db.query("UPDATE backfill_runs SET newest_message_at = now() - interval '1 hour' WHERE id = (SELECT max(id) FROM backfill_runs WHERE kind = 'reconcile' AND status = 'done')");
    assert.equal((await svc.service.checkSilence())!.silent, true);
    assert.match(String(logged("error", /^No reporting webhooks/).at(-1)!["msg"]), /Customer\.io's App API lists messages sent as late as/);
  });

  it("ends with the next webhook", async () => {
    const fresh = await startTestService(db.url, env());
    try {
      assert.equal((await fresh.webhook(messageEvent({ objectType: "email", metric: "delivered", deliveryId: "silence-1" }))).status, 200);
      await waitFor("silence over", async () => !(await fresh.service.checkSilence())!.silent);
    } finally {
      await fresh.stop();
    }
  });
});
