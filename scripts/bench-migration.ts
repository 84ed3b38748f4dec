// `npm run bench:migration [-- --deliveries 2000000 --days 90]`: how long an existing install takes to
// move to partitioned events. Seeds the synthetic history (scripts/lib/synthetic.ts) into a fresh
// embedded PostgreSQL (durable settings), puts delivery_events back in its shape before partitioning
// (one table keyed by event_id, person-level events with a NULL delivery_id), marks the migrations since
// then as not run, and times `migrate` (the PartitionedEvents migration moves the rows in batches).
import pg from "pg";
import { parseCommandLine, type Tool } from "../src/core/cli.js";
import { migrate } from "../src/core/database.js";
import { startBenchDatabase } from "./lib/bench-db.js";
import { seedSynthetic } from "./lib/synthetic.js";

const TOOL: Tool = {
  name: "npm run bench:migration --",
  usage: `Usage: npm run bench:migration [-- --deliveries 2000000 --days 90]

Seeds synthetic history with events in one table (as before partitioning), then times the migration
that moves them into monthly partitions.

Options:
  --deliveries N   deliveries of history (default 2000000)
  --days N         days of history (90)
  -h, --help       this help
`,
};

const { values } = parseCommandLine(TOOL, { deliveries: { type: "string", default: "2000000" }, days: { type: "string", default: "90" } });
const SINCE_PARTITIONING = ["PartitionedEvents1796289943592", "RetentionErasure1796290534757"];

const db = await startBenchDatabase("migration");
try {
  const url = await db.fresh("bench_migration");
  const size = await seedSynthetic(url, { deliveries: Number(values.deliveries), days: Number(values.days) });
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query("SET statement_timeout = 0");
    await client.query("BEGIN");
    const views = (await client.query<{ viewname: string; definition: string }>("SELECT viewname, definition FROM pg_views WHERE schemaname = 'public' AND definition LIKE '%delivery_events%'")).rows;
    for (const v of views) await client.query(`DROP VIEW ${v.viewname}`);
    await client.query("ALTER TABLE delivery_events RENAME TO delivery_events_new");
    await client.query("ALTER INDEX delivery_events_delivery_id_idx RENAME TO delivery_events_delivery_id_idx_new");
    await client.query("ALTER INDEX delivery_events_person_key_idx RENAME TO delivery_events_person_key_idx_new");
    await client.query("ALTER INDEX delivery_events_clicks_idx RENAME TO delivery_events_clicks_idx_new");
    await client.query("CREATE TABLE delivery_events (LIKE delivery_events_new INCLUDING DEFAULTS)");
    await client.query("ALTER TABLE delivery_events ALTER COLUMN delivery_id DROP NOT NULL, ALTER COLUMN delivery_id DROP DEFAULT");
    await client.query("INSERT INTO delivery_events SELECT event_id, nullif(delivery_id, ''), object_type, metric, occurred_at, received_at, customer_id, identifiers, href, link_id, failure_message, source, payload, machine, person_key FROM delivery_events_new");
    await client.query("DROP TABLE delivery_events_new");
    await client.query(`ALTER TABLE delivery_events ADD CONSTRAINT "PK_6d3bf311fe724a9949b0bb4bd8e" PRIMARY KEY (event_id)`);
    await client.query("CREATE INDEX delivery_events_delivery_id_idx ON delivery_events (delivery_id)");
    await client.query("CREATE INDEX delivery_events_person_key_idx ON delivery_events (person_key) WHERE person_key IS NOT NULL");
    await client.query("CREATE INDEX delivery_events_clicks_idx ON delivery_events (occurred_at, href, delivery_id, source, machine) WHERE metric = 'clicked'");
    for (const v of views) await client.query(`CREATE VIEW ${v.viewname} AS ${v.definition}`);
    await client.query("DROP TABLE erasures, event_retention");
    await client.query("DELETE FROM migrations WHERE name = ANY($1)", [SINCE_PARTITIONING]);
    await client.query("COMMIT");
    await client.query("VACUUM ANALYZE delivery_events");
  } finally {
    await client.end();
  }
  console.log(`bench:migration  ${JSON.stringify(size)}: delivery_events put back in one table`);
  const started = Date.now();
  const applied = await migrate(url);
  console.log(`migrated (${applied.join(", ")}) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
} finally {
  await db.stop();
}
