// `npm run bench:retention [-- --deliveries 9000000 --seconds 10 --connections 1,50]`: a year of history
// (about 20 million events over 12 months with the default 9,000,000 deliveries) in a fresh embedded
// PostgreSQL (durable settings), then, in the same run:
//   1. webhook ingest (the real service, bench:ingest's traffic) into the partitioned table, and into
//      the same rows in one unpartitioned table with the same key and indexes: throughput ratio;
//   2. removing the oldest month: retention (DETACH PARTITION CONCURRENTLY + DROP TABLE) against a
//      DELETE of the same rows from the unpartitioned table;
//   3. every dashboard report over the last 30 days, on the partitioned history: p50 and p95.
// It needs about 2 × 18 GB of disk and half an hour on 2 cores, most of it seeding.
import os from "node:os";
import pg from "pg";
import { parseCommandLine, type Tool } from "../src/core/cli.js";
import { listPartitions } from "../src/events/partitions.js";
import * as reports from "../src/reports/reports.repository.js";
import { mb, startBenchDatabase } from "./lib/bench-db.js";
import { queryOnce, runMatrix } from "./lib/bench-http.js";
import { seedSynthetic } from "./lib/synthetic.js";
import { webhookLoad } from "./lib/webhook-load.js";

const TOOL: Tool = {
  name: "npm run bench:retention --",
  usage: `Usage: npm run bench:retention [-- options]

A year of synthetic history in a fresh embedded PostgreSQL, then: webhook ingest into partitioned and
unpartitioned events, retention against DELETE for the oldest month, and the dashboard's reports.

Options:
  --deliveries N         deliveries of history (default 9000000: about 20 million events)
  --seconds N            load per ingest run (10)      --warmup N   seconds before measuring (2)
  --connections A,B,...  concurrencies (1,50)          --runs N     runs per report (10)
  -h, --help             this help
`,
};

const { values } = parseCommandLine(TOOL, {
  deliveries: { type: "string", default: "9000000" },
  seconds: { type: "string", default: "10" },
  warmup: { type: "string", default: "2" },
  connections: { type: "string", default: "1,50" },
  runs: { type: "string", default: "10" },
});
const KEY = "bench-signing-key";
const seconds = (from: number) => ((Date.now() - from) / 1000).toFixed(1);

const db = await startBenchDatabase("retention");
const admin = new pg.Client({ connectionString: db.embedded.url("postgres") });
try {
  console.log(`bench:retention  ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, ${mb(os.totalmem())}, node ${process.version}`);
  const partitioned = await db.fresh("bench_partitioned");
  let t = Date.now();
  const size = await seedSynthetic(partitioned, { deliveries: Number(values.deliveries), days: 365 });
  console.log(`seeded ${JSON.stringify(size)} in ${seconds(t)} s`);

  // The same rows in one unpartitioned table: a copy of the database, with delivery_events rebuilt flat.
  t = Date.now();
  await admin.connect();
  await admin.query("CHECKPOINT");
  await admin.query("CREATE DATABASE bench_flat TEMPLATE bench_partitioned STRATEGY FILE_COPY");
  const flat = db.embedded.url("bench_flat");
  const flatClient = new pg.Client({ connectionString: flat });
  await flatClient.connect();
  try {
    await flatClient.query("SET statement_timeout = 0");
    await flatClient.query("BEGIN");
    const views = (await flatClient.query<{ viewname: string; definition: string }>("SELECT viewname, definition FROM pg_views WHERE schemaname = 'public' AND definition LIKE '%delivery_events%'")).rows;
    for (const v of views) await flatClient.query(`DROP VIEW ${v.viewname}`);
    await flatClient.query("ALTER TABLE delivery_events RENAME TO delivery_events_partitioned");
    await flatClient.query("CREATE TABLE delivery_events (LIKE delivery_events_partitioned INCLUDING DEFAULTS)");
    await flatClient.query("INSERT INTO delivery_events SELECT * FROM delivery_events_partitioned");
    await flatClient.query("DROP TABLE delivery_events_partitioned");
    await flatClient.query("ALTER TABLE delivery_events ADD PRIMARY KEY (event_id, delivery_id, occurred_at)");
    await flatClient.query("CREATE INDEX ON delivery_events (delivery_id)");
    await flatClient.query("CREATE INDEX ON delivery_events (person_key) WHERE person_key IS NOT NULL");
    await flatClient.query("CREATE INDEX ON delivery_events (occurred_at, href, delivery_id, source, machine) WHERE metric = 'clicked'");
    for (const v of views) await flatClient.query(`CREATE VIEW ${v.viewname} AS ${v.definition}`);
    await flatClient.query("COMMIT");
    await flatClient.query("VACUUM ANALYZE delivery_events");
  } finally {
    await flatClient.end();
  }
  console.log(`unpartitioned copy built in ${seconds(t)} s`);

  // 1. Ingest, both ways, in the same run.
  const { nextRequest, eventIdOf } = webhookLoad(KEY);
  const ingest = async (name: string, url: string) => {
    const rows = await runMatrix({
      db: { ...db, fresh: async () => url },
      name,
      variants: ["ours"],
      connections: values.connections.split(",").map(Number),
      seconds: Number(values.seconds),
      warmupSeconds: Number(values.warmup),
      env: { CIO_WEBHOOK_SIGNING_KEYS: KEY, MAINTENANCE_SCHEDULE: "0 0 0 1 1 *" },
      next: nextRequest,
      keyOf: eventIdOf,
      verify: async (u, acknowledged) => {
        const { found } = await queryOnce<{ found: number }>(u, "SELECT count(*)::int AS found FROM delivery_events WHERE event_id = ANY($1)", [acknowledged]);
        return found === acknowledged.length ? `${found}/${found} ✓` : `MISSING: ${found} of ${acknowledged.length}`;
      },
    });
    return rows;
  };
  const flatRows = await ingest("unpartitioned", flat);
  const partRows = await ingest("partitioned", partitioned);

  // 2. The oldest full month, both ways.
  const pool = new pg.Pool({ connectionString: partitioned, max: 2 });
  // The oldest full month (the first one holds only the last days of its month).
  const oldest = (await listPartitions(pool))[1];
  if (!oldest) throw new Error("no full monthly partition");
  const dropClient = new pg.Client({ connectionString: partitioned });
  await dropClient.connect();
  const [{ n: monthRows }] = (await dropClient.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${oldest.name}`)).rows as [{ n: number }];
  t = Date.now();
  await dropClient.query(`ALTER TABLE delivery_events DETACH PARTITION ${oldest.name} CONCURRENTLY`);
  await dropClient.query(`DROP TABLE ${oldest.name}`);
  const dropMs = Date.now() - t;
  await dropClient.end();
  const deleteClient = new pg.Client({ connectionString: flat });
  await deleteClient.connect();
  await deleteClient.query("SET statement_timeout = 0");
  t = Date.now();
  const deleted = await deleteClient.query("DELETE FROM delivery_events WHERE occurred_at >= $1 AND occurred_at < $2", [oldest.from, oldest.to]);
  const deleteMs = Date.now() - t;
  await deleteClient.end();

  // 3. The dashboard's reports over the last 30 days of the partitioned history.
  const to = new Date().toISOString().slice(0, 10);
  const from = new Date(Date.now() - 29 * 86400_000).toISOString().slice(0, 10);
  const base: reports.Filters = { from, to };
  const page = { limit: 10, offset: 0 };
  const timings: Array<[string, number, number]> = [];
  for (const [name, run] of [
    ["funnel", () => reports.funnel(pool, base)],
    ["daily series", () => reports.funnel(pool, base, ["day"])],
    ["top origins", () => reports.topOrigins(pool, base, 15)],
    ["top links", () => reports.links(pool, base, page)],
    ["top failure reasons", () => reports.failures(pool, base, page)],
  ] as Array<[string, () => Promise<unknown>]>) {
    await run();
    const samples: number[] = [];
    for (let i = 0; i < Number(values.runs); i++) {
      const s = performance.now();
      await run();
      samples.push(performance.now() - s);
    }
    samples.sort((a, b) => a - b);
    timings.push([name, samples[Math.floor(samples.length / 2)]!, samples[Math.min(samples.length - 1, Math.floor(samples.length * 0.95))]!]);
  }
  await pool.end();

  console.log(`\n### Ingest into a year of events (${size["events"]} events)\n`);
  console.log("| connections | unpartitioned req/s | partitioned req/s | ÷ unpartitioned | partitioned p99 ms |");
  console.log("|---|---|---|---|---|");
  for (const p of partRows) {
    const f = flatRows.find((r) => r.connections === p.connections)!;
    console.log(`| ${p.connections} | ${f.rps.toFixed(0)} | ${p.rps.toFixed(0)} | ${(p.rps / f.rps).toFixed(2)} | ${p.p99} |`);
  }
  console.log(`\n### Removing the oldest month (${oldest.name}, ${monthRows} events)\n`);
  console.log("| how | ms | rows |");
  console.log("|---|---|---|");
  console.log(`| retention: DETACH PARTITION CONCURRENTLY + DROP TABLE | ${dropMs} | ${monthRows} |`);
  console.log(`| DELETE from the unpartitioned table | ${deleteMs} | ${deleted.rowCount} |`);
  console.log(`\nDELETE ÷ retention: ${(deleteMs / Math.max(dropMs, 1)).toFixed(0)}×`);
  console.log(`\n### Dashboard reports, last 30 days (${from}..${to}), ${values.runs} runs\n`);
  console.log("| report | p50 ms | p95 ms |");
  console.log("|---|---|---|");
  for (const [name, p50, p95] of timings) console.log(`| ${name} | ${p50.toFixed(1)} | ${p95.toFixed(1)} |`);
} finally {
  await admin.end().catch(() => undefined);
  await db.stop();
}

