// `npm run replay [-- --dry-run]`: rebuilds deliveries and person_subscriptions from delivery_events
// (after a projection fix) and prints what changed. --dry-run reports without committing.
import { parseArgs } from "node:util";
import pg from "pg";
import { loadDatabaseConfig } from "../src/core/config.js";
import { openDatabase } from "../src/core/database.js";
import { replayProjections } from "../src/webhooks/replay.js";

const { values } = parseArgs({ options: { "dry-run": { type: "boolean", default: false }, "chunk-size": { type: "string", default: "5000" } } });
const database = await openDatabase(loadDatabaseConfig(), { log: (m) => console.error(m), role: "tool" });
const pool = new pg.Pool({ connectionString: database.url, max: 1 });
try {
  const started = Date.now();
  const report = await replayProjections(pool, { dryRun: values["dry-run"], chunkSize: Number(values["chunk-size"]) });
  console.log(`${report.dryRun ? "Dry run (nothing committed)" : "Replayed"}: ${report.events} events in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  for (const [name, t] of [["deliveries", report.deliveries], ["person_subscriptions", report.people]] as const) {
    console.log(`  ${name}: ${t.before} -> ${t.after} rows; ${t.added} added, ${t.removed} removed, ${t.changed} changed`);
    for (const [column, n] of Object.entries(t.columns)) console.log(`    ${column}: ${n} rows changed`);
  }
} finally {
  await pool.end();
  await database.close();
}
