// `npm run seed:synthetic [-- --deliveries 2000000 --days 90]`: realistic history for benchmarks, in a
// database of its own (`cio_synthetic` on the embedded PostgreSQL, or SYNTHETIC_DATABASE_URL).
// One random model (fixed seed) generates both the deliveries and their events: channels and origins
// in realistic proportions (up to 10,000 newsletters), milestone rates per channel, human vs machine
// opens and clicks, bounces and failures with realistic SMTP messages, and events received out of
// order. Rows go in with INSERT ... SELECT in chunks; the rollup is maintained by the real triggers.
import pg from "pg";
import { loadDatabaseConfig } from "../src/core/config.js";
import { migrate, openDatabase } from "../src/core/database.js";
import { parseCommandLine, type Tool } from "../src/core/cli.js";

const TOOL: Tool = {
  name: "npm run seed:synthetic --",
  usage: `Usage: npm run seed:synthetic [-- --deliveries 2000000 --days 90 --chunk 100000]

Fills the database cio_synthetic of the embedded PostgreSQL (or SYNTHETIC_DATABASE_URL) with realistic
history for \`npm run bench:reports\`: deliveries and their events over --days days.

Options:
  --deliveries N   deliveries to generate (default 2000000)
  --days N         days of history (90)
  --chunk N        deliveries per transaction (100000)
  -h, --help       this help
`,
};

const { values } = parseCommandLine(TOOL, { deliveries: { type: "string", default: "2000000" }, days: { type: "string", default: "90" }, chunk: { type: "string", default: "100000" } });
const N = Number(values.deliveries);
const DAYS = Number(values.days);
const CHUNK = Number(values.chunk);

export const SYNTHETIC_DB = "cio_synthetic";

const database = await openDatabase(loadDatabaseConfig(), { log: (m) => console.error(m), role: "tool" });
let url = process.env["SYNTHETIC_DATABASE_URL"];
if (!url) {
  if (!database.embedded) throw new Error("With DATABASE_URL set, also set SYNTHETIC_DATABASE_URL to a database the benchmark may fill");
  await database.embedded.ensureDatabase(SYNTHETIC_DB);
  url = database.embedded.url(SYNTHETIC_DB);
}
await migrate(url);
const client = new pg.Client({ connectionString: url });
await client.connect();
const started = Date.now();
try {
  await client.query("SET statement_timeout = 0");
  await client.query("TRUNCATE delivery_events, deliveries, delivery_stats_daily, person_subscriptions, outbox, unsubscribes");
  await client.query(`CREATE TEMP TABLE hrefs AS SELECT i, 'https://example.com/' || (ARRAY['pricing','blog/launch','docs/start','features','signup','account/billing','careers','webinar','app/download','sale'])[1 + i % 10] || '?utm_source=cio&utm_campaign=' || (i / 10) AS href FROM generate_series(0, 59) i`);
  await client.query(`CREATE TEMP TABLE failure_texts AS SELECT * FROM (VALUES
    (0, '550 5.1.1 <user{n}@example.com>: Recipient address rejected: User unknown'),
    (1, '550-5.1.1 The email account that you tried to reach does not exist. https://support.google.com/mail/?p=NoSuchUser a{n}si{n}qkb.12 - gsmtp'),
    (2, '552 5.2.2 Mailbox full: user{n}@example.org'),
    (3, '421 4.7.0 Try again later, closing connection. (EHLO) {n}'),
    (4, '554 5.7.1 Message rejected as spam by Content Filtering. Ref {n}'),
    (5, 'Invalid phone number'),
    (6, 'Device token is no longer registered'),
    (7, 'Timeout connecting to webhook endpoint after 10000 ms')) AS t(i, text)`);

  for (let from = 0; from < N; from += CHUNK) {
    const to = Math.min(N, from + CHUNK) - 1;
    await client.query("BEGIN");
    await client.query("SELECT setseed($1)", [((from / CHUNK) % 1000) / 1000]);
    // One row per delivery with every random draw it needs; deliveries and events are derived from it.
    await client.query(`
      CREATE TEMP TABLE model ON COMMIT DROP AS
      SELECT i, 'syn' || i AS delivery_id, r_origin, r_id,
        random() AS r_action, random() AS r_time,
        random() AS r_deliver, random() AS r_open, random() AS r_human, random() AS r_click, random() AS r_machine_click,
        random() AS r_convert, random() AS r_fail, random() AS r_unsub, random() AS r_spam, floor(random() * 60)::int AS href_i,
        floor(random() * 8)::int AS fail_i, (random() * 300000)::int AS person
      FROM (SELECT i, random() AS r_origin, random() AS r_id FROM generate_series(${from}, ${to}) i) g`);
    // Origins as in Customer.io: campaigns (5 actions each, sending every day), broadcasts and
    // newsletters (sent in a burst on their own day; up to 10,000 newsletters), transactional messages.
    // Each action is one message, so one channel.
    await client.query(`
      CREATE TEMP TABLE drafted ON COMMIT DROP AS
      SELECT m.*, o.origin_type, o.origin_id, o.action_id,
        (ARRAY['email','email','email','email','email','email','email','push','push','sms','in_app','whatsapp','slack','webhook'])[1 + (o.action_id * 7919 % 14)::int] AS channel,
        CASE WHEN o.origin_type IN ('newsletter', 'broadcast')
          THEN date_trunc('day', now()) - interval '1 day' * (o.origin_id * 31 % ${DAYS}) + interval '9 hours' + interval '2 hours' * r_time
          ELSE now() - interval '${DAYS} days' * r_time END AS sent_at
      FROM model m
      CROSS JOIN LATERAL (
        SELECT t.origin_type, t.origin_id,
               t.origin_id * 10 + CASE WHEN t.origin_type = 'campaign' THEN floor(m.r_action * 5)::int ELSE 1 END AS action_id
        FROM (SELECT
          CASE WHEN m.r_origin < 0.6 THEN 'campaign' WHEN m.r_origin < 0.75 THEN 'broadcast' WHEN m.r_origin < 0.9 THEN 'newsletter' ELSE 'transactional' END AS origin_type,
          CASE WHEN m.r_origin < 0.6 THEN 1 + floor(m.r_id * 400) WHEN m.r_origin < 0.75 THEN 1 + floor(m.r_id * 100)
               WHEN m.r_origin < 0.9 THEN 1 + floor(m.r_id * m.r_id * 10000) ELSE 1 + floor(m.r_id * 50) END::bigint AS origin_id) t
      ) o`);
    await client.query(`
      CREATE TEMP TABLE drafted2 ON COMMIT DROP AS
      SELECT d.*,
        (channel IN ('email','sms','whatsapp','push') AND r_fail < 0.03) AS failed_delivery,
        (channel IN ('email','push','sms','whatsapp','slack') AND r_fail >= 0.03 AND r_deliver < 0.97) AS delivered
      FROM drafted d`);
    await client.query(`
      CREATE TEMP TABLE planned ON COMMIT DROP AS
      SELECT d.*,
        d.sent_at + interval '5 seconds' * (1 + random()) AS delivered_at,
        (delivered AND channel IN ('email','push','in_app','whatsapp') AND r_open < 0.45) OR (channel = 'in_app' AND r_open < 0.3) AS opened,
        (r_human < 0.65) AS human_open,
        d.sent_at + interval '1 hour' * (random() * 48) AS opened_at,
        ((delivered OR channel IN ('in_app','slack','webhook')) AND r_click < CASE WHEN channel = 'email' THEN 0.08 ELSE 0.05 END) AS clicked,
        (r_machine_click < 0.1) AS machine_click,
        d.sent_at + interval '1 hour' * (1 + random() * 72) AS clicked_at,
        (delivered AND r_convert < 0.02) AS converted,
        (channel = 'email' AND delivered AND r_unsub < 0.004) AS unsubscribed,
        (channel = 'email' AND delivered AND r_spam < 0.0008) AS spammed
      FROM drafted2 d`);
    await client.query(`
      INSERT INTO deliveries (delivery_id, channel, customer_id, identifiers, recipient, subject, campaign_id, broadcast_id, newsletter_id,
        transactional_message_id, action_id, failure_message, last_failure_at, sent_at, delivered_at, opened_at, human_opened_at,
        clicked_at, human_clicked_at, converted_at, bounced_at, failed_at, unsubscribed_at, spammed_at,
        webhook_opens_human, opens_machine, webhook_clicks_human, clicks_machine, event_count, first_event_at, last_event_at)
      SELECT delivery_id, channel, person::text, jsonb_build_object('id', person::text, 'email', 'person' || person || '@example.com', 'cio_id', 'cio' || person),
        CASE channel WHEN 'email' THEN 'person' || person || '@example.com' WHEN 'sms' THEN '+1555' || lpad(person::text, 7, '0') ELSE NULL END,
        CASE WHEN channel = 'email' THEN 'Issue #' || (i % 50) END,
        CASE WHEN origin_type = 'campaign' THEN origin_id END, CASE WHEN origin_type = 'broadcast' THEN origin_id END,
        CASE WHEN origin_type = 'newsletter' THEN origin_id END, CASE WHEN origin_type = 'transactional' THEN origin_id END, action_id,
        CASE WHEN failed_delivery THEN replace((SELECT text FROM failure_texts f WHERE f.i = fail_i), '{n}', (i::bigint * 7919 % 1000003)::text) END,
        CASE WHEN failed_delivery THEN sent_at + interval '2 seconds' END,
        sent_at, CASE WHEN delivered THEN delivered_at END,
        CASE WHEN opened THEN opened_at END, CASE WHEN opened AND human_open THEN opened_at END,
        CASE WHEN clicked THEN clicked_at END, CASE WHEN clicked AND NOT machine_click THEN clicked_at END,
        CASE WHEN converted THEN clicked_at + interval '10 minutes' END,
        CASE WHEN failed_delivery AND fail_i < 5 THEN sent_at + interval '2 seconds' END,
        CASE WHEN failed_delivery AND fail_i >= 5 THEN sent_at + interval '2 seconds' END,
        CASE WHEN unsubscribed THEN opened_at + interval '1 minute' END, CASE WHEN spammed THEN opened_at + interval '2 minutes' END,
        (opened AND human_open)::int, (opened AND NOT human_open)::int, (clicked AND NOT machine_click)::int, (clicked AND machine_click)::int,
        1 + delivered::int + opened::int + clicked::int + converted::int + failed_delivery::int + unsubscribed::int + spammed::int,
        sent_at, greatest(sent_at, CASE WHEN delivered THEN delivered_at END, CASE WHEN opened THEN opened_at END, CASE WHEN clicked THEN clicked_at END)
      FROM planned`);
    await client.query(`
      INSERT INTO delivery_events (event_id, delivery_id, object_type, metric, occurred_at, received_at, customer_id, identifiers, href, link_id, failure_message, machine, source, payload)
      SELECT 'syn-' || p.i || '-' || ev.metric, p.delivery_id, p.channel, ev.metric, ev.at,
             ev.at + interval '1 second' * random() * 600,                       -- received out of order
             p.person::text, jsonb_build_object('id', p.person::text), ev.href, CASE WHEN ev.href IS NOT NULL THEN (p.href_i % 7)::text END, ev.failure,
             CASE ev.metric WHEN 'opened' THEN NOT p.human_open WHEN 'clicked' THEN p.machine_click END, 'webhook',
             jsonb_build_object('event_id', 'syn-' || p.i || '-' || ev.metric, 'object_type', p.channel, 'metric', ev.metric,
               'timestamp', extract(epoch FROM ev.at)::bigint,
               'data', jsonb_strip_nulls(jsonb_build_object('delivery_id', p.delivery_id, p.origin_type || CASE WHEN p.origin_type = 'transactional' THEN '_message_id' ELSE '_id' END, p.origin_id,
                 'action_id', p.action_id, 'customer_id', p.person::text, 'href', ev.href, 'failure_message', ev.failure,
                 'prefetched', CASE WHEN ev.metric = 'opened' THEN NOT p.human_open END, 'machine', CASE WHEN ev.metric = 'clicked' THEN p.machine_click END)))
      FROM planned p
      CROSS JOIN LATERAL (VALUES
        ('sent', p.sent_at, NULL::text, NULL::text, true),
        ('delivered', p.delivered_at, NULL, NULL, p.delivered),
        ('opened', p.opened_at, NULL, NULL, p.opened),
        ('clicked', p.clicked_at, (SELECT href FROM hrefs h WHERE h.i = p.href_i), NULL, p.clicked),
        ('converted', p.clicked_at + interval '10 minutes', NULL, NULL, p.converted),
        (CASE WHEN p.fail_i < 5 THEN 'bounced' ELSE 'failed' END, p.sent_at + interval '2 seconds', NULL,
          replace((SELECT text FROM failure_texts f WHERE f.i = p.fail_i), '{n}', (p.i::bigint * 7919 % 1000003)::text), p.failed_delivery),
        ('unsubscribed', p.opened_at + interval '1 minute', NULL, NULL, p.unsubscribed),
        ('spammed', p.opened_at + interval '2 minutes', NULL, NULL, p.spammed)
      ) AS ev(metric, at, href, failure, happened)
      WHERE ev.happened`);
    await client.query("COMMIT");
    process.stderr.write(`\r${to + 1} / ${N} deliveries (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  }
  process.stderr.write("\nVACUUM ANALYZE ...\n");
  await client.query("VACUUM ANALYZE");
  const { rows } = await client.query("SELECT (SELECT count(*) FROM deliveries) AS deliveries, (SELECT count(*) FROM delivery_events) AS events, (SELECT count(*) FROM delivery_stats_daily) AS rollup_rows, pg_size_pretty(pg_database_size(current_database())) AS size");
  console.log(`seeded ${JSON.stringify(rows[0])} in ${((Date.now() - started) / 1000).toFixed(0)} s into ${new URL(url).pathname.slice(1)}`);
} finally {
  await client.end();
  await database.close();
}
